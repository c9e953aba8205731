package store

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// DuckDB lets one process write a database file or several read it, never both. So that queries keep
// working during a long ingest, a reader that finds the file locked writes a wait file into <db>.wait/;
// the writer looks there after each commit and, when a live reader waits, closes the database, lets the
// reader in and opens it again once the reader is done. Wait files of processes that died are ignored.

func waitDir(path string) string { return path + ".wait" }

// announceWait records that this process waits for the store; it returns the file to remove.
func announceWait(path string) string {
	dir := waitDir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return ""
	}
	f := filepath.Join(dir, strconv.Itoa(os.Getpid()))
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		return ""
	}
	return f
}

// readersWaiting reports whether a live process waits for the store.
func readersWaiting(path string) bool {
	if path == "" {
		return false
	}
	entries, err := os.ReadDir(waitDir(path))
	if err != nil {
		return false
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(strings.TrimSpace(e.Name()))
		if err != nil || pid == os.Getpid() {
			continue
		}
		if syscall.Kill(pid, 0) == nil || syscall.Kill(pid, 0) == syscall.EPERM {
			return true
		}
		os.Remove(filepath.Join(waitDir(path), e.Name())) // stale: that process is gone
	}
	return false
}
