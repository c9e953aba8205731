package generate

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"time"
)

// CloudTrail delivers a file about every five minutes per account and region; each generated file holds
// the events of the five minutes before its time.
const (
	windowSeconds = 300
	windowsPerDay = 86400 / windowSeconds
)

// regionWeights is the share of traffic of each region of Regions relative to us-east-1, which also
// carries the global services (IAM, STS global endpoint, sign-in).
var regionWeights = []float64{1, 0.55, 0.45, 0.3, 0.22, 0.2, 0.16, 0.14, 0.12, 0.1, 0.09, 0.07, 0.07, 0.06, 0.05, 0.05, 0.04}

// plan is everything decided before any file is written: the organization, the number of events of every
// file and the planted events. Workers only read it.
type plan struct {
	o         Options
	start     int64 // first day, 00:00 UTC
	org       string
	regions   []string
	accounts  []*account
	persons   []*person
	storeID   string // Identity Center identity store, d-xxxxxxxxxx
	logBucket string
	// logArchive is the account holding the organization trail's bucket.
	logArchive int
	// newcomer is the account joining on the last day, or -1; joinAt is when its logs start.
	newcomer int
	joinAt   int64
	missing  []Missing

	jobs      []job
	planted   []planted // sorted by account, region, window, time; jobs hold ranges of it
	scenarios []Scenario
	events    int
	cat       *catalog
}

// job is one log file to write.
type job struct {
	acct, region           uint16
	win                    int32 // window index from the first day; the file time is windowEnd(win)
	background             int32 // events drawn from the file's random stream
	plantedIdx, plantedEnd int32 // planted events of the file, plan.planted[plantedIdx:plantedEnd]
}

// planted is one pre-rendered record of a scenario.
type planted struct {
	acct, region int
	win          int
	t            int64
	raw          []byte
}

func newPlan(o Options) (*plan, error) {
	p := &plan{
		o:        o,
		start:    o.End.Unix() - int64(o.Days-1)*86400,
		regions:  Regions[:o.Regions],
		newcomer: -1,
	}
	seed := uint64(o.Seed)
	p.org = makeID("o-", hash(seed, 0x6f7267), lowerAlnum, 10)
	p.storeID = makeID("d-", hash(seed, 0x6964), lowerHex, 10)
	p.logBucket = makeID("org-cloudtrail-logs-", hash(seed, 0x6c6f67), lowerHex, 12)
	p.cat = newCatalog()
	p.buildOrg()

	rng := rand.New(rand.NewPCG(hash(seed, 0x706c616e), hash(seed, 0x6e616c70)))
	if o.Days >= 2 {
		// Logs of one account and region are missing for a whole day, never the last one.
		a := 0
		if o.Accounts >= 2 {
			a = 1 + rng.IntN(o.Accounts-1)
		}
		r := 0
		if o.Regions >= 2 {
			r = 1 + rng.IntN(o.Regions-1)
		}
		day := rng.IntN(o.Days - 1)
		p.missing = []Missing{{Account: p.accounts[a].id, Region: p.regions[r], Day: p.dayString(day), acct: a, region: r, day: day}}
		// An account joins on the last day, in the morning.
		p.newcomer = len(p.accounts) - 1
		p.joinAt = p.start + int64(o.Days-1)*86400 + 9*3600 + int64(rng.IntN(4*3600))
	}

	if err := p.plantScenarios(rng); err != nil {
		return nil, err
	}
	slices.SortFunc(p.planted, func(a, b planted) int {
		if a.acct != b.acct {
			return a.acct - b.acct
		}
		if a.region != b.region {
			return a.region - b.region
		}
		if a.win != b.win {
			return a.win - b.win
		}
		return int(a.t - b.t)
	})
	p.allocate()
	return p, nil
}

func (p *plan) dayString(day int) string {
	return time.Unix(p.start+int64(day)*86400, 0).UTC().Format(time.DateOnly)
}

// windowEnd is the file time of window w: the first file of a day is written at 00:00 and holds the last
// five minutes of the day before, so every file lands in the folder of the day of its time, as CloudTrail
// delivers them.
func (p *plan) windowEnd(w int) int64 { return p.start + int64(w)*windowSeconds }

// windowOf is the window whose file holds an event of time t.
func (p *plan) windowOf(t int64) int {
	return int(floorDiv(t-p.start, windowSeconds)) + 1
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// slotOK says whether account a has logs in region r at time t: the window is in range, the account has
// joined and the day is not the missing one.
func (p *plan) slotOK(a, r int, t int64) bool {
	w := p.windowOf(t)
	if w < 0 || w >= p.o.Days*windowsPerDay {
		return false
	}
	if a == p.newcomer && p.windowEnd(w)-windowSeconds < p.joinAt {
		return false
	}
	for _, m := range p.missing {
		if m.acct == a && m.region == r && w/windowsPerDay == m.day {
			return false
		}
	}
	return true
}

// allocate spreads EventsPerDay over the windows of every account and region of each day, by weights of
// account, region, hour and a per-window jitter, and makes the jobs. The rounding carries the remainder
// along the cumulative sum, so each day gets exactly EventsPerDay events whatever the weights.
func (p *plan) allocate() {
	o := p.o
	type slot struct{ a, r, w int }
	plantedAt := map[slot][2]int32{}
	for i := 0; i < len(p.planted); {
		e := p.planted[i]
		j := i
		for j < len(p.planted) && p.planted[j].acct == e.acct && p.planted[j].region == e.region && p.planted[j].win == e.win {
			j++
		}
		plantedAt[slot{e.acct, e.region, e.win}] = [2]int32{int32(i), int32(j)}
		i = j
	}

	na, nr := len(p.accounts), len(p.regions)
	weights := make([]float64, na*nr*windowsPerDay)
	for day := range o.Days {
		total := 0.0
		for a := range na {
			for r := range nr {
				for k := range windowsPerDay {
					w := day*windowsPerDay + k
					end := p.windowEnd(w)
					x := 0.0
					if p.slotOK(a, r, end-1) {
						u := float64(hash(uint64(o.Seed), 0x6a6974, uint64(a), uint64(r), uint64(w))>>11) / (1 << 53)
						x = p.accounts[a].weight * regionWeights[r] * (0.3 + 0.7*busy(end-windowSeconds)) * (0.7 + 0.6*u)
					}
					weights[(a*nr+r)*windowsPerDay+k] = x
					total += x
				}
			}
		}
		cum, prev := 0.0, 0
		first, excess := len(p.jobs), 0
		for a := range na {
			for r := range nr {
				for k := range windowsPerDay {
					n := 0
					if x := weights[(a*nr+r)*windowsPerDay+k]; x > 0 {
						cum += x
						c := int(math.Round(float64(o.EventsPerDay) * cum / total))
						n, prev = max(c-prev, 0), max(c, prev)
					}
					w := day*windowsPerDay + k
					j := job{acct: uint16(a), region: uint16(r), win: int32(w)}
					if rg, ok := plantedAt[slot{a, r, w}]; ok {
						j.plantedIdx, j.plantedEnd = rg[0], rg[1]
					}
					np := int(j.plantedEnd - j.plantedIdx)
					j.background = int32(max(n-np, 0))
					excess += max(np-n, 0)
					if n+np > 0 {
						p.jobs = append(p.jobs, j)
						p.events += int(j.background) + np
					}
				}
			}
		}
		p.trim(first, excess)
	}
}

// trim takes excess background events away from the fullest files from p.jobs[first:], so that planted
// events beyond their file's share do not change the day's total. Every file keeps at least one event.
func (p *plan) trim(first, excess int) {
	for excess > 0 {
		best := -1
		for i := first; i < len(p.jobs); i++ {
			if p.jobs[i].background > 1 && (best < 0 || p.jobs[i].background > p.jobs[best].background) {
				best = i
			}
		}
		if best < 0 {
			return // tiny volumes: the planted events come on top
		}
		take := min(excess, int(p.jobs[best].background+1)/2)
		p.jobs[best].background -= int32(take)
		p.events -= take
		excess -= take
	}
}

// busy is how busy people are at time t (0 at night, 1 at the peak): offices in Europe and the US
// Eastern time zone, quieter at weekends.
func busy(t int64) float64 {
	h := float64(t%86400) / 3600
	eu := bump(h, 7, 17)
	us := bump(h, 13.5, 22.5)
	b := min(0.7*eu+0.6*us, 1)
	if wd := time.Unix(t, 0).UTC().Weekday(); wd == time.Saturday || wd == time.Sunday {
		b *= 0.25
	}
	return b
}

// bump is 1 between from and to with one-hour ramps either side, 0 elsewhere.
func bump(h, from, to float64) float64 {
	switch {
	case h < from-1 || h > to+1:
		return 0
	case h < from:
		return h - (from - 1)
	case h > to:
		return to + 1 - h
	}
	return 1
}

// dirs lists the day folders that receive files.
func (p *plan) dirs() []string {
	seen := map[[3]int]bool{}
	var out []string
	for i := range p.jobs {
		j := &p.jobs[i]
		k := [3]int{int(j.acct), int(j.region), int(j.win) / windowsPerDay}
		if seen[k] {
			continue
		}
		seen[k] = true
		b := p.filePath(nil, j, p.windowEnd(int(j.win)), 0)
		out = append(out, filepath.Dir(string(b)))
	}
	return out
}

// filePath appends the path of job j's file, named as CloudTrail names them:
// Out/AWSLogs/o-xxx/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_YYYYMMDDTHHMMZ_<16 alnum>.json.gz
func (p *plan) filePath(b []byte, j *job, end int64, h uint64) []byte {
	acct := p.accounts[j.acct].id
	region := p.regions[j.region]
	y, m, d := civil(floorDiv(end, 86400))
	sec := end - floorDiv(end, 86400)*86400
	b = append(b, p.o.Out...)
	b = append(b, filepath.Separator)
	b = append(b, "AWSLogs"...)
	for _, part := range []string{p.org, acct, "CloudTrail", region} {
		b = append(b, filepath.Separator)
		b = append(b, part...)
	}
	b = append(b, filepath.Separator)
	b = append4(b, y)
	b = append(b, filepath.Separator)
	b = append2(b, m)
	b = append(b, filepath.Separator)
	b = append2(b, d)
	b = append(b, filepath.Separator)
	b = append(b, acct...)
	b = append(b, "_CloudTrail_"...)
	b = append(b, region...)
	b = append(b, '_')
	b = append4(b, y)
	b = append2(b, m)
	b = append2(b, d)
	b = append(b, 'T')
	b = append2(b, int(sec/3600))
	b = append2(b, int(sec/60%60))
	b = append(b, 'Z', '_')
	b = appendID(b, "", h, mixedAlnum, 16)
	return append(b, ".json.gz"...)
}
