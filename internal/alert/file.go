package alert

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

const fileName = "file"

// FileConfig configures the file channel.
type FileConfig struct {
	// Name names the sink (default "file").
	Name string `yaml:"name"`
	// Path is the file alerts are appended to, one JSON object a line; "-" is standard output.
	Path string `yaml:"path"`
}

// File appends each alert as one JSON line (the Alert's json form, as the webhook sends it) to a file,
// synced to disk before Send returns, or writes it to standard output. The file is opened for each alert, so
// a rotated file is picked up; it is created with mode 0600.
type File struct {
	name string
	path string // "" for stdout

	mu  sync.Mutex
	out io.Writer // standard output, when path is ""
}

var _ Sink = (*File)(nil)

// Validate checks the configuration without touching the file system.
func (c FileConfig) Validate() error {
	if c.Path == "" {
		return fmt.Errorf("%s: path is required (\"-\" for standard output)", cmp.Or(c.Name, fileName))
	}
	return nil
}

// NewFile validates the configuration and checks that the file can be opened for appending.
func NewFile(cfg FileConfig) (*File, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f := &File{name: cmp.Or(cfg.Name, fileName)}
	if cfg.Path == "-" {
		f.out = os.Stdout
		return f, nil
	}
	f.path = filepath.Clean(cfg.Path)
	fh, err := f.open()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.name, err)
	}
	if err := fh.Close(); err != nil {
		return nil, fmt.Errorf("%s: close %s: %w", f.name, f.path, err)
	}
	return f, nil
}

// Name returns the configured name, "file" by default.
func (f *File) Name() string { return f.name }

// Send writes the alert as one line. For a file, the line is on disk when Send returns nil.
func (f *File) Send(ctx context.Context, a Alert) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", f.name, err)
	}
	line, err := json.Marshal(a)
	if err != nil {
		return Permanent(fmt.Errorf("%s: encode alert: %w", f.name, err))
	}
	line = append(line, '\n')
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.path == "" {
		if _, err := f.out.Write(line); err != nil {
			return fmt.Errorf("%s: write to standard output: %w", f.name, err)
		}
		return nil
	}
	fh, err := f.open()
	if err != nil {
		return fmt.Errorf("%s: %w", f.name, err)
	}
	_, werr := fh.Write(line) // one write of the whole line: O_APPEND keeps it in one piece
	serr := fh.Sync()
	cerr := fh.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("%s: append to %s: %w", f.name, f.path, err)
	}
	return nil
}

// open opens the file for appending, creating it with mode 0600.
func (f *File) open() (*os.File, error) {
	return os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
}
