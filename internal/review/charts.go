package review

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"

	"github.com/trailwatch/trailwatch/internal/engine"
)

// topN is how many bars a "top" chart has.
const topN = 10

// charts fills rv.Charts from the coverage, the findings and two small queries.
func charts(ctx context.Context, q engine.Querier, rv *Review, loc *time.Location) error {
	c := &rv.Charts
	c.EventsByHour = []Point{}
	for i, h := range rv.Coverage.Hours {
		t, _ := time.Parse(time.RFC3339, h)
		var n int64
		for _, cell := range rv.Coverage.Cells {
			n += cell.Events[i]
		}
		label := t.In(loc).Format("15:04")
		if len(rv.Coverage.Hours) > 24 {
			label = t.In(loc).Format("01-02 15:04")
		}
		c.EventsByHour = append(c.EventsByHour, Point{Label: label, Value: n})
	}

	byReq := map[string]int64{}
	byPrincipal := map[string]int64{}
	for _, f := range rv.Findings {
		if f.Suppressed != nil || f.Level == "informational" {
			continue
		}
		for _, id := range f.PCIv4 {
			byReq[id]++
		}
		if f.Principal != "" {
			byPrincipal[f.Principal]++
		}
	}
	c.FindingsByReq = []Point{}
	for _, r := range rv.Requirements {
		if n := byReq[r.ID]; n > 0 {
			c.FindingsByReq = append(c.FindingsByReq, Point{Label: r.ID, Value: n})
		}
	}
	c.TopPrincipals = top(byPrincipal)

	var err error
	if c.TopErrorCodes, err = points(ctx, q, `SELECT errorcode, count(*) FROM cloudtrail_logs
		WHERE event_time >= ? AND event_time < ? AND errorcode IS NOT NULL AND errorcode <> ''
		GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT `+fmt.Sprint(topN), rv.Window.Since, rv.Window.Until); err != nil {
		return err
	}
	// Console sign-ins by origin network: the /24 (IPv4) or /48 (IPv6) of the source, or the service name
	// CloudTrail records instead of an address.
	c.SignInsByOrigin, err = points(ctx, q, `SELECT CASE
			WHEN regexp_matches(sourceipaddress, '^\d+\.\d+\.\d+\.\d+$') THEN regexp_extract(sourceipaddress, '^(\d+\.\d+\.\d+)\.', 1) || '.0/24'
			WHEN contains(sourceipaddress, ':') THEN array_to_string(list_slice(string_split(sourceipaddress, ':'), 1, 3), ':') || '::/48'
			ELSE coalesce(sourceipaddress, 'unknown') END AS origin, count(*)
		FROM cloudtrail_logs
		WHERE event_time >= ? AND event_time < ? AND eventname = 'ConsoleLogin'
		GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT `+fmt.Sprint(topN), rv.Window.Since, rv.Window.Until)
	return err
}

func top(m map[string]int64) []Point {
	out := []Point{}
	for k, v := range m {
		out = append(out, Point{Label: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Value != out[j].Value {
			return out[i].Value > out[j].Value
		}
		return out[i].Label < out[j].Label
	})
	if len(out) > topN {
		out = out[:topN]
	}
	return out
}

func points(ctx context.Context, q engine.Querier, query string, args ...any) ([]Point, error) {
	out := []Point{}
	err := eachRow(ctx, q, query, args, func(rows *sql.Rows) error {
		var p Point
		if err := rows.Scan(&p.Label, &p.Value); err != nil {
			return err
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("review: chart: %w", err)
	}
	return out, nil
}
