package daemoncmd

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kardianos/service"
)

// library drives launchd and the Windows service control manager through
// the service library, and fixes what it leaves to its callers: uninstall
// stops the service first, restart starts a stopped one, and status tells
// a missing service from one that is stopped.
type library struct {
	system bool
	// options adds the OS's own settings to a service description.
	options func(cfg *service.Config, spec Spec) error
	// installed reads the arguments of the installed service.
	installed func(system bool) ([]string, error)
}

func (l library) service(spec Spec) (service.Service, error) {
	cfg := &service.Config{
		Name:        ServiceName,
		DisplayName: displayName,
		Description: description,
		Executable:  spec.Exe,
		Arguments:   spec.Args,
		UserName:    spec.User,
		Option: service.KeyValue{
			"UserService": !l.system,
			"RunAtLoad":   true, // launchd: start at login
		},
	}
	if l.options != nil {
		if err := l.options(cfg, spec); err != nil {
			return nil, err
		}
	}
	return service.New(program{}, cfg)
}

// program satisfies service.Interface for control commands; `run` brings
// its own (see run_*.go).
type program struct{}

func (program) Start(service.Service) error { return nil }
func (program) Stop(service.Service) error  { return nil }

func (l library) Platform() string {
	s, err := l.service(Spec{System: l.system})
	if err != nil {
		return "none"
	}
	return s.Platform()
}

func (l library) Install(spec Spec) error {
	s, err := l.service(spec)
	if err != nil {
		return libraryError(err)
	}
	return libraryError(s.Install())
}

func (l library) Uninstall() error {
	s, err := l.service(Spec{System: l.system})
	if err != nil {
		return libraryError(err)
	}
	st, err := s.Status()
	if errors.Is(err, service.ErrNotInstalled) {
		return errNotInstalled
	}
	if err == nil && st == service.StatusRunning {
		if err := s.Stop(); err != nil {
			return libraryError(fmt.Errorf("stop before removing: %w", err))
		}
	}
	return libraryError(s.Uninstall())
}

func (l library) act(f func(service.Service) error) error {
	s, err := l.service(Spec{System: l.system})
	if err != nil {
		return libraryError(err)
	}
	if _, err := s.Status(); errors.Is(err, service.ErrNotInstalled) {
		return errNotInstalled
	}
	return libraryError(f(s))
}

func (l library) Start() error { return l.act(service.Service.Start) }

// Stop waits for the process to end, after its last upload: launchctl
// unload returns once it has sent SIGTERM.
func (l library) Stop() error {
	return l.act(func(s service.Service) error {
		if err := s.Stop(); err != nil {
			return err
		}
		for deadline := time.Now().Add(stopTimeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if st, err := s.Status(); err != nil || st != service.StatusRunning {
				return nil
			}
		}
		return fmt.Errorf("it did not stop within %v", stopTimeout)
	})
}

// stopTimeout bounds the wait for a stopped daemon's last upload (its own
// flush is bounded by 5 s).
const stopTimeout = 30 * time.Second

func (l library) Restart() error {
	return l.act(func(s service.Service) error {
		if st, err := s.Status(); err == nil && st == service.StatusStopped {
			return s.Start() // the library's restart fails on a stopped service
		}
		return s.Restart()
	})
}

func (l library) Status() (Status, error) {
	s, err := l.service(Spec{System: l.system})
	if err != nil {
		return Status{State: Unknown}, libraryError(err)
	}
	st, err := s.Status()
	switch {
	case errors.Is(err, service.ErrNotInstalled):
		return Status{State: NotInstalled, Detail: s.Platform()}, nil
	case err != nil:
		return Status{State: Unknown, Detail: s.Platform()}, libraryError(err)
	case st == service.StatusRunning:
		return Status{State: Running, Detail: s.Platform()}, nil
	case st == service.StatusStopped:
		return Status{State: Stopped, Detail: s.Platform()}, nil
	}
	return Status{State: Unknown, Detail: s.Platform()}, nil
}

func (l library) Installed() ([]string, error) {
	if l.installed == nil {
		return nil, errors.New("this service manager does not say how the service was installed")
	}
	return l.installed(l.system)
}

// libraryError keeps the library's message and adds advice where it means
// that no service manager can be used.
func libraryError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, service.ErrNoServiceSystemDetected), strings.Contains(err.Error(), "not supported"):
		return fmt.Errorf("%v; per-user services need systemd, launchd or Windows: %s", err, noManager)
	}
	return err
}
