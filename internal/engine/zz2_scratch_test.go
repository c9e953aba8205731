package engine

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/rulefmt"
	"github.com/trailwatch/trailwatch/internal/sigma"
	"github.com/trailwatch/trailwatch/internal/store"
	"github.com/trailwatch/trailwatch/rules"
)

func TestZZParts(t *testing.T) {
	db := os.Getenv("ZZDB")
	if db == "" {
		t.Skip()
	}
	ctx := context.Background()
	st, err := store.Open(ctx, db, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	all, _ := rulefmt.LoadFS(rules.FS, ".", "builtin:")
	set, _ := Compile(all, sigma.DuckDB{}, sigma.DefaultParams())
	if skip := os.Getenv("ZZSKIP"); skip != "" {
		var keep []*Rule
		for _, r := range set.Rules {
			if !strings.Contains(skip, r.Ref()) {
				keep = append(keep, r)
			}
		}
		set = set.Subset(keep...)
	}
	opts := Options{}
	pairs, err := set.pairs(ctx, st.DB, opts)
	if err != nil {
		t.Fatal(err)
	}
	q, args, _ := set.query(opts, pairs)
	run := func(label, q string) {
		start := time.Now()
		rows, err := st.DB.QueryContext(ctx, q, args...)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			n++
		}
		rows.Close()
		fmt.Printf("%-30s %6.3f s %d rows\n", label, time.Since(start).Seconds(), n)
	}
	run("full", q)
	if os.Getenv("ZZONLY") != "" {
		run("full", q)
	}
	i := strings.Index(q, "\nFROM ")
	run("count", "SELECT count(*) "+q[i:])
	li := strings.Index(q, ",\n\tlist_filter(")
	ri := strings.Index(q, " AS tw_rules")
	cols := q[len("SELECT"):li]
	flags := q[li+2 : ri]
	wi := strings.Index(q, "\nWHERE ")
	oi := strings.LastIndex(q, "\nAND (\n")
	inner := "SELECT cloudtrail_logs.*, " + flags + " AS tw_rules" + q[i:oi]
	run("subquery", "SELECT "+cols+", tw_rules FROM ("+inner+") AS cloudtrail_logs WHERE len(tw_rules) > 0")
	_ = wi
	words := make([][]string, 3)
	for k, ri := range set.detections {
		r := set.Rules[ri]
		bit := fmt.Sprintf("(tw_p.m%d & %d::UBIGINT) <> 0", k/64, uint64(1)<<(k%64))
		words[k/64] = append(words[k/64], fmt.Sprintf("CASE WHEN %s THEN CASE WHEN %s THEN %d::UBIGINT ELSE 0::UBIGINT END ELSE 0::UBIGINT END", bit, r.Where, uint64(1)<<(k%64)))
	}
	var ws []string
	for _, w := range words {
		if len(w) > 0 {
			ws = append(ws, "("+strings.Join(w, " | ")+")")
		}
	}
	run("bitmask", "SELECT eventid, "+strings.Join(ws, ", ")+q[i:])
	var wn, wnz []string
	for k, w := range ws {
		wn = append(wn, fmt.Sprintf("%s AS w%d", w, k))
		wnz = append(wnz, fmt.Sprintf("w%d <> 0", k))
	}
	run("bitmask-sub", "SELECT "+cols+", w0, w1, w2 FROM (SELECT cloudtrail_logs.*, "+strings.Join(wn, ", ")+q[i:oi]+") AS cloudtrail_logs WHERE "+strings.Join(wnz, " OR "))
	run("bitmask+cols", "SELECT "+cols+", "+strings.Join(ws, ", ")+q[i:])
	run("cols only", "SELECT "+cols+q[i:])
	run("flags only", "SELECT eventid, "+flags+q[i:])
	run("eventid only", "SELECT eventid, event_time"+q[i:])
	run("principal only", "SELECT "+sigma.DuckDB{}.Principal()+q[i:])
	if os.Getenv("ZZEXPLAIN") != "" {
		rows, err := st.DB.QueryContext(ctx, "EXPLAIN ANALYZE "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var a, b string
			rows.Scan(&a, &b)
			os.WriteFile("/tmp/explain.txt", []byte(b), 0o644)
		}
		rows.Close()
	}
}

func TestZZPerRule(t *testing.T) {
	db := os.Getenv("ZZDB")
	if db == "" {
		t.Skip()
	}
	ctx := context.Background()
	st, err := store.Open(ctx, db, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	all, _ := rulefmt.LoadFS(rules.FS, ".", "builtin:")
	set, _ := Compile(all, sigma.DuckDB{}, sigma.DefaultParams())
	opts := Options{}
	pairs, err := set.pairs(ctx, st.DB, opts)
	if err != nil {
		t.Fatal(err)
	}
	q, args, _ := set.query(opts, pairs)
	i := strings.Index(q, "\nFROM ")
	oi := strings.LastIndex(q, "\nAND (\n")
	from := q[i:oi]
	timeit := func(sel string) time.Duration {
		best := time.Hour
		for k := 0; k < 2; k++ {
			start := time.Now()
			var n int
			if err := st.DB.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT "+sel+" AS x"+from+") WHERE x", args...).Scan(&n); err != nil {
				t.Fatal(err)
			}
			best = min(best, time.Since(start))
		}
		return best
	}
	base := timeit("eventid IS NOT NULL")
	fmt.Println("base", base)
	type res struct {
		name string
		d    time.Duration
	}
	var out []res
	for k, ri := range set.detections {
		r := set.Rules[ri]
		bit := fmt.Sprintf("(tw_p.m%d & %d::UBIGINT) <> 0", k/64, uint64(1)<<(k%64))
		d := timeit("CASE WHEN " + bit + " THEN " + r.Where + " ELSE FALSE END")
		out = append(out, res{r.Ref(), d - base})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].d > out[j].d })
	var tot time.Duration
	for _, o := range out {
		tot += o.d
	}
	fmt.Println("total extra", tot)
	for _, o := range out[:40] {
		fmt.Printf("%-50s %6.3f s\n", o.name, o.d.Seconds())
	}
}

func TestZZDetect(t *testing.T) {
	db := os.Getenv("ZZDB")
	if db == "" {
		t.Skip()
	}
	ctx := context.Background()
	st, err := store.Open(ctx, db, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	all, _ := rulefmt.LoadFS(rules.FS, ".", "builtin:")
	set, _ := Compile(all, sigma.DuckDB{}, sigma.DefaultParams())
	if v := os.Getenv("ZZSET"); v != "" {
		if _, err := st.DB.ExecContext(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2; i++ {
		f, stats, err := set.Detect(ctx, st.DB, Options{})
		fmt.Println(len(f), stats, err)
	}
}
