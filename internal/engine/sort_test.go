package engine

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trailwatch/trailwatch/internal/rulefmt"
)

// TestSortFindings checks the permutation sort against a stable sort of the findings themselves, on
// findings with many ties (same time, rule and event ID), where only the tie order tells them apart.
func TestSortFindings(t *testing.T) {
	rules := []*Rule{{Rule: &rulefmt.Rule{Name: "a"}}, {Rule: &rulefmt.Rule{Name: "b"}}, {Rule: &rulefmt.Rule{ID: "c"}}}
	t0 := time.Date(2024, 3, 31, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 7, 1000, 20_000} {
		var fs []Finding
		for i := range n {
			fs = append(fs, Finding{Rule: rules[rng.IntN(len(rules))], Time: t0.Add(time.Duration(rng.IntN(50)) * time.Second),
				EventID: strconv.Itoa(rng.IntN(20)), Principal: strconv.Itoa(i)})
		}
		want := slices.Clone(fs)
		slices.SortStableFunc(want, func(a, b Finding) int {
			if c := a.Time.Compare(b.Time); c != 0 {
				return c
			}
			if c := strings.Compare(a.Rule.Ref(), b.Rule.Ref()); c != 0 {
				return c
			}
			return strings.Compare(a.EventID, b.EventID)
		})
		sortFindings(fs)
		for i := range fs {
			if fs[i].Principal != want[i].Principal {
				t.Fatalf("%d findings: position %d holds finding %s, want %s", n, i, fs[i].Principal, want[i].Principal)
			}
		}
	}
}
