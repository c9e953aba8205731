package source

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/trailwatch/trailwatch/internal/cloudtrail"
)

// Oldest is the oldest day of CloudTrail logs a source holds for an account and region.
type Oldest struct {
	Account, Region string
	Day             time.Time
}

// Historian is a source that can tell how far back its logs go, from the folder layout alone.
type Historian interface {
	OldestDays(ctx context.Context) ([]Oldest, error)
}

var (
	_ Historian = (*S3)(nil)
	_ Historian = (*Local)(nil)
)

// OldestDays finds, for each account and region folder of the CloudTrail layout, its oldest YYYY/MM/DD
// folder: three "/"-delimited listings per region (years, then months, then days), whatever the bucket holds.
func (s *S3) OldestDays(ctx context.Context) ([]Oldest, error) {
	prefix := s.prefix
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	nodes := []node{{prefix: prefix, pos: parseFolder(prefix)}}
	if nodes[0].pos.level == levelAbove {
		found, _, err := s.findAWSLogs(ctx, prefix, Filter{}, func(Object) error { return nil })
		if err != nil {
			return nil, err
		}
		nodes = found
	}
	var regions []node
	for len(nodes) > 0 {
		var next []node
		for _, n := range nodes {
			switch {
			case n.pos.level == levelRegion && n.pos.service == serviceLogs:
				regions = append(regions, n)
			case n.pos.level < levelRegion && n.pos.level >= levelAWSLogs:
				children, _, err := s.subfolders(ctx, n, Filter{})
				if err != nil {
					return nil, err
				}
				next = append(next, children...)
			}
		}
		nodes = next
	}
	var out []Oldest
	for _, r := range regions {
		day, ok, err := oldestDay(r.prefix, func(p string, width int) (string, error) { return s.firstNumbered(ctx, p, width) })
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, Oldest{Account: r.pos.account, Region: r.pos.region, Day: day})
		}
	}
	return merge(out), nil
}

// oldestDay goes down from a region folder (ending in "/") into the first year, month and day folders
// first names, and returns that day; ok is false when one of them has none.
func oldestDay(region string, first func(dir string, width int) (string, error)) (day time.Time, ok bool, err error) {
	dir := region
	var parts [3]int
	for i, width := range []int{4, 2, 2} {
		name, err := first(dir, width)
		if err != nil || name == "" {
			return time.Time{}, false, err
		}
		parts[i], _ = strconv.Atoi(name)
		dir += name + "/"
	}
	return time.Date(parts[0], time.Month(parts[1]), parts[2], 0, 0, 0, 0, time.UTC), true, nil
}

// firstNumbered returns the smallest subfolder of p named with width digits ("" when none).
func (s *S3) firstNumbered(ctx context.Context, p string, width int) (string, error) {
	var names []string
	err := s.list(ctx, p, "/", func(page *s3.ListObjectsV2Output) error {
		for _, cp := range page.CommonPrefixes {
			name := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), p), "/")
			if cloudtrail.IsDigits(name, width) {
				names = append(names, name)
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("source %s: oldest logs: %w", s.location, err)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "", nil
	}
	return names[0], nil
}

// OldestDays finds, for each account and region folder below the folder, its oldest YYYY/MM/DD folder.
func (l *Local) OldestDays(ctx context.Context) ([]Oldest, error) {
	var out []Oldest
	err := filepath.WalkDir(l.root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		pos := parseFolder(filepath.ToSlash(p))
		if pos.level == levelOutside || pos.service == serviceDigest {
			return filepath.SkipDir
		}
		if pos.level != levelRegion || pos.service != serviceLogs {
			return nil
		}
		day, ok, _ := oldestDay(p+"/", func(dir string, width int) (string, error) { return firstDir(dir, width), nil })
		if ok {
			out = append(out, Oldest{Account: pos.account, Region: pos.region, Day: day})
		}
		return filepath.SkipDir
	})
	if err != nil {
		return nil, fmt.Errorf("source %s: oldest logs: %w", l.root, err)
	}
	return merge(out), nil
}

func firstDir(dir string, width int) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	for _, e := range entries { // ReadDir sorts by name
		if e.IsDir() && cloudtrail.IsDigits(e.Name(), width) {
			return e.Name()
		}
	}
	return ""
}

// merge keeps the oldest day per account and region (a region may appear under several prefixes), sorted.
func merge(in []Oldest) []Oldest {
	best := map[[2]string]time.Time{}
	for _, o := range in {
		k := [2]string{o.Account, o.Region}
		if d, ok := best[k]; !ok || o.Day.Before(d) {
			best[k] = o.Day
		}
	}
	out := make([]Oldest, 0, len(best))
	for k, d := range best {
		out = append(out, Oldest{Account: k[0], Region: k[1], Day: d})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Account != out[j].Account {
			return out[i].Account < out[j].Account
		}
		return out[i].Region < out[j].Region
	})
	return out
}
