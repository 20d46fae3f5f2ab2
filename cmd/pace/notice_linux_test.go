package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/pace-cli/pace/internal/testenv"
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
		testenv.CheckNotice(t, string(out), cols, filepath.Join(dir, "telemetry.yaml"))
	}
}
