package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
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
