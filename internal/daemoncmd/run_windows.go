//go:build windows

package daemoncmd

import (
	"context"
	"os"
	"os/signal"

	"github.com/kardianos/service"

	"github.com/pace-cli/pace/internal/daemon"
)

// runService runs under the service control manager when started by it
// (which needs the library's dispatcher), and until Ctrl+C otherwise.
// Under the manager the lock is taken before the service reports itself
// started: a folder held by another daemon is a failed start (the service
// stops, with the error in the event log), not a running service that
// does nothing; and a daemon that ends on its own exits non-zero so that
// the manager's recovery (restart after 5 s) applies.
func runService(lock func() (func(), error), serve func(ctx context.Context) error, logf func(daemon.Priority, string, ...any)) error {
	if service.Interactive() {
		unlock, err := lock()
		if err != nil {
			return err
		}
		defer unlock()
		ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
		defer cancel()
		return serve(ctx)
	}
	p := &scmProgram{lock: lock, serve: serve, logf: logf, done: make(chan error, 1)}
	s, err := service.New(p, &service.Config{Name: ServiceName})
	if err != nil {
		return err
	}
	if err := s.Run(); err != nil {
		return err
	}
	return <-p.done
}

type scmProgram struct {
	lock   func() (func(), error)
	serve  func(ctx context.Context) error
	logf   func(daemon.Priority, string, ...any)
	cancel context.CancelFunc
	done   chan error
}

func (p *scmProgram) Start(service.Service) error {
	unlock, err := p.lock()
	if err != nil {
		p.logf(daemon.Error, "%v", err)
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go func() {
		err := p.serve(ctx)
		unlock()
		select {
		case <-ctx.Done(): // asked to stop: Stop reports
			p.done <- err
		default:
			p.logf(daemon.Error, "stopped on its own: %v", err)
			os.Exit(exitError)
		}
	}()
	return nil
}

func (p *scmProgram) Stop(service.Service) error {
	p.cancel()
	err := <-p.done
	p.done <- err
	return nil
}
