//go:build windows

package telemetryd

import (
	"context"
	"os"
	"os/signal"

	"github.com/kardianos/service"
)

// runUntilSignal runs fn under the service control manager when started
// by it (which needs the library's dispatcher), and until Ctrl+C otherwise.
func runUntilSignal(fn func(ctx context.Context) error, logf func(string, ...any)) error {
	if service.Interactive() {
		ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
		defer cancel()
		return fn(ctx)
	}
	p := &scmProgram{fn: fn, done: make(chan error, 1)}
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
	fn     func(ctx context.Context) error
	cancel context.CancelFunc
	done   chan error
}

func (p *scmProgram) Start(service.Service) error {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go func() { p.done <- p.fn(ctx) }()
	return nil
}

func (p *scmProgram) Stop(service.Service) error {
	p.cancel()
	err := <-p.done
	p.done <- err
	return nil
}
