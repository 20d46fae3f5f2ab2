package cli

import (
	"errors"

	"github.com/pace-cli/pace/internal/command"
	"github.com/pace-cli/pace/internal/platform"
	"github.com/pace-cli/pace/internal/policy"
)

// Exit codes, decided here and only here (documented in docs/install.md).
const (
	ExitOK          = 0                 // success
	ExitError       = 1                 // the command failed
	ExitUsage       = command.ExitUsage // unknown command, bad flag, wrong number of arguments
	ExitNotFound    = 3                 // no such data policy, processing platform or table
	ExitInvalid     = 4                 // the data policy is invalid
	ExitUnreachable = 5                 // the processing platform cannot be reached
)

// usageErrorf marks a mistake in how pace was called (command.UsageError,
// which both programs share).
func usageErrorf(format string, args ...any) error {
	return command.Usagef(format, args...)
}

// exitCode maps the error a command returned to the process exit code.
func exitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case command.IsUsage(err):
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
