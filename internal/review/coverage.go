package review

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/trailwatch/trailwatch/internal/engine"
	"github.com/trailwatch/trailwatch/internal/source"
)

// cellKey names an account and region.
type cellKey struct{ account, region string }

// sortKeys orders keys by account, then region.
func sortKeys(keys []cellKey) {
	slices.SortFunc(keys, func(a, b cellKey) int {
		return cmp.Or(strings.Compare(a.account, b.account), strings.Compare(a.region, b.region))
	})
}

// coverage fills rv.Coverage: log files and events per account × region × hour, the gaps in what was
// expected, and accounts seen for the first time; gaps and new accounts are findings too.
func coverage(ctx context.Context, q engine.Querier, rv *Review, opts Options, loc *time.Location) error {
	w := rv.Window
	cov := &rv.Coverage
	var hours []time.Time
	for h := w.Since.UTC().Truncate(time.Hour); h.Before(w.Until); h = h.Add(time.Hour) {
		hours = append(hours, h)
		cov.Hours = append(cov.Hours, h.Format(time.RFC3339))
	}
	hourIdx := func(t time.Time) int {
		i := int(t.UTC().Truncate(time.Hour).Sub(hours[0]) / time.Hour)
		if i < 0 || i >= len(hours) {
			return -1
		}
		return i
	}
	if len(hours) == 0 {
		return nil
	}

	// What was expected: the configuration, or what delivered logs in the 7 days before (also for the
	// accounts or the regions the configuration leaves out).
	cov.ExpectedAccounts, cov.ExpectedRegions = opts.ExpectedAccounts, opts.ExpectedRegions
	var seen []cellKey
	if len(cov.ExpectedAccounts) == 0 || len(cov.ExpectedRegions) == 0 {
		var err error
		if seen, err = pairs(ctx, q, w.Since.AddDate(0, 0, -7), w.Since); err != nil {
			return err
		}
		if len(cov.ExpectedAccounts) == 0 {
			cov.ExpectedAccounts = distinct(seen, func(k cellKey) string { return k.account })
		}
		if len(cov.ExpectedRegions) == 0 {
			cov.ExpectedRegions = distinct(seen, func(k cellKey) string { return k.region })
		}
	}
	var expected []cellKey
	switch {
	case len(opts.ExpectedAccounts) > 0 || len(opts.ExpectedRegions) > 0:
		cov.ExpectedFrom = "config"
		for _, a := range cov.ExpectedAccounts {
			for _, r := range cov.ExpectedRegions {
				expected = append(expected, cellKey{a, r})
			}
		}
	case len(seen) > 0:
		expected, cov.ExpectedFrom = seen, "seen in the previous 7 days"
	default:
		cov.ExpectedFrom = "no logs in the previous 7 days: only what this window holds"
	}

	cells := map[cellKey]*Cell{}
	cell := func(k cellKey) *Cell {
		c, ok := cells[k]
		if !ok {
			c = &Cell{Account: k.account, Region: k.region, Files: make([]int, len(hours)), Events: make([]int64, len(hours))}
			cells[k] = c
		}
		return c
	}
	for _, k := range expected {
		cell(k)
	}
	// Events per hour, and files per hour from the delivery time in the CloudTrail file name
	// (…_20260301T0105Z_….json.gz): a file is delivered up to 15 minutes after its period, so it counts in
	// the hour it names, which ends the period it holds.
	err := perHour(ctx, q, `SELECT account, region, date_trunc('hour', event_time) AS h, count(*)
		FROM cloudtrail_logs WHERE event_time >= ? AND event_time < ? GROUP BY ALL`,
		[]any{w.Since, w.Until}, func(k cellKey, h time.Time, n int64) {
			if i := hourIdx(h); i >= 0 {
				cell(k).Events[i] += n
			}
		})
	if err != nil {
		return fmt.Errorf("review: coverage: %w", err)
	}
	err = perHour(ctx, q, `SELECT account, region, strptime(m, '%Y%m%dT%H%M') AS t, count(*) FROM (
		SELECT account, region, regexp_extract(uri, '_(\d{8}T\d{4})Z_[^/]*$', 1) AS m FROM tw_files
		WHERE day BETWEEN CAST(? AS DATE) - 1 AND CAST(? AS DATE) + 1) WHERE m <> '' GROUP BY ALL`,
		[]any{w.Since.UTC().Format("2006-01-02"), w.Until.UTC().Format("2006-01-02")}, func(k cellKey, h time.Time, n int64) {
			if i := hourIdx(h); i >= 0 {
				cell(k).Files[i] += int(n)
			}
		})
	if err != nil {
		return fmt.Errorf("review: coverage files: %w", err)
	}

	keys := make([]cellKey, 0, len(cells))
	for k := range cells {
		keys = append(keys, k)
	}
	sortKeys(keys)
	isExpected := map[cellKey]bool{}
	for _, k := range expected {
		isExpected[k] = true
	}
	now := opts.Now()
	cov.Cells, cov.Gaps = []Cell{}, []Gap{}
	for _, k := range keys {
		c := cells[k]
		cov.Cells = append(cov.Cells, *c)
		if !isExpected[k] {
			continue
		}
		empty := func(i int) bool { return c.Files[i] == 0 && c.Events[i] == 0 && hours[i].Add(time.Hour).Before(now) }
		silent := true
		for i := range hours {
			if !empty(i) {
				silent = false
			}
		}
		if silent {
			g := Gap{Account: k.account, Region: k.region, From: hours[0], Until: w.Until, Silent: true}
			cov.Gaps = append(cov.Gaps, g)
			rv.Findings = append(rv.Findings, checkFinding("log_source_silent", g.From, Finding{Account: k.account, Region: k.region,
				Detail: fmt.Sprintf("no CloudTrail log file from account %s in %s in the whole window %s", k.account, k.region, w.Label)}))
			continue
		}
		for i := 0; i < len(hours); i++ {
			if !empty(i) {
				continue
			}
			j := i
			for j+1 < len(hours) && empty(j+1) {
				j++
			}
			g := Gap{Account: k.account, Region: k.region, From: hours[i], Until: hours[j].Add(time.Hour)}
			cov.Gaps = append(cov.Gaps, g)
			rv.Findings = append(rv.Findings, checkFinding("log_delivery_gap", g.From, Finding{Account: k.account, Region: k.region,
				Detail: fmt.Sprintf("no CloudTrail log file from account %s in %s from %s to %s (%d h)", k.account, k.region,
					g.From.In(loc).Format("2006-01-02 15:04"), g.Until.In(loc).Format("2006-01-02 15:04 MST"), j-i+1)}))
			i = j
		}
	}

	// Accounts seen for the first time: in the window, never before it (when there is a before).
	news, err := strs(ctx, q, `SELECT DISTINCT account FROM cloudtrail_logs WHERE event_time >= ? AND event_time < ? AND account IS NOT NULL
		AND EXISTS (SELECT 1 FROM cloudtrail_logs WHERE event_time < ?)
		AND account NOT IN (SELECT DISTINCT account FROM cloudtrail_logs WHERE event_time < ? AND account IS NOT NULL) ORDER BY 1`,
		w.Since, w.Until, w.Since, w.Since)
	if err != nil {
		return err
	}
	cov.NewAccounts = news
	for _, a := range news {
		first := w.Since
	scan:
		for i := range hours {
			for _, c := range cov.Cells {
				if c.Account == a && c.Events[i] > 0 {
					first = hours[i]
					break scan
				}
			}
		}
		rv.Findings = append(rv.Findings, checkFinding("account_first_seen", first, Finding{Account: a,
			Detail: fmt.Sprintf("account %s delivered CloudTrail logs for the first time in %s", a, w.Label)}))
	}
	if cov.ExpectedAccounts == nil {
		cov.ExpectedAccounts = []string{}
	}
	if cov.ExpectedRegions == nil {
		cov.ExpectedRegions = []string{}
	}
	return nil
}

// perHour runs a query of (account, region, hour, count) rows and hands each row to add.
func perHour(ctx context.Context, q engine.Querier, query string, args []any, add func(cellKey, time.Time, int64)) error {
	return eachRow(ctx, q, query, args, func(rows *sql.Rows) error {
		var a, r sql.NullString
		var t time.Time
		var n int64
		if err := rows.Scan(&a, &r, &t, &n); err != nil {
			return err
		}
		add(cellKey{a.String, r.String}, t, n)
		return nil
	})
}

func pairs(ctx context.Context, q engine.Querier, since, until time.Time) ([]cellKey, error) {
	var out []cellKey
	err := eachRow(ctx, q, `SELECT DISTINCT account, region FROM cloudtrail_logs
		WHERE event_time >= ? AND event_time < ? AND account IS NOT NULL AND region IS NOT NULL ORDER BY 1, 2`, []any{since, until},
		func(rows *sql.Rows) error {
			var k cellKey
			if err := rows.Scan(&k.account, &k.region); err != nil {
				return err
			}
			out = append(out, k)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("review: expected accounts: %w", err)
	}
	return out, nil
}

func distinct(ks []cellKey, f func(cellKey) string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, k := range ks {
		if v := f(k); !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

// retention fills rv.Retention: the oldest day of logs per account and region in the store and in the
// configured sources, flagged when short of 10.5.1 (12 months available, 3 months at hand).
func retention(ctx context.Context, q engine.Querier, rv *Review, at time.Time, history []source.Oldest) error {
	inStore := map[cellKey]time.Time{}
	err := eachRow(ctx, q, `SELECT account, region, min(event_time) FROM cloudtrail_logs
		WHERE account IS NOT NULL AND region IS NOT NULL GROUP BY ALL`, nil, func(rows *sql.Rows) error {
		var k cellKey
		var oldest time.Time
		if err := rows.Scan(&k.account, &k.region, &oldest); err != nil {
			return err
		}
		inStore[k] = oldest.UTC().Truncate(24 * time.Hour)
		return nil
	})
	if err != nil {
		return fmt.Errorf("review: retention: %w", err)
	}
	inSource := map[cellKey]time.Time{}
	for _, o := range history {
		inSource[cellKey{o.Account, o.Region}] = o.Day
	}
	keys := make([]cellKey, 0, len(inStore))
	for k := range inStore {
		keys = append(keys, k)
	}
	for k := range inSource {
		if _, ok := inStore[k]; !ok {
			keys = append(keys, k)
		}
	}
	sortKeys(keys)
	days := func(t time.Time) int { return int(at.Sub(t).Hours() / 24) }
	rv.Retention = []Retention{}
	for _, k := range keys {
		r := Retention{Account: k.account, Region: k.region}
		oldest := time.Time{}
		if t, ok := inStore[k]; ok {
			r.OldestInStore, r.StoreDays, oldest = t.Format("2006-01-02"), days(t), t
		}
		if t, ok := inSource[k]; ok {
			r.OldestInSource = t.Format("2006-01-02")
			if oldest.IsZero() || t.Before(oldest) {
				oldest = t
			}
		}
		r.AvailableDays = days(oldest)
		if r.StoreDays < 90 {
			r.Problems = append(r.Problems, fmt.Sprintf("only %d days in the store (10.5.1: at least 3 months immediately available)", r.StoreDays))
		}
		if r.AvailableDays < 365 {
			where := "in the store"
			if history != nil {
				where = "in the store and the source"
			}
			r.Problems = append(r.Problems, fmt.Sprintf("only %d days of logs %s (10.5.1: at least 12 months)", r.AvailableDays, where))
		}
		rv.Retention = append(rv.Retention, r)
		if len(r.Problems) > 0 {
			oldestText := r.OldestInStore
			if r.OldestInSource != "" {
				oldestText += " in the store, " + r.OldestInSource + " in the source"
			}
			rv.Findings = append(rv.Findings, checkFinding("log_retention_short", rv.Window.Since, Finding{Account: r.Account, Region: r.Region,
				Detail: fmt.Sprintf("account %s in %s: oldest log day %s; %s", r.Account, r.Region, oldestText, strings.Join(r.Problems, "; "))}))
		}
	}
	return nil
}
