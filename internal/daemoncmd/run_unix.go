//go:build !windows

package daemoncmd

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/pace-cli/pace/internal/daemon"
)

// runService takes the folder's lock, then serves until SIGTERM or SIGINT
// cancel its context; serve then has its bounded flush. A second signal
// exits at once. systemd and launchd stop a service with SIGTERM, so this
// serves them too.
func runService(_ string, _ bool, lock func() (func(), error), serve func(ctx context.Context) error, logf func(daemon.Priority, string, ...any)) error {
	unlock, err := lock()
	if err != nil {
		return err
	}
	defer unlock()
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
		logf(daemon.Info, "%v: stopping after one last upload (a second signal stops at once)", sig)
		cancel()
		if _, ok := <-sigs; ok {
			logf(daemon.Warning, "second signal: exiting now")
			os.Exit(exitInterrupted)
		}
	}()
	return serve(ctx)
}
