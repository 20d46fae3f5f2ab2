//go:build windows

package cli

import (
	"os"
	"syscall"
)

// interruptSignals end a run. Go delivers Ctrl+C and Ctrl+Break as
// os.Interrupt (SIGINT), and closing the console, logging off and shutting
// down as SIGTERM; Windows then ends the process within about 5 s.
var interruptSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

// signalNumber is the number Go gives the signal on Windows too (SIGINT 2,
// SIGTERM 15), so that a run is counted as 130 or 143 on every system and
// the team reads one code per cause.
func signalNumber(s os.Signal) int { return int(s.(syscall.Signal)) }

// statusControlCExit is STATUS_CONTROL_C_EXIT, what a Windows program ended
// by Ctrl+C exits with, and what cmd.exe and PowerShell scripts look for.
const statusControlCExit = 0xC000013A

// exitStatus is code, except that an interrupted run (counted as 130 or
// 143) exits as Windows programs do when interrupted.
func exitStatus(code int) int {
	if code == signalCode(2) || code == signalCode(15) {
		return statusControlCExit
	}
	return code
}
