package store

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/trailwatch/trailwatch/internal/generate"
	"github.com/trailwatch/trailwatch/internal/source"
)

// BenchmarkIngest ingests 100,000 generated events into a fresh store per iteration and reports events/s.
// make bench measures 1,000,000 events against its baselines; this is the quick look:
//
//	go test ./internal/store -run '^$' -bench Ingest -benchtime 3x
func BenchmarkIngest(b *testing.B) {
	dir := b.TempDir()
	if _, err := generate.Run(context.Background(), generate.Options{Out: dir, Accounts: 3, Regions: 2, Days: 1, EventsPerDay: 100_000, Seed: 7}); err != nil {
		b.Fatal(err)
	}
	src, err := source.NewLocal(dir)
	if err != nil {
		b.Fatal(err)
	}
	var events int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st, err := Open(context.Background(), filepath.Join(b.TempDir(), "b.duckdb"), Options{MemoryLimit: "128MB"})
		if err != nil {
			b.Fatal(err)
		}
		sum, err := st.Ingest(context.Background(), src, IngestOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
		events += sum.Added
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}
