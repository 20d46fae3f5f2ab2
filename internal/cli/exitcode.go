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

	// ExitPanic: pace itself failed (a panic, a bug). 70 is EX_SOFTWARE of
	// sysexits.h, "an internal software error": outside 0-5, which are
	// pace's own outcomes, and below 128, where shells put 128+n for a
	// signal, so that a crash is never mistaken for either.
	ExitPanic = 70
)

// signalCode is what a run ended by signal number n is counted as, and, on
// Unix, exits with: 128+n, as shells report it (130 for SIGINT).
func signalCode(n int) int { return 128 + n }

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
