//go:build !windows

package cli

import (
	"os"
	"syscall"
)

// interruptSignals end a run: Ctrl-C, a terminal that closes, and kill's
// default. SIGKILL cannot be caught, so a run killed so is never counted.
var interruptSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}

func signalNumber(s os.Signal) int { return int(s.(syscall.Signal)) }

// exitStatus is code: on Unix a run ended by signal n exits 128+n, as a
// shell reports it.
func exitStatus(code int) int { return code }
