// Command floor measures the parsing floor the ingest benchmark compares against: it gunzips and parses every
// CloudTrail record of the files under a folder on all cores, the same reading and parsing trailwatch does,
// and stores nothing.
//
//	go run ./bench/floor DIR
package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trailwatch/trailwatch/internal/cloudtrail"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: floor DIR")
		os.Exit(2)
	}
	debug.SetGCPercent(400)
	var files []string
	err := filepath.WalkDir(os.Args[1], func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json.gz") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	start := time.Now()
	var events, bad atomic.Int64
	work := make(chan string)
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var e cloudtrail.Event
			for p := range work {
				f, err := os.Open(p)
				if err != nil {
					bad.Add(1)
					continue
				}
				err = cloudtrail.Read(f, func(raw []byte) error {
					if cloudtrail.ParseEvent(raw, &e) == nil {
						events.Add(1)
					}
					return nil
				})
				f.Close()
				if err != nil {
					bad.Add(1)
				}
			}
		}()
	}
	for _, f := range files {
		work <- f
	}
	close(work)
	wg.Wait()
	el := time.Since(start).Seconds()
	fmt.Printf("floor: %d files, %d events, %d bad files, %.2f s, %.0f events/s\n", len(files), events.Load(), bad.Load(), el, float64(events.Load())/el)
}
