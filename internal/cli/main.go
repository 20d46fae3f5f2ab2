package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/pace-cli/pace/internal/build"
	"github.com/pace-cli/pace/internal/command"
	"github.com/pace-cli/pace/internal/config"
	"github.com/pace-cli/pace/internal/crash"
)

// Main runs pace with args (without the program name) and returns the
// process exit code. Every run that found its command is counted, once,
// after it ended: with its exit code, with ExitPanic and the crash site if
// it panicked, or with 128+n if signal n ended it (then pace exits at once,
// from another goroutine, through os.Exit).
func Main(args []string, streams IO, getenv config.Getenv) int {
	e := &env{IO: streams, getenv: getenv, version: build.Version()}
	r := &invocation{e: e, exit: os.Exit, grace: interruptGrace}
	root := newRoot(e)
	ctx, stop := r.catchSignals()
	defer stop()
	root.SetContext(ctx)
	cmd, code, site := r.execute(root, args)
	return exitStatus(r.finish(cmd, code, site))
}

// interruptGrace is how long an interrupted command has to return by
// itself (its context is cancelled) before pace counts the run and exits
// without it. With the count's bounded lock wait (interruptLockWait) pace
// is gone within 100 ms of the signal.
const interruptGrace = 30 * time.Millisecond

// interruptLockWait bounds the wait for the telemetry file's lock when an
// interrupted run is counted: the user asked pace to stop.
const interruptLockWait = 40 * time.Millisecond

// invocation is one run of pace: what ended it, and whether it was counted.
type invocation struct {
	e     *env
	exit  func(int) // os.Exit
	grace time.Duration

	mu       sync.Mutex
	signal   int  // the number of the first signal that ended the run, or 0
	finished bool // counted (or found not to count); code is final
	code     int
}

// execute runs the command, recovering a panic in it: Go would print the
// value and the trace and exit 2, pace's code for a usage error, without
// counting the run. The same is printed, and the run ends with ExitPanic.
func (r *invocation) execute(root *cobra.Command, args []string) (cmd *cobra.Command, code int, site string) {
	defer func() {
		if v := recover(); v != nil {
			site = crash.Here()
			fmt.Fprintf(r.e.Err, "panic: %v\n\n%s", v, debug.Stack())
			cmd, code = r.e.current.Load(), ExitPanic
			if cmd == nil {
				cmd = root
			}
		}
	}()
	cmd, code = command.Execute(root, args, r.e.Err, "Error: ", exitCode)
	return cmd, code, ""
}

// finish counts the run, once, and returns its final code: the first
// caller decides, be it the command's end or an interrupt's deadline. A
// signal that came before the end names the code (the command's own error
// is then the cancellation's), except for a panic.
func (r *invocation) finish(cmd *cobra.Command, code int, site string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return r.code
	}
	interrupted := r.signal != 0 && code != ExitPanic
	if interrupted {
		code = signalCode(r.signal)
	}
	r.finished, r.code = true, code
	if cmd != nil && counted(cmd) {
		wait := time.Duration(0)
		if interrupted {
			wait = interruptLockWait
		}
		record(r.e, cmd.CommandPath(), code, site, wait)
	}
	return code
}

// catchSignals turns the interrupts of interruptSignals into the
// cancellation of the returned context. If the command has not returned
// grace after the first, the run is counted as 128+n and pace exits; a
// second exits at once. Signals the process was started ignoring (nohup,
// a background job of a script) stay ignored: asking for them would undo
// that.
func (r *invocation) catchSignals() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var caught []os.Signal
	for _, s := range interruptSignals {
		if !signal.Ignored(s) {
			caught = append(caught, s)
		}
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, caught...)
	done := make(chan struct{})
	go func() {
		var first os.Signal
		select {
		case first = <-sigs:
		case <-done:
			return
		}
		n := signalNumber(first)
		r.mu.Lock()
		late := r.finished // the command ended first: its own code stands
		if !late {
			r.signal = n
		}
		r.mu.Unlock()
		if late {
			return
		}
		cancel()
		select {
		case <-done:
			return // the command returned; Main counts it and exits
		case <-time.After(r.grace):
		case <-sigs:
		}
		r.exit(exitStatus(r.finish(r.e.current.Load(), signalCode(n), "")))
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}
