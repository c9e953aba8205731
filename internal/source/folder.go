package source

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trailwatch/trailwatch/internal/cloudtrail"
)

// Folder names CloudTrail delivers to under an account folder.
const (
	serviceLogs    = "CloudTrail"
	serviceInsight = "CloudTrail-Insight"
	serviceDigest  = "CloudTrail-Digest"
)

// level says how far a folder reaches into the CloudTrail layout
// [prefix/]AWSLogs/[o-org/]<account>/CloudTrail/<region>/YYYY/MM/DD/.
type level int

const (
	levelOutside level = iota // under AWSLogs/ but off the layout (another service, a malformed name)
	levelAbove                // no AWSLogs folder yet: the layout may lie below
	levelAWSLogs              // …/AWSLogs
	levelOrg                  // …/AWSLogs/o-org
	levelAccount              // …/<account>
	levelService              // …/<account>/CloudTrail (or -Insight, -Digest)
	levelRegion               // …/CloudTrail/<region>
	levelYear                 // …/<region>/YYYY
	levelMonth                // …/<region>/YYYY/MM
	levelDay                  // …/<region>/YYYY/MM/DD, and any folder below it
)

// folder is what a slash-separated folder path says about the objects below it. It reads the path the
// way cloudtrail.ParseKey reads a key (from the last AWSLogs segment on), so the two agree.
type folder struct {
	level                         level
	org, account, service, region string
	regionPrefix                  string    // the path up to and including the region, with a trailing slash
	from, to                      time.Time // the days a year, month or day folder covers; zero above them
}

// parseFolder reads a folder path such as "logs/AWSLogs/o-abc/111122223333/CloudTrail/us-east-1/2024".
func parseFolder(dir string) folder {
	dir = strings.Trim(dir, "/")
	if dir == "" {
		return folder{level: levelAbove}
	}
	segs := strings.Split(dir, "/")
	idx := -1
	for i, s := range segs {
		if s == "AWSLogs" {
			idx = i
		}
	}
	if idx < 0 {
		return folder{level: levelAbove}
	}
	d := folder{level: levelAWSLogs}
	for i := idx + 1; i < len(segs); i++ {
		s := segs[i]
		switch {
		case d.level == levelAWSLogs && strings.HasPrefix(s, "o-"):
			d.org, d.level = s, levelOrg
		case (d.level == levelAWSLogs || d.level == levelOrg) && cloudtrail.IsDigits(s, 12):
			d.account, d.level = s, levelAccount
		case d.level == levelAccount && (s == serviceLogs || s == serviceInsight || s == serviceDigest):
			d.service, d.level = s, levelService
		case d.level == levelAccount:
			// Another service's logs (Config, ELB, VPC flow logs…) in the same bucket.
			return folder{level: levelOutside, org: d.org, account: d.account, service: s}
		case d.level == levelService && s != "":
			d.region, d.level = s, levelRegion
			d.regionPrefix = strings.Join(segs[:i+1], "/") + "/"
		case d.level == levelRegion && cloudtrail.IsDigits(s, 4):
			y, _ := strconv.Atoi(s)
			d.from = time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
			d.to = d.from.AddDate(1, 0, -1)
			d.level = levelYear
		case d.level == levelYear && cloudtrail.IsDigits(s, 2) && s >= "01" && s <= "12":
			m, _ := strconv.Atoi(s)
			d.from = time.Date(d.from.Year(), time.Month(m), 1, 0, 0, 0, 0, time.UTC)
			d.to = d.from.AddDate(0, 1, -1)
			d.level = levelMonth
		case d.level == levelMonth && cloudtrail.IsDigits(s, 2) && s >= "01":
			n, _ := strconv.Atoi(s)
			day := d.from.AddDate(0, 0, n-1)
			if day.Month() != d.from.Month() {
				return folder{level: levelOutside}
			}
			d.from, d.to = day, day
			d.level = levelDay
		case d.level == levelDay:
			// Keys below a day folder still parse as that day.
		default:
			return folder{level: levelOutside}
		}
	}
	return d
}

// mayMatch reports whether objects below the folder can pass f. It is false for digest folders, for other
// services' folders beside CloudTrail/, and for account, region and day folders the filter excludes; true
// wherever the path does not say.
func (d folder) mayMatch(f Filter) bool {
	if d.service != "" && d.service != serviceLogs && d.service != serviceInsight {
		return false
	}
	if d.account != "" && len(f.Accounts) > 0 && !slices.Contains(f.Accounts, d.account) {
		return false
	}
	if d.region != "" && len(f.Regions) > 0 && !slices.Contains(f.Regions, d.region) {
		return false
	}
	if !d.from.IsZero() {
		if !f.Since.IsZero() && d.to.Before(truncDay(f.Since)) {
			return false
		}
		if !f.Until.IsZero() && d.from.After(truncDay(f.Until)) {
			return false
		}
	}
	return true
}

// dateFolders returns the fewest folder names ("YYYY/", "YYYY/MM/" or "YYYY/MM/DD/") that together hold
// exactly the days from..to: whole years and months collapse into one folder each.
func dateFolders(from, to time.Time) []string {
	var out []string
	for d := from; !d.After(to); {
		switch {
		case d.Month() == time.January && d.Day() == 1 && !d.AddDate(1, 0, -1).After(to):
			out = append(out, d.Format("2006/"))
			d = d.AddDate(1, 0, 0)
		case d.Day() == 1 && !d.AddDate(0, 1, -1).After(to):
			out = append(out, d.Format("2006/01/"))
			d = d.AddDate(0, 1, 0)
		default:
			out = append(out, d.Format("2006/01/02/"))
			d = d.AddDate(0, 0, 1)
		}
	}
	return out
}
