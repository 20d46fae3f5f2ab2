//go:build windows

package daemoncmd

import (
	"context"
	"errors"
	"os"
	"os/signal"

	"github.com/kardianos/service"
	"golang.org/x/sys/windows"

	"github.com/pace-cli/pace/internal/daemon"
)

// runService runs under the service control manager when started by it
// (which needs the library's dispatcher), and otherwise until Ctrl+C or
// `pace-telemetryd stop` (its stop event: see stop_windows.go).
// Under the manager the lock is taken before the service reports itself
// started: a folder held by another daemon is a failed start (the service
// stops, with the error in the event log), not a running service that
// does nothing; and a daemon that ends on its own exits non-zero so that
// the manager's recovery (restart after 5 s) applies.
//
// The library's test for "started by the manager" (svc.IsWindowsService:
// the parent is services.exe in session 0) is wrong in some containers
// and under wine; when the manager then refuses the dispatcher, this runs
// as a plain process.
func runService(dir string, supervised bool, lock func() (func(), error), serve func(ctx context.Context) error, logf func(daemon.Priority, string, ...any)) error {
	if err := refuseLocalSystem(); err != nil {
		return err
	}
	if service.Interactive() {
		if isBackground() && !supervised {
			// What the Run value starts: see supervise_windows.go.
			return supervise(dir, logf)
		}
		return runDetached(dir, supervised, lock, serve, logf)
	}
	p := &scmProgram{lock: lock, serve: serve, logf: logf, done: make(chan error, 1)}
	s, err := service.New(p, &service.Config{Name: ServiceName})
	if err != nil {
		return err
	}
	if err := s.Run(); err != nil {
		if errors.Is(err, windows.ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
			return runDetached(dir, supervised, lock, serve, logf)
		}
		return err
	}
	return <-p.done
}

// runDetached serves until Ctrl+C or dir's stop event.
func runDetached(dir string, supervised bool, lock func() (func(), error), serve func(ctx context.Context) error, logf func(daemon.Priority, string, ...any)) error {
	unlock, err := lock()
	if err != nil {
		return err
	}
	defer unlock()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	stopped, err := listenStop(dir, !supervised)
	if err != nil {
		return err
	}
	go func() {
		select {
		case <-stopped:
			logf(daemon.Info, "asked to stop: stopping after one last upload")
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := writePid(dir); err != nil {
		logf(daemon.Warning, "%s: %v", pidName, err)
	}
	defer removePid(dir)
	return serve(ctx)
}

// refuseLocalSystem: LocalSystem may change any file on the machine, and
// the config folder is the user's, who could swap in a junction to send
// its writes anywhere (CWE-1386). A service installed by an older version
// with --system fails to start, saying so in the event log.
func refuseLocalSystem() error {
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil || !u.User.Sid.IsWellKnown(windows.WinLocalSystemSid) {
		return nil
	}
	return errLocalSystem
}

var errLocalSystem = errors.New("pace-telemetryd does not run as LocalSystem: its config folder belongs to a user, who could redirect a SYSTEM process's writes with a junction; from an administrator prompt run 'pace-telemetryd uninstall --system', then as each user 'pace-telemetryd install' (no administrator needed)")

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
