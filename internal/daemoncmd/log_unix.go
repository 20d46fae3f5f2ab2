//go:build !windows

package daemoncmd

import (
	"fmt"
	"os"
	"syscall"

	"github.com/pace-cli/pace/internal/daemon"
)

// journalStream tells whether stderr is systemd's journal: systemd sets
// JOURNAL_STREAM to its device and inode (systemd.exec(5)).
func journalStream() bool {
	v := os.Getenv("JOURNAL_STREAM")
	if v == "" {
		return false
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(2, &st); err != nil {
		return false
	}
	return v == fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

// eventLog is for Windows.
func eventLog() func(daemon.Priority, string, ...any) { return nil }

// backgroundStreams: a Windows concern (logon_windows.go).
func backgroundStreams(io IO) IO { return io }

var quoteArg = shellQuote
