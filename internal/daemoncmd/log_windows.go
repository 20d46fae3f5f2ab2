//go:build windows

package daemoncmd

import (
	"fmt"

	"github.com/kardianos/service"

	"github.com/pace-cli/pace/internal/daemon"
)

func journalStream() bool { return false }

// eventLog writes to the event log, with its levels, when the service
// control manager started us.
func eventLog() func(daemon.Priority, string, ...any) {
	if service.Interactive() {
		return nil
	}
	s, err := service.New(program{}, &service.Config{Name: ServiceName})
	if err != nil {
		return nil
	}
	l, err := s.Logger(nil)
	if err != nil {
		return nil
	}
	return func(p daemon.Priority, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		switch p {
		case daemon.Error:
			l.Error(msg)
		case daemon.Warning:
			l.Warning(msg)
		default:
			l.Info(msg)
		}
	}
}
