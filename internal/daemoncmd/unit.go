package daemoncmd

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The unit is ours rather than the service library's: its template says
// WantedBy=multi-user.target (which a user manager never reaches), waits a
// fixed 120 s before a restart, and writes arguments without escaping
// systemd's specifiers (a % in an endpoint made a unit systemd refused).

// systemdUnit renders the unit file for spec.
func systemdUnit(spec Spec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[Unit]\nDescription=%s\n", description)
	fmt.Fprintf(&b, "ConditionFileIsExecutable=%s\n", specifiers(spec.Exe))
	if spec.System {
		b.WriteString("After=network-online.target\nWants=network-online.target\n")
	}
	b.WriteString("\n[Service]\n")
	// exec: start fails when the program cannot be run at all.
	b.WriteString("Type=exec\n")
	b.WriteString("ExecStart=" + execLine(append([]string{spec.Exe}, spec.Args...)) + "\n")
	if spec.System && spec.User != "" {
		fmt.Fprintf(&b, "User=%s\n", spec.User)
	}
	b.WriteString("Restart=on-failure\nRestartSec=5\n")
	// 3: another daemon holds the config folder; restarting cannot help.
	fmt.Fprintf(&b, "RestartPreventExitStatus=%d\n", exitRunning)
	fmt.Fprintf(&b, "SyslogIdentifier=%s\n", ServiceName)
	b.WriteString("\n[Install]\n")
	if spec.System {
		b.WriteString("WantedBy=multi-user.target\n")
	} else {
		b.WriteString("WantedBy=default.target\n")
	}
	return b.String()
}

// execLine quotes each word for ExecStart: C-style escapes inside double
// quotes, then % and $ doubled so that systemd substitutes neither a
// specifier nor a variable.
func execLine(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		var b strings.Builder
		b.WriteByte('"')
		for j := 0; j < len(w); j++ {
			switch c := w[j]; {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c == '\n':
				b.WriteString(`\n`)
			case c < 0x20 || c == 0x7f:
				fmt.Fprintf(&b, `\x%02x`, c)
			default:
				b.WriteByte(c)
			}
		}
		b.WriteByte('"')
		q[i] = specifiers(b.String())
	}
	return strings.Join(q, " ")
}

func specifiers(s string) string {
	return strings.NewReplacer("%", "%%", "$", "$$").Replace(s)
}

// parseExecStart reads back the words of the ExecStart line of a unit
// written by systemdUnit.
func parseExecStart(unit string) ([]string, error) {
	for _, line := range strings.Split(unit, "\n") {
		v, ok := strings.CutPrefix(strings.TrimSpace(line), "ExecStart=")
		if !ok {
			continue
		}
		v = strings.NewReplacer("%%", "%", "$$", "$").Replace(v)
		var words []string
		for v = strings.TrimSpace(v); v != ""; v = strings.TrimSpace(v) {
			if v[0] != '"' {
				w, rest, _ := strings.Cut(v, " ")
				words, v = append(words, w), rest
				continue
			}
			// A quoted word: its escapes are Go's, as execLine writes them.
			end := 1
			for ; end < len(v) && v[end] != '"'; end++ {
				if v[end] == '\\' {
					end++
				}
			}
			if end >= len(v) {
				return nil, errors.New("ExecStart has an unterminated quote")
			}
			w, err := strconv.Unquote(v[:end+1])
			if err != nil {
				return nil, fmt.Errorf("ExecStart: %v", err)
			}
			words, v = append(words, w), v[end+1:]
		}
		return words, nil
	}
	return nil, errors.New("the unit has no ExecStart line")
}
