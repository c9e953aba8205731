package source

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/trailwatch/trailwatch/internal/cloudtrail"
)

// listConcurrency bounds the ListObjectsV2 calls one List runs at a time.
const listConcurrency = 8

// defaultRegion is used when neither Options.Region nor the AWS configuration names a region.
const defaultRegion = "us-east-1"

// S3 lists and reads objects under s3://bucket/prefix, in AWS S3 or an S3-compatible store.
//
// List narrows by key prefix rather than listing the bucket: it finds the AWSLogs/ folders below the
// location, discovers organisations, accounts, services and regions with "/"-delimited listings (skipping
// those the filter excludes, and CloudTrail-Digest folders without listing them), and then lists only the
// YYYY/, YYYY/MM/ or YYYY/MM/DD/ folders that cover Filter.Since..Until under CloudTrail/<region>/ and
// CloudTrail-Insight/<region>/. Without Since it lists each region folder whole. A location inside the
// layout (an account, region or month folder) starts the discovery there. Objects outside the layout are
// listed recursively and pass the account, region and day filters, as Filter says.
type S3 struct {
	client   *s3.Client
	bucket   string
	prefix   string // the key prefix after the bucket, as given
	location string
	now      func() time.Time
}

var _ Source = (*S3)(nil)

// NewS3 returns a source for s3://bucket/prefix. Credentials and region come from the standard AWS chain
// (environment, shared config and credentials files, SSO, web identity, container and instance roles);
// opts.Region overrides the region and opts.Endpoint the S3 endpoint, for S3-compatible stores, with
// path-style addressing. The prefix names a folder; a prefix that ends in a log file name (such as
// .json.gz) names that one object.
func NewS3(ctx context.Context, location string, opts Options) (Source, error) {
	s, err := newS3(ctx, location, opts)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// newS3 is NewS3 with extra client options, which tests use to watch the requests.
func newS3(ctx context.Context, location string, opts Options, optFns ...func(*s3.Options)) (*S3, error) {
	bucket, prefix, err := ParseS3Location(location)
	if err != nil {
		return nil, err
	}
	client, err := NewS3Client(ctx, opts, optFns...)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", location, err)
	}
	return &S3{
		client:   client,
		bucket:   bucket,
		prefix:   prefix,
		location: location,
		now:      time.Now,
	}, nil
}

// NewS3Client returns an S3 client with the standard AWS configuration chain, opts.Region and, for
// S3-compatible stores, opts.Endpoint with path-style addressing.
func NewS3Client(ctx context.Context, opts Options, optFns ...func(*s3.Options)) (*s3.Client, error) {
	var load []func(*config.LoadOptions) error
	if opts.Region != "" {
		load = append(load, config.WithRegion(opts.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = defaultRegion
	}
	if opts.Endpoint != "" {
		endpoint := opts.Endpoint
		if !strings.Contains(endpoint, "://") {
			endpoint = "https://" + endpoint
		}
		optFns = append([]func(*s3.Options){func(o *s3.Options) {
			o.BaseEndpoint = aws.String(endpoint)
			o.UsePathStyle = true
		}}, optFns...)
	}
	return s3.NewFromConfig(cfg, optFns...), nil
}

// ParseS3Location splits s3://bucket/prefix.
func ParseS3Location(location string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(location, "s3://")
	if !ok {
		return "", "", fmt.Errorf("source %q: not an s3:// location", location)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("source %q: no bucket (use s3://bucket/prefix)", location)
	}
	return bucket, strings.TrimLeft(prefix, "/"), nil
}

// String returns the location the source was made from.
func (s *S3) String() string { return s.location }

// Open returns the object's content. The caller closes it.
func (s *S3) Open(ctx context.Context, o Object) (io.ReadCloser, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(o.Key)})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", s.uri(o.Key), err)
	}
	return out.Body, nil
}

// listing is one recursive listing List runs: everything under prefix, or with exact set the one object
// named prefix (and anything below prefix + "/"). With obj set it is an object the discovery already found
// (prefix is then its key), passed on in its place in key order.
type listing struct {
	prefix string
	exact  bool
	obj    *Object
}

// node is a folder List still has to look into.
type node struct {
	prefix string // key prefix ending in "/"
	pos    folder
}

// List calls fn for each object under the location that may hold events and passes f, in key order within
// each listed prefix (objects outside the AWSLogs layout come first). fn is never called concurrently.
func (s *S3) List(ctx context.Context, f Filter, fn func(Object) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	prefix := s.prefix
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		if wanted(prefix, cloudtrail.ParseKey(prefix)) {
			return s.run(ctx, []listing{{prefix: prefix, exact: true}}, f, fn)
		}
		prefix += "/"
	}
	start := node{prefix: prefix, pos: parseFolder(prefix)}
	var nodes []node
	var listings []listing
	switch start.pos.level {
	case levelAbove:
		var err error
		if nodes, listings, err = s.findAWSLogs(ctx, prefix, f, fn); err != nil {
			return err
		}
	case levelOutside:
		listings = []listing{{prefix: prefix}}
	default:
		nodes = []node{start}
	}
	more, err := s.discover(ctx, nodes, f)
	if err != nil {
		return err
	}
	return s.run(ctx, append(listings, more...), f, fn)
}

// findAWSLogs walks the folders under prefix with "/" as the delimiter, looking for AWSLogs/ folders.
// Files met on the way (outside the layout) go to fn; AWSLogs/ folders come back as nodes for discovery;
// below maxWalkDepth folders without an AWSLogs/ are listed whole (recursively), as an export bucket is.
// (A single listing with "AWSLogs/" as the delimiter would do it in one request on AWS S3, but S3-compatible
// stores such as MinIO answer multi-character delimiters by walking the whole bucket.)
func (s *S3) findAWSLogs(ctx context.Context, prefix string, f Filter, fn func(Object) error) ([]node, []listing, error) {
	const maxWalkDepth = 4
	var nodes []node
	var listings []listing
	var walk func(p string, depth int) error
	walk = func(p string, depth int) error {
		var subs []string
		err := s.list(ctx, p, "/", func(page *s3.ListObjectsV2Output) error {
			for _, o := range page.Contents {
				if obj, ok := s.object(o, f); ok {
					if err := fn(obj); err != nil {
						return err
					}
				}
			}
			for _, cp := range page.CommonPrefixes {
				subs = append(subs, aws.ToString(cp.Prefix))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, sp := range subs {
			switch {
			case sp == "AWSLogs/" || strings.HasSuffix(sp, "/AWSLogs/"):
				nodes = append(nodes, node{prefix: sp, pos: parseFolder(sp)})
			case depth >= maxWalkDepth:
				listings = append(listings, listing{prefix: sp})
			default:
				if err := walk(sp, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	err := walk(prefix, 0)
	return nodes, listings, err
}

func (s *S3) discover(ctx context.Context, nodes []node, f Filter) ([]listing, error) {
	var out []listing
	for len(nodes) > 0 {
		children := make([][]node, len(nodes))
		found := make([][]listing, len(nodes))
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(listConcurrency)
		for i, n := range nodes {
			if !n.pos.mayMatch(f) {
				continue
			}
			switch n.pos.level {
			case levelRegion, levelYear, levelMonth, levelDay:
				found[i] = s.dateListings(n, f)
				continue
			case levelOutside, levelAbove:
				found[i] = []listing{{prefix: n.prefix}}
				continue
			}
			g.Go(func() error {
				var err error
				children[i], found[i], err = s.subfolders(gctx, n, f)
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		nodes = nodes[:0:0]
		for i := range children {
			nodes = append(nodes, children[i]...)
			out = append(out, found[i]...)
		}
	}
	return out, nil
}

// subfolders lists the layout folders directly below n: organisations and accounts under AWSLogs/,
// accounts under an organisation, CloudTrail and CloudTrail-Insight under an account, regions under those.
// Folders off the layout (such as other services' logs) are ignored; so are digest folders, which are
// never listed. Objects lying directly in n are returned as listings of their own if they pass f.
func (s *S3) subfolders(ctx context.Context, n node, f Filter) ([]node, []listing, error) {
	var out []node
	var objs []listing
	err := s.list(ctx, n.prefix, "/", func(page *s3.ListObjectsV2Output) error {
		for _, o := range page.Contents {
			if obj, ok := s.object(o, f); ok {
				objs = append(objs, listing{prefix: obj.Key, obj: &obj})
			}
		}
		for _, cp := range page.CommonPrefixes {
			p := aws.ToString(cp.Prefix)
			pos := parseFolder(p)
			if pos.level == levelOutside || pos.level <= n.pos.level || pos.service == serviceDigest {
				continue
			}
			out = append(out, node{prefix: p, pos: pos})
		}
		return nil
	})
	return out, objs, err
}

// dateListings returns the listings for a region folder, or a year, month or day folder inside one: the
// folders covering Since..Until (Until defaults to today), or the whole folder without Since.
func (s *S3) dateListings(n node, f Filter) []listing {
	if f.Since.IsZero() {
		return []listing{{prefix: n.prefix}}
	}
	from := truncDay(f.Since)
	to := truncDay(s.now())
	if !f.Until.IsZero() {
		to = truncDay(f.Until)
	}
	if !n.pos.from.IsZero() {
		if from.Before(n.pos.from) {
			from = n.pos.from
		}
		if to.After(n.pos.to) {
			to = n.pos.to
		}
	}
	var out []listing
	for _, d := range dateFolders(from, to) {
		p := n.pos.regionPrefix + d
		if strings.HasPrefix(n.prefix, p) {
			return []listing{{prefix: n.prefix}} // the node lies inside p: list just the node
		}
		out = append(out, listing{prefix: p})
	}
	return out
}

// run performs the listings, listConcurrency at a time, and hands the objects to fn one at a time in the
// order of the listings (sorted by prefix, so in key order), each listing's objects in key order.
func (s *S3) run(ctx context.Context, listings []listing, f Filter, fn func(Object) error) error {
	slices.SortFunc(listings, func(a, b listing) int { return strings.Compare(a.prefix, b.prefix) })
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type stream struct {
		pages chan []Object
		err   error // set before pages is closed
	}
	streams := make([]*stream, len(listings))
	for i := range streams {
		streams[i] = &stream{pages: make(chan []Object, 1)}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	// Listings start in order, so the one fn is waiting on always holds a slot: later ones block at most
	// on their own full channel, never the earlier one.
	wg.Go(func() {
		slots := make(chan struct{}, listConcurrency)
		for i, l := range listings {
			if l.obj != nil {
				streams[i].pages <- []Object{*l.obj} // buffered: never blocks
				close(streams[i].pages)
				continue
			}
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				for _, st := range streams[i:] {
					st.err = ctx.Err()
					close(st.pages)
				}
				return
			}
			st := streams[i]
			wg.Go(func() {
				defer func() { <-slots }()
				defer close(st.pages)
				st.err = s.list(ctx, l.prefix, "", func(page *s3.ListObjectsV2Output) error {
					objs := make([]Object, 0, len(page.Contents))
					for _, o := range page.Contents {
						key := aws.ToString(o.Key)
						if l.exact && key != l.prefix && !strings.HasPrefix(key, l.prefix+"/") {
							continue
						}
						if obj, ok := s.object(o, f); ok {
							objs = append(objs, obj)
						}
					}
					if len(objs) == 0 {
						return nil
					}
					select {
					case st.pages <- objs:
						return nil
					case <-ctx.Done():
						return ctx.Err()
					}
				})
			})
		}
	})
	for _, st := range streams {
		for page := range st.pages {
			for _, o := range page {
				if err := fn(o); err != nil {
					cancel()
					return err
				}
			}
		}
		if st.err != nil {
			cancel()
			return st.err
		}
	}
	return nil
}

// list pages through ListObjectsV2 under prefix, with delimiter unless it is empty.
func (s *S3) list(ctx context.Context, prefix, delimiter string, page func(*s3.ListObjectsV2Output) error) error {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket)}
	if prefix != "" {
		in.Prefix = aws.String(prefix)
	}
	if delimiter != "" {
		in.Delimiter = aws.String(delimiter)
	}
	p := s3.NewListObjectsV2Paginator(s.client, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %s: %w", s.uri(prefix), err)
		}
		if err := page(out); err != nil {
			return err
		}
	}
	return nil
}

// object turns a listed object into an Object, and reports whether it may hold events and passes f.
func (s *S3) object(o types.Object, f Filter) (Object, bool) {
	key := aws.ToString(o.Key)
	layout := cloudtrail.ParseKey(key)
	if !wanted(key, layout) || !f.Match(layout) {
		return Object{}, false
	}
	return Object{
		URI:     s.uri(key),
		Key:     key,
		Size:    aws.ToInt64(o.Size),
		Version: strings.Trim(aws.ToString(o.ETag), `"`),
		Layout:  layout,
	}, true
}

func (s *S3) uri(key string) string { return "s3://" + s.bucket + "/" + key }
