package telemetry

import (
	"os/exec"
	"strings"
	"testing"
)

// The CLI's recording path must not be able to reach the network: no
// package it is built from may be net or below it. (The binary as a whole
// links net through pflag's IP flags; cmd/pace's strace test shows it never
// opens a socket.)
func TestRecordingPathImportsNoNetwork(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps",
		"github.com/pace-cli/pace/internal/telemetry",
		"github.com/pace-cli/pace/internal/config",
		"github.com/pace-cli/pace/internal/lockedfile",
		"github.com/pace-cli/pace/internal/machinepolicy", // read on every run
	).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list printed too little to trust: %q", out)
	}
	for _, d := range deps {
		if d == "net" || strings.HasPrefix(d, "net/") || d == "crypto/tls" || d == "os/exec" {
			t.Errorf("the recording path depends on %s", d)
		}
	}
}
