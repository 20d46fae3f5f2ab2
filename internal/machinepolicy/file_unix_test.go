//go:build !windows

package machinepolicy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A missing policy is no policy; one in a folder every user may write to
// (the temporary folder) is ignored, whatever it says. The owners and
// modes of /etc/pace are tested with real processes in a mount namespace
// (cmd/pace-telemetryd/policy_linux_test.go).
func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	if p := readFile(path, parseYAML); p.Found || p.Source != path || p.InEffect() {
		t.Fatalf("missing: %+v", p)
	}
	os.WriteFile(path, []byte("telemetry: off\n"), 0o644)
	p := readFile(path, parseYAML)
	if !p.Found || p.InEffect() || !strings.Contains(p.Ignored, "every user may write "+os.TempDir()) {
		t.Fatalf("under %s: %+v", os.TempDir(), p)
	}
}

// No policy costs one failed open on every pace run.
func BenchmarkLoadNone(b *testing.B) {
	path := filepath.Join(b.TempDir(), "policy.yaml")
	for b.Loop() {
		if readFile(path, parseYAML).Found {
			b.Fatal("found")
		}
	}
}
