// Package generate writes synthetic CloudTrail logs of an AWS Organization, laid out as an organization trail
// delivers them to S3, with security incidents planted in them and a ground-truth file naming each one.
//
// It is the data source of the demo, the tests and the benchmarks, so it is deterministic (the same
// options and seed give byte-identical output, whatever the number of workers), fast (a million events in a
// few seconds on two cores) and realistic: the records follow the CloudTrail record format field for field;
// the identities are the ones an organization has (Identity Center sessions, a few IAM users, workload and
// service-linked roles, AWS services, root only in incidents); the volume follows region (us-east-1 also
// carries IAM, sign-in and the other global services), account (the management account is the busiest) and
// office hours in Europe and the US; and a few percent of calls fail as real calls do (AccessDenied,
// throttling, missing resources).
//
// As in real trails, S3 object-level calls (GetObject, PutObject, ListObjects) are data events
// (eventCategory "Data", managementEvent false); everything else is a management event. Identity Center
// console sign-ins log MFAUsed "No", as federated sign-ins do.
//
// Each log file holds the events of the five minutes before its file time and lands in the folder of the
// day of that time, as CloudTrail delivers them: the first file of a day (00:00) holds the last five
// minutes of the day before, and no events are generated after 23:55 of the last day.
//
// Every log file is a pure function of the plan and of its own random stream, seeded from the seed, the
// account, the region and the five-minute window, so workers can write files in any order.
package generate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Options says what to generate.
type Options struct {
	Out string // output folder; AWSLogs/ and scenarios.json are written into it, other files are left alone
	// Accounts is the number of accounts in the organization for the whole range; the first is the
	// management account, the second the log-archive account. When Days >= 2 one more account joins the
	// organization on the last day (the "new-account" scenario).
	Accounts int
	// Regions is the number of regions, taken in order from us-east-1, eu-west-1, us-west-2, eu-central-1,
	// ap-southeast-1, ap-northeast-1, us-east-2, eu-west-2, ap-southeast-2, ca-central-1, ap-south-1,
	// sa-east-1, eu-north-1, us-west-1, eu-west-3, ap-northeast-2, ap-northeast-3 (at most 17).
	Regions int
	Days    int       // number of days, ending with End (inclusive)
	End     time.Time // last day (its UTC date counts); zero means 2024-03-31
	// EventsPerDay is the number of events delivered per day across all accounts and regions. Planted
	// events take the place of background events in their file, so a day holds exactly EventsPerDay events
	// unless a file holds more planted events than its share (only at tiny volumes).
	EventsPerDay int
	Seed         int64
	Workers      int // parallel writers; 0 means runtime.NumCPU(). The output does not depend on it.
}

// Summary counts what Run wrote.
type Summary struct {
	Files     int   // log files
	Events    int   // records in the log files
	Bytes     int64 // compressed size of the log files
	Scenarios int   // planted incidents listed in scenarios.json
}

// DefaultEnd is the last day generated when Options.End is zero.
var DefaultEnd = time.Date(2024, 3, 31, 0, 0, 0, 0, time.UTC)

// Regions lists the regions Options.Regions takes from, busiest first.
var Regions = []string{
	"us-east-1", "eu-west-1", "us-west-2", "eu-central-1", "ap-southeast-1", "ap-northeast-1", "us-east-2",
	"eu-west-2", "ap-southeast-2", "ca-central-1", "ap-south-1", "sa-east-1", "eu-north-1", "us-west-1",
	"eu-west-3", "ap-northeast-2", "ap-northeast-3",
}

// ManifestName is the name of the ground-truth file written next to AWSLogs/.
const ManifestName = "scenarios.json"

// Validate reports every problem with the options at once.
func (o Options) Validate() error {
	var errs []error
	if o.Out == "" {
		errs = append(errs, errors.New("output folder is empty"))
	}
	if o.Accounts < 1 || o.Accounts > 1000 {
		errs = append(errs, fmt.Errorf("accounts %d: must be between 1 and 1000", o.Accounts))
	}
	if o.Regions < 1 || o.Regions > len(Regions) {
		errs = append(errs, fmt.Errorf("regions %d: must be between 1 and %d", o.Regions, len(Regions)))
	}
	if o.Days < 1 || o.Days > 3660 {
		errs = append(errs, fmt.Errorf("days %d: must be between 1 and 3660", o.Days))
	}
	if o.EventsPerDay < 0 || o.EventsPerDay > 1_000_000_000 {
		errs = append(errs, fmt.Errorf("events per day %d: must be between 0 and 1e9", o.EventsPerDay))
	}
	if o.Workers < 0 {
		errs = append(errs, fmt.Errorf("workers %d: must not be negative", o.Workers))
	}
	return errors.Join(errs...)
}

// Run writes the log files and scenarios.json into o.Out and returns what it wrote. It stops at the first
// error or when ctx is done, leaving the files written so far.
func Run(ctx context.Context, o Options) (Summary, error) {
	if err := o.Validate(); err != nil {
		return Summary{}, fmt.Errorf("generate: %w", err)
	}
	if o.End.IsZero() {
		o.End = DefaultEnd
	}
	y, m, d := o.End.UTC().Date()
	o.End = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	if o.Workers == 0 {
		o.Workers = runtime.NumCPU()
	}
	p, err := newPlan(o)
	if err != nil {
		return Summary{}, fmt.Errorf("generate: plan: %w", err)
	}
	for _, dir := range p.dirs() {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return Summary{}, fmt.Errorf("generate: %w", err)
		}
	}

	var (
		next    atomic.Int64
		mu      sync.Mutex
		firstEr error
		sum     Summary
		wg      sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := min(o.Workers, max(len(p.jobs), 1))
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wr := newWriter(p)
			var local Summary
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(p.jobs) {
					break
				}
				n, size, err := wr.write(&p.jobs[i])
				if err != nil {
					mu.Lock()
					if firstEr == nil {
						firstEr = err
					}
					mu.Unlock()
					cancel()
					break
				}
				local.Files++
				local.Events += n
				local.Bytes += size
			}
			mu.Lock()
			sum.Files += local.Files
			sum.Events += local.Events
			sum.Bytes += local.Bytes
			mu.Unlock()
		}()
	}
	wg.Wait()
	if firstEr != nil {
		return sum, fmt.Errorf("generate: %w", firstEr)
	}
	if err := ctx.Err(); err != nil {
		return sum, fmt.Errorf("generate: %w", err)
	}
	if sum.Events != p.events || sum.Files != len(p.jobs) {
		return sum, fmt.Errorf("generate: wrote %d events in %d files, planned %d in %d", sum.Events, sum.Files, p.events, len(p.jobs))
	}
	sum.Scenarios = len(p.scenarios)
	if err := writeManifest(filepath.Join(o.Out, ManifestName), p, sum); err != nil {
		return sum, fmt.Errorf("generate: %w", err)
	}
	return sum, nil
}

// writer turns jobs into files; each worker owns one, so nothing in it is shared.
type writer struct {
	p    *plan
	g    *gen
	pcg  *rand.PCG
	json jw
	gz   *gzip.Writer
	zbuf bytes.Buffer
	name []byte
	secs [windowSeconds]int32
}

func newWriter(p *plan) *writer {
	pcg := rand.NewPCG(0, 0)
	wr := &writer{p: p, pcg: pcg, g: newGen(p, rand.New(pcg))}
	wr.json.b = make([]byte, 0, 1<<20)
	// A fixed header (no name, no modification time, set in write) keeps the output byte-identical.
	wr.gz, _ = gzip.NewWriterLevel(&wr.zbuf, gzip.BestSpeed)
	return wr
}

// write writes the file of job j and returns its number of records and its compressed size.
func (wr *writer) write(j *job) (int, int64, error) {
	p := wr.p
	end := p.windowEnd(int(j.win))
	start := end - windowSeconds
	wr.pcg.Seed(hash(uint64(p.o.Seed), 0x66696c65, uint64(j.acct), uint64(j.region), uint64(j.win)),
		hash(uint64(p.o.Seed), 0x73747265616d, uint64(j.win), uint64(j.region), uint64(j.acct)))
	g := wr.g
	g.setFile(int(j.acct), int(j.region), start)

	// Background times: count events per second, then walk the seconds in order, merging planted events.
	wr.secs = [windowSeconds]int32{}
	for range j.background {
		wr.secs[g.rng.IntN(windowSeconds)]++
	}
	w := &wr.json
	w.b = append(w.b[:0], `{"Records":[`...)
	planted := p.planted[j.plantedIdx:j.plantedEnd]
	n := 0
	for s := range windowSeconds {
		t := start + int64(s)
		for len(planted) > 0 && planted[0].t <= t {
			w.comma()
			w.b = append(w.b, planted[0].raw...)
			planted = planted[1:]
			n++
		}
		for range wr.secs[s] {
			g.background(w, t)
			n++
		}
	}
	w.b = append(w.b, ']', '}')
	if want := int(j.background) + int(j.plantedEnd-j.plantedIdx); n != want {
		return 0, 0, fmt.Errorf("file of window %d: wrote %d records, planned %d", j.win, n, want)
	}

	wr.zbuf.Reset()
	wr.gz.Reset(&wr.zbuf)
	wr.gz.ModTime = time.Unix(0, 0) // this gzip writes a zero time as a date in year 1, not as "no time"
	if _, err := wr.gz.Write(w.b); err != nil {
		return 0, 0, fmt.Errorf("gzip: %w", err)
	}
	if err := wr.gz.Close(); err != nil {
		return 0, 0, fmt.Errorf("gzip: %w", err)
	}
	wr.name = p.filePath(wr.name[:0], j, end, g.rng.Uint64())
	path := string(wr.name)
	if err := os.WriteFile(path, wr.zbuf.Bytes(), 0o644); err != nil {
		return 0, 0, fmt.Errorf("write %s: %w", path, err)
	}
	return n, int64(wr.zbuf.Len()), nil
}
