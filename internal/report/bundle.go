package report

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/trailwatch/trailwatch/internal/review"
)

// Files of a bundle, besides findings/<rule>.csv and the evidence package's manifest, signature and ack.
const (
	ReportHTML   = "report.html"
	ReportMD     = "report.md"
	FindingsFile = "findings.json"
	QueriesFile  = "queries.sql"
	CoverageFile = "coverage.json"
	RunFile      = "run.json"
	SummaryTXT   = "summary.txt"
	SummaryHTM   = "summary.html"
	FindingsDir  = "findings"
)

// WriteBundle writes every file of a review into dir, which must not exist or be empty.
func WriteBundle(dir string, rv *review.Review) error {
	if err := os.MkdirAll(filepath.Join(dir, FindingsDir), 0o755); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	sum := NewSummary(rv)
	groups := ByRule(rv.Findings)
	type file struct {
		name  string
		write func(io.Writer) error
	}
	files := []file{
		{FindingsFile, func(w io.Writer) error { return FindingsJSON(w, rv) }},
		{ReportHTML, func(w io.Writer) error { return htmlWith(w, rv, groups) }},
		{ReportMD, func(w io.Writer) error { return markdownWith(w, rv, groups) }},
		{QueriesFile, func(w io.Writer) error { return QueriesSQL(w, rv) }},
		{CoverageFile, func(w io.Writer) error { return CoverageJSON(w, rv) }},
		{RunFile, func(w io.Writer) error { return RunJSON(w, rv) }},
		{SummaryTXT, func(w io.Writer) error { return SummaryText(w, sum) }},
		{SummaryHTM, func(w io.Writer) error { return SummaryHTML(w, sum) }},
	}
	for _, g := range groups {
		files = append(files, file{filepath.Join(FindingsDir, CSVName(g.Rule)), func(w io.Writer) error { return RuleCSV(w, g.Findings) }})
	}
	// The files are independent: write them on every core, the largest (findings.json) first.
	work := make(chan int, len(files))
	for i := range files {
		work <- i
	}
	close(work)
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				errs[i] = writeFile(filepath.Join(dir, files[i].name), files[i].write)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// CSVName is the file name of a rule's findings: the rule name with anything but letters, digits, dot,
// dash and underscore replaced.
func CSVName(rule string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, rule) + ".csv"
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write bundle %s: %w", path, err)
	}
	return nil
}
