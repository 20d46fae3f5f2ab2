//go:build !windows

package telemetryd

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// runUntilSignal runs fn until SIGTERM or SIGINT cancel its context; fn
// then has its bounded flush. A second signal exits at once. systemd and
// launchd stop a service with SIGTERM, so this serves them too.
func runUntilSignal(fn func(ctx context.Context) error, logf func(string, ...any)) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(sigs)
	go func() {
		sig, ok := <-sigs
		if !ok {
			return
		}
		logf("%v: stopping after one last upload (a second signal stops at once)", sig)
		cancel()
		if _, ok := <-sigs; ok {
			logf("second signal: exiting now")
			os.Exit(exitInterrupted)
		}
	}()
	return fn(ctx)
}
