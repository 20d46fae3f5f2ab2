package daemoncmd

import (
	"bytes"
	"debug/pe"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// windowless marks a real Go Windows program for the GUI subsystem and
// changes nothing else; what is not a Windows program is refused.
func TestWindowless(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Windows program; not with -short")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\nfunc main() {}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module hello\ngo 1.22\n"), 0o644)
	for _, arch := range []string{"amd64", "arm64"} {
		exe := filepath.Join(dir, arch+".exe")
		cmd := exec.Command("go", "build", "-o", exe, ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH="+arch, "GOWORK=off", "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build: %v\n%s", err, out)
		}
		data, _ := os.ReadFile(exe)
		subsystem := func(b []byte) uint16 {
			f, err := pe.NewFile(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			return f.OptionalHeader.(*pe.OptionalHeader64).Subsystem
		}
		if got := subsystem(data); got != peSubsystemConsole {
			t.Fatalf("%s: go build made subsystem %d", arch, got)
		}
		out, err := windowless(data)
		if err != nil {
			t.Fatal(err)
		}
		if got := subsystem(out); got != peSubsystemGUI {
			t.Errorf("%s: subsystem %d after windowless, want %d", arch, got, peSubsystemGUI)
		}
		diff := 0
		for i := range data {
			if data[i] != out[i] {
				diff++
			}
		}
		if len(out) != len(data) || diff != 1 {
			t.Errorf("%s: %d bytes differ (of %d, %d), want 1", arch, diff, len(data), len(out))
		}
	}
	for _, junk := range [][]byte{nil, []byte("MZ"), append([]byte("MZ"), make([]byte, 100)...), []byte("#!/bin/sh\necho hi\n")} {
		if _, err := windowless(junk); err == nil {
			t.Errorf("windowless(%q) accepted it", junk)
		}
	}
}
