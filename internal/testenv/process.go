package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// errExited says a server process ended before it was ready.
var errExited = errors.New("exited before it was ready")

// runServer starts cmd (its output collected), waits until ready says it serves, and stops it with an
// interrupt (then a kill after stopTimeout) when the test ends, logging its output if the test failed.
// ready gets a channel closed when the process exits, and returns errExited then.
func runServer(t testing.TB, name string, cmd *exec.Cmd, stopTimeout time.Duration, ready func(exited <-chan struct{}) error) error {
	var out lockedBuffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	if err := ready(exited); err != nil {
		_ = cmd.Process.Kill()
		<-exited
		if errors.Is(err, errExited) {
			err = fmt.Errorf("%s %w (%v)", name, err, waitErr)
		}
		return fmt.Errorf("%w; output:\n%s", err, out.String())
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(stopTimeout):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
	return nil
}

// findServer returns a test server binary: the file named by $envVar, else name on $PATH, else
// $(go env GOPATH)/bin/name.
func findServer(envVar, name string) (string, error) {
	if bin := os.Getenv(envVar); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("%s: %w", envVar, err)
		}
		return bin, nil
	}
	if bin, err := exec.LookPath(name); err == nil {
		return bin, nil
	}
	gopath, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		return "", fmt.Errorf("not on PATH, and go env GOPATH: %w", err)
	}
	var tried []string
	for _, dir := range filepath.SplitList(strings.TrimSpace(string(gopath))) {
		bin := filepath.Join(dir, "bin", name)
		if st, err := os.Stat(bin); err == nil && !st.IsDir() {
			return bin, nil
		}
		tried = append(tried, bin)
	}
	return "", fmt.Errorf("not on PATH nor at %s", strings.Join(tried, ", "))
}

// Missing ends a test that lacks a real server or program it runs against: it fails when $requireEnv is 1
// (as in CI, so a missing install step cannot pass unnoticed), and is skipped otherwise.
func Missing(t testing.TB, requireEnv, msg string) {
	t.Helper()
	if os.Getenv(requireEnv) == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
