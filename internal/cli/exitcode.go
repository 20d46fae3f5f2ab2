package cli

import (
	"errors"
	"fmt"

	"github.com/pace-cli/pace/internal/platform"
	"github.com/pace-cli/pace/internal/policy"
)

// Exit codes, decided here and only here (documented in README.md).
const (
	ExitOK          = 0 // success
	ExitError       = 1 // the command failed
	ExitUsage       = 2 // unknown command, bad flag, wrong number of arguments
	ExitNotFound    = 3 // no such data policy, processing platform or table
	ExitInvalid     = 4 // the data policy is invalid
	ExitUnreachable = 5 // the processing platform cannot be reached
)

// usageError marks a mistake in how pace was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// exitCode maps the error a command returned to the process exit code.
func exitCode(err error) int {
	var usage usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &usage):
		return ExitUsage
	case policy.IsInvalid(err):
		return ExitInvalid
	case errors.Is(err, platform.ErrUnreachable):
		return ExitUnreachable
	case errors.Is(err, policy.ErrNotFound), errors.Is(err, platform.ErrNotFound):
		return ExitNotFound
	default:
		return ExitError
	}
}
