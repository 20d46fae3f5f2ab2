package daemoncmd

import (
	"fmt"
	"log"
	"strings"

	"github.com/pace-cli/pace/internal/daemon"
)

// logger writes to the journal with its priority prefixes when systemd
// runs us, to the Windows event log under the service control manager,
// and to stderr otherwise (which launchd sends to ~/Library/Logs).
func (o *options) logger() func(daemon.Priority, string, ...any) {
	if journalStream() {
		// sd-daemon(3): "<3>" at the start of a line is its priority, so
		// that journalctl -p err shows failures.
		return func(p daemon.Priority, format string, args ...any) {
			fmt.Fprintf(o.Err, "<%d>%s\n", p, oneLine(fmt.Sprintf(format, args...)))
		}
	}
	if l := eventLog(); l != nil {
		return l
	}
	l := log.New(o.Err, "pace-telemetryd: ", log.LstdFlags)
	return func(p daemon.Priority, format string, args ...any) {
		prefix := map[daemon.Priority]string{daemon.Error: "error: ", daemon.Warning: "warning: "}[p]
		l.Print(prefix + oneLine(fmt.Sprintf(format, args...)))
	}
}

// oneLine keeps one message on one line, whatever it quotes.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", `\n`, "\n", `\n`, "\r", `\r`).Replace(s)
}
