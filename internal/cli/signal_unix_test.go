//go:build unix

package cli

import (
	"io"
	"syscall"
	"testing"
	"time"
)

// A second interrupt ends the wait for the command at once, grace or not.
func TestSecondInterruptExitsAtOnce(t *testing.T) {
	exited := make(chan int, 1)
	e := &env{IO: IO{Out: io.Discard, Err: io.Discard}, getenv: func(string) string { return "" }}
	r := &invocation{e: e, exit: func(code int) { exited <- code }, grace: time.Hour}
	ctx, stop := r.catchSignals()
	defer stop()
	syscall.Kill(syscall.Getpid(), syscall.SIGINT)
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the first SIGINT did not cancel the command's context")
	}
	select {
	case code := <-exited:
		t.Fatalf("exited (%d) on the first signal, before the grace period", code)
	case <-time.After(100 * time.Millisecond):
	}
	syscall.Kill(syscall.Getpid(), syscall.SIGINT)
	select {
	case code := <-exited:
		if code != 130 {
			t.Fatalf("exit %d, want 130", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the second SIGINT did not exit")
	}
}
