package evidence

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3Root is an evidence folder in S3: one prefix per bundle below Prefix, as in a local evidence folder.
// Bundles are written once; with Lock set every object is kept under S3 Object Lock until its retention
// date, so not even the account's administrators can change or delete the evidence before then.
type S3Root struct {
	Client *s3.Client
	Bucket string
	Prefix string // ends with "/" or is empty
	Lock   *ObjectLock
}

// ObjectLock is the retention each uploaded object gets.
type ObjectLock struct {
	Mode string // GOVERNANCE or COMPLIANCE
	Days int
}

// metaFiles are the files of a bundle that the chain and the review need: Fetch copies only these.
var metaFiles = []string{ManifestFile, SignatureFile, AckFile}

func (r *S3Root) key(parts ...string) string { return r.Prefix + path.Join(parts...) }

// Labels lists the bundles below the prefix.
func (r *S3Root) Labels(ctx context.Context) ([]string, error) {
	var labels []string
	p := s3.NewListObjectsV2Paginator(r.Client, &s3.ListObjectsV2Input{Bucket: &r.Bucket, Prefix: aws.String(r.Prefix), Delimiter: aws.String("/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("evidence s3://%s/%s: list: %w", r.Bucket, r.Prefix, err)
		}
		for _, cp := range page.CommonPrefixes {
			label := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), r.Prefix), "/")
			if label != "" && !strings.HasPrefix(label, ".") {
				labels = append(labels, label)
			}
		}
	}
	sort.Strings(labels)
	return labels, nil
}

// Sealed reports whether the bundle label already has a manifest in S3.
func (r *S3Root) Sealed(ctx context.Context, label string) (bool, error) {
	_, err := r.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &r.Bucket, Key: aws.String(r.key(label, ManifestFile))})
	var nf *types.NotFound
	var nk *types.NoSuchKey
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &nf), errors.As(err, &nk):
		return false, nil
	}
	return false, fmt.Errorf("evidence s3://%s/%s: %w", r.Bucket, r.key(label, ManifestFile), err)
}

// Fetch copies the manifest, signature and acks of every bundle into dir/<label>/, a local mirror of the
// chain from which Previous and Unreviewed work as on a local evidence folder.
func (r *S3Root) Fetch(ctx context.Context, dir string) error {
	labels, err := r.Labels(ctx)
	if err != nil {
		return err
	}
	for _, label := range labels {
		for _, name := range metaFiles {
			key := r.key(label, name)
			out, err := r.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: &r.Bucket, Key: &key})
			var nk *types.NoSuchKey
			if errors.As(err, &nk) {
				continue
			}
			if err != nil {
				return fmt.Errorf("evidence s3://%s/%s: %w", r.Bucket, key, err)
			}
			data, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil {
				return fmt.Errorf("evidence s3://%s/%s: %w", r.Bucket, key, err)
			}
			if err := os.MkdirAll(filepath.Join(dir, label), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, label, name), data, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// Upload writes the sealed bundle in dir as s3://bucket/prefix/label/…, every file under the object lock
// when one is set, and manifest.json and its signature last: a bundle cut short by a crash has no
// manifest and is not taken for a sealed one.
func (r *S3Root) Upload(ctx context.Context, label, dir string, now time.Time) error {
	var files, last []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == ManifestFile || rel == SignatureFile {
			last = append(last, rel)
		} else {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("evidence upload %s: %w", dir, err)
	}
	sort.Strings(files)
	sort.Sort(sort.Reverse(sort.StringSlice(last))) // manifest.sig, then manifest.json
	for _, rel := range append(files, last...) {
		if err := r.put(ctx, r.key(label, rel), filepath.Join(dir, filepath.FromSlash(rel)), now); err != nil {
			return err
		}
	}
	return nil
}

func (r *S3Root) put(ctx context.Context, key, file string, now time.Time) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("evidence upload: %w", err)
	}
	defer f.Close()
	in := &s3.PutObjectInput{Bucket: &r.Bucket, Key: &key, Body: f, ChecksumAlgorithm: types.ChecksumAlgorithmSha256}
	if strings.HasSuffix(key, ".html") {
		in.ContentType = aws.String("text/html; charset=utf-8")
	}
	if r.Lock != nil {
		in.ObjectLockMode = types.ObjectLockMode(r.Lock.Mode)
		in.ObjectLockRetainUntilDate = aws.Time(now.AddDate(0, 0, r.Lock.Days).UTC())
	}
	if _, err := r.Client.PutObject(ctx, in); err != nil {
		return fmt.Errorf("evidence upload s3://%s/%s: %w", r.Bucket, key, err)
	}
	return nil
}
