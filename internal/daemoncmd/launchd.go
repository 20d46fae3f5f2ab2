package daemoncmd

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// LaunchdLabel names the launchd job, reverse-DNS as launchd expects, and
// its plist (~/Library/LaunchAgents/<label>.plist).
const LaunchdLabel = "io.github.pace-cli.pace-telemetryd"

// launchdLog is where launchd writes the daemon's output: the user's
// ~/Library/Logs for an agent, /Library/Logs for a machine-wide daemon.
func launchdLog(system bool, home string) string {
	if system {
		return "/Library/Logs/pace-telemetryd.log"
	}
	return filepath.Join(home, "Library", "Logs", "pace-telemetryd.log")
}

// launchdPlist renders the job. KeepAlive restarts it only after a failure
// (SuccessfulExit false), at most every 5 s (ThrottleInterval); under
// launchd the daemon exits 0 when another daemon holds the folder
// (--held-exit-code=0), so that case is not respawned forever.
func launchdPlist(spec Spec, home string) string {
	var b strings.Builder
	esc := func(s string) string {
		var e bytes.Buffer
		xml.EscapeText(&e, []byte(s))
		return e.String()
	}
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>` + LaunchdLabel + `</string>
	<key>ProgramArguments</key>
	<array>
`)
	for _, a := range append([]string{spec.Exe}, spec.Args...) {
		b.WriteString("\t\t<string>" + esc(a) + "</string>\n")
	}
	b.WriteString(`	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<dict>
		<key>SuccessfulExit</key>
		<false/>
	</dict>
	<key>ThrottleInterval</key>
	<integer>5</integer>
	<key>ProcessType</key>
	<string>Background</string>
`)
	if spec.System && spec.User != "" {
		b.WriteString("\t<key>UserName</key>\n\t<string>" + esc(spec.User) + "</string>\n")
	}
	log := esc(launchdLog(spec.System, home))
	b.WriteString("\t<key>StandardOutPath</key>\n\t<string>" + log + "</string>\n")
	b.WriteString("\t<key>StandardErrorPath</key>\n\t<string>" + log + "</string>\n")
	b.WriteString("</dict>\n</plist>\n")
	return b.String()
}

// plistArguments reads ProgramArguments back from a plist, without the
// program itself.
func plistArguments(data []byte) ([]string, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = false
	var key string
	inArgs := false
	var args []string
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch {
			case t.Name.Local == "key":
				var k string
				if err := d.DecodeElement(&k, &t); err != nil {
					return nil, err
				}
				key = k
			case t.Name.Local == "array" && key == "ProgramArguments":
				inArgs = true
			case t.Name.Local == "string" && inArgs:
				var s string
				if err := d.DecodeElement(&s, &t); err != nil {
					return nil, err
				}
				args = append(args, s)
			}
		case xml.EndElement:
			if t.Name.Local == "array" && inArgs {
				if len(args) == 0 {
					return nil, errors.New("ProgramArguments is empty")
				}
				return args[1:], nil
			}
		}
	}
	return nil, fmt.Errorf("the plist has no ProgramArguments")
}
