package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// In a real terminal (a pty from script(1)) of 30 and of 200 columns, the
// first-run notice is wrapped to the width, between words, and loses no
// word.
func TestNoticeFitsTheTerminal(t *testing.T) {
	need(t, "script")
	for _, cols := range []int{30, 200} {
		dir := filepath.Join(t.TempDir(), "cfg")
		cmd := exec.Command("script", "-qec", fmt.Sprintf("stty cols %d; %s version >/dev/null", cols, paceBin), "/dev/null")
		cmd.Env = []string{"PACE_CONFIG_PATH=" + dir, "PATH=/usr/bin:/bin", "TERM=dumb"}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("script: %v\n%s", err, out)
		}
		text := strings.ReplaceAll(string(out), "\r\n", "\n")
		if !strings.Contains(text, "pace counts the commands") {
			t.Fatalf("%d columns: no notice in %q", cols, text)
		}
		path := filepath.Join(dir, "telemetry.yaml")
		lines := strings.Split(strings.TrimSpace(text), "\n")
		for _, line := range lines {
			if len(line) >= cols && line != path && !strings.HasSuffix(line, path+".") {
				t.Errorf("%d columns: line of %d: %q", cols, len(line), line)
			}
		}
		if cols == 30 && len(lines) < 10 || cols == 200 && len(lines) > 4 {
			t.Errorf("%d columns: not wrapped to the width: %q", cols, lines)
		}
		if !strings.Contains(strings.Join(strings.Fields(text), " "), "hide this notice with PACE_TELEMETRY_NOTICE=off. This notice is shown once.") {
			t.Errorf("%d columns: words lost: %q", cols, text)
		}
	}
}
