package engine

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Querier runs SQL; *sql.DB, *sql.Conn and the store satisfy it.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Finding is one rule hit: the event that raised it (for a correlation, the event that crossed the
// threshold, with every event of the window).
type Finding struct {
	Rule         *Rule     `json:"-"`
	Time         time.Time `json:"time"`
	Account      string    `json:"account"`
	Region       string    `json:"region"`
	Principal    string    `json:"principal"`
	PrincipalARN string    `json:"principal_arn,omitempty"`
	IdentityType string    `json:"identity_type,omitempty"`
	EventSource  string    `json:"event_source"`
	EventName    string    `json:"event_name"`
	SourceIP     string    `json:"source_ip,omitempty"`
	UserAgent    string    `json:"user_agent,omitempty"`
	ErrorCode    string    `json:"error_code,omitempty"`
	EventID      string    `json:"event_id"`
	Object       string    `json:"source_object,omitempty"`
	// Correlations only.
	Count    int      `json:"count,omitempty"`
	EventIDs []string `json:"event_ids,omitempty"`
	Group    []string `json:"group,omitempty"`
}

// Options narrow a detection run.
type Options struct {
	Since, Until time.Time // the window, Until exclusive; zero means unbounded
	// Scope is an extra SQL condition on the events (trusted: built by trailwatch, never from user text).
	Scope string
}

// Stats describe a run.
type Stats struct {
	Candidates int           // events matching some rule
	Pairs      int           // (eventSource, eventName) pairs some rule can match
	PairsTime  time.Duration // the first query
	QueryTime  time.Duration // the second query, rows read
	Duration   time.Duration // wall time
}

// row is one candidate event with the rules it matched.
type row struct {
	f       Finding
	matched []int
	groups  []sql.NullString
}

// findingText are the text columns of a finding, in the order of rowOf. They come back packed into one
// string per event (see query): reading a hundred thousand events, the driver's per-value copies and
// conversions cost more than DuckDB's evaluation of the rules.
var findingText = []string{"recipientaccountid", "awsregion", "%PRINCIPAL%", "useridentity.arn",
	"useridentity.type", "eventsource", "eventname", "sourceipaddress", "useragent", "errorcode", "eventid", "source_object"}

// windowWhere returns the conditions and arguments that restrict events to the window and scope.
func (s *Set) windowWhere(opts Options) ([]string, []any) {
	var where []string
	var args []any
	if !opts.Since.IsZero() {
		where = append(where, s.Dialect.EventTime()+" >= ?")
		args = append(args, opts.Since)
	}
	if !opts.Until.IsZero() {
		where = append(where, s.Dialect.EventTime()+" < ?")
		args = append(args, opts.Until)
	}
	if opts.Scope != "" {
		where = append(where, "("+opts.Scope+")")
	}
	if len(where) == 0 {
		where = append(where, "TRUE")
	}
	return where, args
}

// PairsQuery returns the first of the two queries of a run: the distinct (eventSource, eventName) pairs of
// the window with their number of events, each with a list saying which rules (in the order of Rules,
// detection rules only) can match an event with that pair. It reads two columns.
func (s *Set) PairsQuery(opts Options) (string, []any) {
	var pre []string
	for _, i := range s.detections {
		pre = append(pre, "coalesce("+s.Rules[i].Pre+", TRUE)")
	}
	where, args := s.windowWhere(opts)
	if len(pre) == 0 {
		pre = []string{"FALSE"}
	}
	q := "SELECT eventsource, eventname, tw_n, [\n\t" + strings.Join(pre, ",\n\t") + "\n] AS tw_possible\nFROM (SELECT eventsource, eventname, count(*) AS tw_n FROM " +
		s.Dialect.Table() + " WHERE " + strings.Join(where, " AND ") + " GROUP BY eventsource, eventname) AS tw_pairs"
	return q, args
}

// ruleBits is a set of detection rules: rule k (of s.detections) is bit k%64 of word k/64.
type ruleBits []uint64

func newRuleBits(rules int) ruleBits { return make(ruleBits, (rules+63)/64) }
func (b ruleBits) set(k int)         { b[k/64] |= 1 << (k % 64) }
func (b ruleBits) has(k int) bool    { return b[k/64]&(1<<(k%64)) != 0 }

// pair is an (eventSource, eventName) pair, its number of events and the rules that can match it.
type pair struct {
	source, name sql.NullString
	events       int64
	mask         ruleBits
}

// dispatch sorts the rules the pairs allow into those every pair allows, evaluated on every event, and
// groups of pairs allowing the same other rules, evaluated only on the events of their pairs. Groups come
// largest first (by events), and group[i] is the group of pairs[i], -1 when it has none.
func dispatch(pairs []pair, words int) (every ruleBits, groups []ruleBits, group []int) {
	every = make(ruleBits, words)
	for w := range every {
		every[w] = ^uint64(0)
	}
	for _, p := range pairs {
		for w := range every {
			every[w] &= p.mask[w]
		}
	}
	type acc struct {
		mask   ruleBits
		events int64
		pairs  []int
	}
	var accs []*acc
	byMask := map[string]*acc{}
	for i, p := range pairs {
		rest := make(ruleBits, words)
		some := false
		for w := range rest {
			rest[w] = p.mask[w] &^ every[w]
			some = some || rest[w] != 0
		}
		if !some {
			continue
		}
		key := fmt.Sprint(rest)
		a, ok := byMask[key]
		if !ok {
			a = &acc{mask: rest}
			byMask[key] = a
			accs = append(accs, a)
		}
		a.events += p.events
		a.pairs = append(a.pairs, i)
	}
	// CASE tests its branches in order on the rows not yet taken: the largest first.
	sort.SliceStable(accs, func(i, j int) bool { return accs[i].events > accs[j].events })
	group = make([]int, len(pairs))
	for i := range group {
		group[i] = -1
	}
	for g, a := range accs {
		groups = append(groups, a.mask)
		for _, i := range a.pairs {
			group[i] = g
		}
	}
	return every, groups, group
}

// query returns the second query of a run: every event of the window that some rule matches, with the
// rules it matched as bit masks (one column per 64 rules: cheaper to build and to read than a list) and
// the values the correlations group by.
//
// The rules every pair allows are tested on every event; the others only on the events of the pairs that
// allow them, through one CASE on the pair's group, so an event costs the rules of its pair and not a test
// per rule. The masks are computed once per event, below the filter that keeps the events with a bit set:
// as a filter of ORs, then masks again for the matching events, DuckDB's profile of the library on 1M
// events showed 2.2 s of CPU in the filter and 0.9 s in the masks; computed once, 1.8 s.
// The pairs are bound as parameters (they are text from the logs); so are since and until.
func (s *Set) query(opts Options, pairs []pair) (string, []any, []string) {
	words := (len(s.detections) + 63) / 64
	if len(pairs) == 0 || words == 0 {
		return "", nil, nil
	}
	every, groups, group := dispatch(pairs, words)
	flag := func(k int) string {
		return fmt.Sprintf("CASE WHEN (%s) THEN %d::UBIGINT ELSE 0::UBIGINT END", s.Rules[s.detections[k]].Where, uint64(1)<<(k%64))
	}
	masks := make([]string, words)
	for w := range masks {
		var parts []string
		for k := w * 64; k < len(s.detections) && k < (w+1)*64; k++ {
			if every.has(k) {
				parts = append(parts, flag(k))
			}
		}
		var whens []string
		for g, m := range groups {
			var fs []string
			for k := w * 64; k < len(s.detections) && k < (w+1)*64; k++ {
				if m.has(k) {
					fs = append(fs, flag(k))
				}
			}
			if len(fs) > 0 {
				whens = append(whens, fmt.Sprintf("WHEN %d THEN (%s)", g, strings.Join(fs, "\n\t\t | ")))
			}
		}
		if len(whens) > 0 {
			parts = append(parts, "CASE tw_p.g\n\t"+strings.Join(whens, "\n\t")+"\n\tELSE 0::UBIGINT END")
		}
		if len(parts) == 0 {
			parts = []string{"0::UBIGINT"}
		}
		masks[w] = strings.Join(parts, "\n\t | ")
	}

	// The correlations' group-by and value fields, read only for the events of the rules they count.
	bit := map[*Rule]int{}
	for k, i := range s.detections {
		bit[s.Rules[i]] = k
	}
	var extras []string
	extraBits := map[string]ruleBits{}
	for _, r := range s.Rules {
		for _, b := range r.Bases {
			for _, g := range append(append([]string{}, r.GroupBy[b]...), r.ValueField[b]) {
				if g == "" {
					continue
				}
				if _, ok := extraBits[g]; !ok {
					extraBits[g] = newRuleBits(len(s.detections))
					extras = append(extras, g)
				}
				if k, ok := bit[b]; ok {
					extraBits[g].set(k)
				}
			}
		}
	}

	// The text of a finding comes back as one string per event, each value prefixed with its length in
	// bytes (values are text from the logs: no separator is safe), read without a copy per value.
	var text, packed []string
	for i, c := range findingText {
		if c == "%PRINCIPAL%" {
			c = s.Dialect.Principal()
		}
		text = append(text, fmt.Sprintf("coalesce(CAST(%s AS VARCHAR), '') AS tw_t%d", c, i))
		packed = append(packed, fmt.Sprintf("CAST(strlen(tw_t%d) AS VARCHAR), ':', tw_t%d", i, i))
	}
	var names []string
	for w := range masks {
		names = append(names, fmt.Sprintf("tw_rules%d", w))
	}
	var rest []string
	for i, e := range extras {
		var when []string
		for w, m := range extraBits[e] {
			if m != 0 {
				when = append(when, fmt.Sprintf("(tw_rules%d & %d::UBIGINT) <> 0", w, m))
			}
		}
		if len(when) == 0 {
			when = []string{"FALSE"}
		}
		rest = append(rest, fmt.Sprintf("CASE WHEN %s THEN CAST(%s AS VARCHAR) END AS tw_g%d", strings.Join(when, " OR "), e, i))
	}
	// One concat of all the pieces, not a chain of ||, each of which builds a string (DuckDB's profile of
	// the library on 1M events: the packing projection 0.29 -> ~0.1 s); the built-in, as the Presto
	// layer's concat macro is a chain of ||. No piece is NULL.
	outer := append([]string{s.Dialect.EventTime(), "system.main.concat(" + strings.Join(packed, ", ") + ") AS tw_text"}, names...)
	for i := range extras {
		outer = append(outer, fmt.Sprintf("tw_g%d", i))
	}
	middle := append(append(append([]string{s.Dialect.EventTime()}, text...), names...), rest...)

	var args []any
	values := make([]string, len(pairs))
	for i, p := range pairs {
		values[i] = fmt.Sprintf("(CAST(? AS VARCHAR), CAST(? AS VARCHAR), %d)", group[i])
		args = append(args, nullable(p.source), nullable(p.name))
	}
	table := s.Dialect.Table()
	var b strings.Builder
	b.WriteString("SELECT\n\t" + strings.Join(outer, ",\n\t") + "\nFROM (")
	b.WriteString("\nSELECT\n\t" + strings.Join(middle, ",\n\t"))
	b.WriteString("\nFROM (\nSELECT " + table + ".*")
	for w, m := range masks {
		// random() makes the mask volatile, which keeps the optimizer from copying it into the filter
		// above (and computing it twice).
		fmt.Fprintf(&b, ",\n\tCASE WHEN random() < 2 THEN (%s\n\t) END AS tw_rules%d", m, w)
	}
	b.WriteString("\nFROM " + table + "\nJOIN (VALUES " + strings.Join(values, ", ") + ") AS tw_p(es, en, g)")
	b.WriteString("\n\tON eventsource IS NOT DISTINCT FROM tw_p.es AND eventname IS NOT DISTINCT FROM tw_p.en\nWHERE ")
	wh, wargs := s.windowWhere(opts)
	b.WriteString(strings.Join(wh, "\nAND "))
	b.WriteString("\n) AS " + table + "\nWHERE (" + strings.Join(names, " | ") + ") <> 0\n) AS tw_found")
	return b.String(), append(args, wargs...), extras
}

func nullable(s sql.NullString) any {
	if !s.Valid {
		return nil
	}
	return s.String
}

// pairs runs the pairs query and keeps the pairs some rule can match.
func (s *Set) pairs(ctx context.Context, q Querier, opts Options) ([]pair, error) {
	query, args := s.PairsQuery(opts)
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	defer rows.Close()
	n := len(s.detections)
	var out []pair
	for rows.Next() {
		var p pair
		var possible any
		if err := rows.Scan(&p.source, &p.name, &p.events, &possible); err != nil {
			return nil, fmt.Errorf("detect: read pair: %w", err)
		}
		list, _ := possible.([]any)
		p.mask = newRuleBits(n)
		some := false
		for i, v := range list {
			if b, ok := v.(bool); ok && b && i < n {
				p.mask.set(i)
				some = true
			}
		}
		if some {
			out = append(out, p)
		}
	}
	return out, rows.Err()
}

// Detect runs every rule of the set over the window and returns the findings in time order. It reads the
// table twice: the (eventSource, eventName) pairs first, to learn which rules can match which events,
// then the events some rule can match.
func (s *Set) Detect(ctx context.Context, q Querier, opts Options) ([]Finding, Stats, error) {
	start := time.Now()
	var stats Stats
	pairs, err := s.pairs(ctx, q, opts)
	if err != nil {
		return nil, stats, err
	}
	stats.Pairs, stats.PairsTime = len(pairs), time.Since(start)
	query, args, extras := s.query(opts, pairs)
	var cands []*row
	if query != "" {
		cands, err = s.candidates(ctx, q, query, args, len(extras), (len(s.detections)+63)/64)
		if err != nil {
			return nil, stats, err
		}
	}
	stats.Candidates = len(cands)
	stats.QueryTime = time.Since(start) - stats.PairsTime

	index := map[*Rule]int{}
	for i, r := range s.Rules {
		index[r] = i
	}
	extraIdx := map[string]int{}
	for i, e := range extras {
		extraIdx[e] = i
	}
	// The findings of the rules that emit their own are made on two goroutines, each filling its half of
	// the slice (a finding is ~300 bytes copied into fresh memory: 0.18 s of a 1M-event day on one core),
	// while a third evaluates the correlations. The capacity, every match, leaves room for the
	// correlations' findings (the matches of their base rules that emit nothing themselves).
	count := func(part []*row) (matches, emitted int) {
		for _, c := range part {
			matches += len(c.matched)
			for _, i := range c.matched {
				if s.Rules[i].Emits {
					emitted++
				}
			}
		}
		return matches, emitted
	}
	half := len(cands) / 2
	m1, emittedFirst := count(cands[:half])
	m2, e2 := count(cands[half:])
	findings := make([]Finding, emittedFirst+e2, m1+m2)
	fill := func(dst []Finding, part []*row) {
		j := 0
		for _, c := range part {
			for _, i := range c.matched {
				if r := s.Rules[i]; r.Emits {
					dst[j] = c.f
					dst[j].Rule = r
					j++
				}
			}
		}
	}
	var correlated []Finding
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		fill(findings[:emittedFirst], cands[:half])
	}()
	go func() {
		defer wg.Done()
		for _, r := range s.Rules {
			if r.Correlation != nil {
				correlated = append(correlated, correlate(r, cands, index, extraIdx)...)
			}
		}
	}()
	fill(findings[emittedFirst:], cands[half:])
	wg.Wait()
	findings = append(findings, correlated...)
	sortFindings(findings)
	stats.Duration = time.Since(start)
	return findings, stats, nil
}

// sortFindings orders findings by time, rule and event ID, ties in their present order. It sorts indexes
// and then moves each finding once: a Finding is ~300 bytes, which a stable sort of the findings themselves
// moved O(log² n) times (181,233 findings of a 1M-event day: ~0.2 s).
func sortFindings(findings []Finding) {
	idx := make([]int32, len(findings))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(i, j int32) int {
		a, b := &findings[i], &findings[j]
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		if c := strings.Compare(a.Rule.Ref(), b.Rule.Ref()); c != 0 {
			return c
		}
		if c := strings.Compare(a.EventID, b.EventID); c != 0 {
			return c
		}
		return cmp.Compare(i, j)
	})
	// Apply the permutation in place, a cycle at a time: position k takes the finding at idx[k].
	for k := range idx {
		if idx[k] < 0 {
			continue
		}
		first := findings[k]
		j := k
		for {
			src := int(idx[j])
			idx[j] = -1
			if src == k {
				findings[j] = first
				break
			}
			findings[j] = findings[src]
			j = src
		}
	}
}

// candidates runs the events query and reads each row into a candidate. Through a *sql.DB it reads the
// driver's rows directly: at a hundred thousand rows, database/sql's per-value conversions were a fifth of
// the run.
func (s *Set) candidates(ctx context.Context, q Querier, query string, args []any, nExtras, words int) ([]*row, error) {
	var cands []*row
	columns := 2 + words + nExtras // event time, finding text, masks, group-by values
	// The driver hands over the result only once the query is done, so both cores are free while it is
	// read: one goroutine takes the rows out of the driver, another makes candidates of them, in batches.
	read := func(next func(dest []driver.Value) error) error {
		const batchRows = 512
		batches := make(chan []driver.Value, 4)
		parsed := make(chan error, 1)
		go func() {
			var err error
			for b := range batches {
				for i := 0; err == nil && i < len(b); i += columns {
					var r *row
					if r, err = s.rowOf(b[i:i+columns], words, nExtras); err == nil {
						cands = append(cands, r)
					}
				}
			}
			parsed <- err
		}()
		var err error
		vals := make([]driver.Value, columns)
		batch := make([]driver.Value, 0, batchRows*columns)
		for {
			if err = next(vals); err != nil {
				break
			}
			if batch = append(batch, vals...); len(batch) == cap(batch) {
				batches <- batch
				batch = make([]driver.Value, 0, batchRows*columns)
			}
		}
		batches <- batch
		close(batches)
		if perr := <-parsed; errors.Is(err, io.EOF) {
			err = perr
		}
		return err
	}
	var err error
	if db, ok := q.(*sql.DB); ok {
		err = rawQuery(ctx, db, query, args, read)
	} else {
		err = sqlQuery(ctx, q, query, args, columns, read)
	}
	if err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	return cands, nil
}

// rowOf makes a candidate of one row: the finding columns, the match masks, the group-by values.
func (s *Set) rowOf(vals []driver.Value, words, nExtras int) (*row, error) {
	str := func(v driver.Value) string {
		switch x := v.(type) {
		case string:
			return x
		case []byte:
			return string(x)
		case nil:
			return ""
		}
		return fmt.Sprint(v)
	}
	r := &row{groups: make([]sql.NullString, nExtras)}
	if t, ok := vals[0].(time.Time); ok {
		r.f.Time = t.UTC()
	}
	var text string
	switch v := vals[1].(type) {
	case string:
		text = v
	case []byte:
		text = string(v)
	default:
		return nil, fmt.Errorf("finding text has type %T", vals[1])
	}
	var c [12]string
	for i := range c {
		n, rest, ok := strings.Cut(text, ":")
		size, err := strconv.Atoi(n)
		if !ok || err != nil || size > len(rest) {
			return nil, fmt.Errorf("finding text is malformed at value %d", i)
		}
		c[i], text = rest[:size], rest[size:]
	}
	r.f.Account, r.f.Region, r.f.Principal, r.f.PrincipalARN = c[0], c[1], c[2], c[3]
	r.f.IdentityType, r.f.EventSource, r.f.EventName, r.f.SourceIP = c[4], c[5], c[6], c[7]
	r.f.UserAgent, r.f.ErrorCode, r.f.EventID, r.f.Object = c[8], c[9], c[10], c[11]
	for w := 0; w < words; w++ {
		m, ok := vals[2+w].(uint64)
		if !ok {
			return nil, fmt.Errorf("rule mask has type %T", vals[2+w])
		}
		for ; m != 0; m &= m - 1 {
			r.matched = append(r.matched, s.detections[w*64+bits.TrailingZeros64(m)])
		}
	}
	for i := range r.groups {
		if v := vals[2+words+i]; v != nil {
			r.groups[i] = sql.NullString{String: str(v), Valid: true}
		}
	}
	return r, nil
}

// rawQuery runs a query on the driver's connection and hands its rows to read.
func rawQuery(ctx context.Context, db *sql.DB, query string, args []any, read func(func([]driver.Value) error) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	named := make([]driver.NamedValue, len(args))
	for i, a := range args {
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	return conn.Raw(func(dc any) error {
		qc, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("driver %T cannot query", dc)
		}
		rows, err := qc.QueryContext(ctx, query, named)
		if err != nil {
			return err
		}
		defer rows.Close()
		return read(rows.Next)
	})
}

// sqlQuery runs a query through database/sql, for Queriers other than *sql.DB.
func sqlQuery(ctx context.Context, q Querier, query string, args []any, n int, read func(func([]driver.Value) error) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	holders := make([]any, n)
	ptrs := make([]any, n)
	for i := range holders {
		ptrs[i] = &holders[i]
	}
	err = read(func(dest []driver.Value) error {
		if !rows.Next() {
			if err := rows.Err(); err != nil {
				return err
			}
			return io.EOF
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		for i, h := range holders {
			dest[i] = h
		}
		return nil
	})
	return err
}

// member is a candidate event as a correlation sees it.
type member struct {
	r     *row
	base  int // index in the correlation's Bases
	group string
	value string
}

// correlate evaluates one correlation rule on the candidate events, with sliding windows per group.
func correlate(r *Rule, cands []*row, index map[*Rule]int, extraIdx map[string]int) []Finding {
	c := r.Correlation
	groups := map[string][]member{}
	var order []string
	for _, cand := range cands {
		for bi, b := range r.Bases {
			if !slices.Contains(cand.matched, index[b]) {
				continue
			}
			var parts []string
			missing := false
			for _, g := range r.GroupBy[b] {
				v := cand.groups[extraIdx[g]]
				if !v.Valid {
					missing = true
				}
				parts = append(parts, v.String)
			}
			if missing {
				continue // an event without the group-by field belongs to no group
			}
			m := member{r: cand, base: bi, group: strings.Join(parts, "\x00")}
			if vf := r.ValueField[b]; vf != "" {
				v := cand.groups[extraIdx[vf]]
				if !v.Valid {
					continue
				}
				m.value = v.String
			}
			if _, ok := groups[m.group]; !ok {
				order = append(order, m.group)
			}
			groups[m.group] = append(groups[m.group], m)
		}
	}
	var out []Finding
	for _, g := range order {
		ms := groups[g]
		sort.SliceStable(ms, func(i, j int) bool { return ms[i].r.f.Time.Before(ms[j].r.f.Time) })
		prevFired := false
		lo := 0
		for hi := range ms {
			for ms[hi].r.f.Time.Sub(ms[lo].r.f.Time) > c.Timespan {
				lo++
			}
			win := ms[lo : hi+1]
			var n float64
			fired := false
			switch c.Type {
			case "event_count":
				n = float64(countEvents(win))
				fired = holds(c.Condition.Ops, n)
			case "value_count":
				vals := map[string]bool{}
				for _, m := range win {
					vals[m.value] = true
				}
				n = float64(len(vals))
				fired = holds(c.Condition.Ops, n)
			case "temporal":
				seen := map[int]bool{}
				for _, m := range win {
					seen[m.base] = true
				}
				fired = len(seen) == len(r.Bases)
			case "temporal_ordered":
				k := 0
				for _, m := range win {
					if k < len(r.Bases) && m.base == k {
						k++
					}
				}
				fired = k == len(r.Bases) && ms[hi].base == len(r.Bases)-1
			}
			if fired && !prevFired {
				f := ms[hi].r.f
				f.Rule = r
				f.Count = countEvents(win)
				f.Group = strings.Split(g, "\x00")
				seen := map[string]bool{}
				for _, m := range win {
					if !seen[m.r.f.EventID] {
						seen[m.r.f.EventID] = true
						f.EventIDs = append(f.EventIDs, m.r.f.EventID)
					}
				}
				out = append(out, f)
			}
			prevFired = fired
		}
	}
	return out
}

func countEvents(win []member) int {
	seen := map[*row]bool{}
	for _, m := range win {
		seen[m.r] = true
	}
	return len(seen)
}

func holds(ops map[string]float64, n float64) bool {
	for op, v := range ops {
		ok := false
		switch op {
		case "gt":
			ok = n > v
		case "gte":
			ok = n >= v
		case "lt":
			ok = n < v
		case "lte":
			ok = n <= v
		case "eq":
			ok = n == v
		case "neq":
			ok = n != v
		}
		if !ok {
			return false
		}
	}
	return true
}
