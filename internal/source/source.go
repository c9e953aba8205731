// Package source lists and opens CloudTrail log objects wherever they live: a local folder or an S3 bucket.
package source

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/trailwatch/trailwatch/internal/cloudtrail"
)

// Object is one file or S3 object.
type Object struct {
	URI     string         // file path or s3://bucket/key: the identity the store records
	Key     string         // slash-separated path the CloudTrail layout is parsed from
	Size    int64          // bytes
	Version string         // changes when the content changes: S3 ETag, or size and mtime for files
	Layout  cloudtrail.Key // what the key says
}

// Source lists and opens objects.
type Source interface {
	// List calls fn for every object that may hold CloudTrail events and passes f, digests excluded.
	List(ctx context.Context, f Filter, fn func(Object) error) error
	// Open returns the object's content.
	Open(ctx context.Context, o Object) (io.ReadCloser, error)
	// String names the source, e.g. "s3://bucket/prefix".
	String() string
}

// Filter narrows a listing. Zero values mean no restriction. Since and Until are days (inclusive) in UTC,
// compared with the delivery day in the key; objects outside the AWSLogs layout pass the day, account and
// region filters, since their keys do not say.
type Filter struct {
	Since, Until time.Time
	Accounts     []string
	Regions      []string
}

// Match reports whether an object with layout k passes the filter.
func (f Filter) Match(k cloudtrail.Key) bool {
	if !k.InLayout {
		return true
	}
	if len(f.Accounts) > 0 && !slices.Contains(f.Accounts, k.Account) {
		return false
	}
	if len(f.Regions) > 0 && !slices.Contains(f.Regions, k.Region) {
		return false
	}
	return f.MatchDay(k.Date())
}

// MatchDay reports whether day lies within Since..Until.
func (f Filter) MatchDay(day time.Time) bool {
	if !f.Since.IsZero() && day.Before(truncDay(f.Since)) {
		return false
	}
	if !f.Until.IsZero() && day.After(truncDay(f.Until)) {
		return false
	}
	return true
}

func truncDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// Options configure sources that need them.
type Options struct {
	// Endpoint overrides the S3 endpoint, for S3-compatible stores (path-style addressing is then used).
	Endpoint string
	// Region overrides the AWS region from the environment.
	Region string
}

// New returns the source a location names: s3://bucket/prefix, or a local folder or file.
func New(ctx context.Context, location string, opts Options) (Source, error) {
	if strings.HasPrefix(location, "s3://") {
		return NewS3(ctx, location, opts)
	}
	if strings.Contains(location, "://") {
		return nil, fmt.Errorf("source %q: unsupported scheme (use a folder or s3://bucket/prefix)", location)
	}
	return NewLocal(location)
}

// wanted reports whether a key names a file that may hold events.
func wanted(key string, layout cloudtrail.Key) bool {
	if layout.Kind == cloudtrail.KindDigest || layout.Kind == cloudtrail.KindOther {
		return false
	}
	base := key[strings.LastIndexByte(key, '/')+1:]
	if base == "scenarios.json" || strings.HasPrefix(base, ".") {
		return false // trailwatch generate's ground truth, hidden files
	}
	for _, ext := range []string{".json.gz", ".json", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".gz"} {
		if strings.HasSuffix(base, ext) {
			return true
		}
	}
	return false
}
