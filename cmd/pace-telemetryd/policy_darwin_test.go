//go:build darwin

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"howett.net/plist"

	"github.com/pace-cli/pace/internal/machinepolicy"
	"github.com/pace-cli/pace/internal/testenv"
)

// TestMachinePolicyMacOS puts the policy where macOS keeps it, on the
// native runner: the managed preferences a configuration profile installs
// (binary and XML plists, root-owned), then the file that serves when
// there are none, and runs the real pace on them. It writes into /Library
// with sudo, so it runs only where PACE_TEST_REAL_SERVICE=1 says the
// machine is a throwaway runner.
func TestMachinePolicyMacOS(t *testing.T) {
	needRealService(t)
	testenv.NeedTool(t, "sudo")
	if err := exec.Command("sudo", "-n", "true").Run(); err != nil {
		testenv.Unavailable(t, "sudo needs a password here: "+err.Error())
	}
	for _, p := range []string{machinepolicy.ManagedFile, machinepolicy.File} {
		if _, err := os.Lstat(p); err == nil {
			t.Fatalf("%s exists: this machine has a pace policy already", p)
		}
	}
	sudo := func(stdin []byte, args ...string) {
		t.Helper()
		cmd := exec.Command("sudo", append([]string{"-n"}, args...)...)
		cmd.Stdin = bytes.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sudo %v: %v\n%s", args, err, out)
		}
	}
	// put writes data as root, mode 0644, as a profile or an installer
	// leaves it.
	put := func(path string, data []byte) {
		t.Helper()
		sudo(nil, "mkdir", "-p", filepath.Dir(path))
		sudo(data, "tee", path)
		sudo(nil, "chown", "root:wheel", path)
		sudo(nil, "chmod", "0644", path)
	}
	t.Cleanup(func() {
		exec.Command("sudo", "-n", "rm", "-f", machinepolicy.ManagedFile, machinepolicy.File).Run()
		exec.Command("sudo", "-n", "rmdir", filepath.Dir(machinepolicy.File)).Run()
	})
	binary, err := plist.Marshal(map[string]any{"Telemetry": "off"}, plist.BinaryFormat)
	if err != nil {
		t.Fatal(err)
	}
	xml, err := plist.MarshalIndent(map[string]any{"Telemetry": "local", "TelemetryEndpoint": "https://telemetry.corp.example/"}, plist.XMLFormat, "\t")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()

	if st := statusOf(t, dir); st.Mode != "on" || st.Policy.Found || !strings.Contains(st.Policy.Source, machinepolicy.ManagedFile) {
		t.Fatalf("no policy: %+v", st)
	}
	put(machinepolicy.ManagedFile, binary)
	if st := statusOf(t, dir); st.Mode != "off" || st.Policy.Source != machinepolicy.ManagedFile || !strings.Contains(st.Reason, "sets telemetry: off") {
		t.Fatalf("a binary managed preferences file with Telemetry off: %+v", st)
	}
	if code, _, errOut := paceIn(t, dir, nil, "telemetry", "enable"); code != 1 || !strings.Contains(errOut, "cannot enable telemetry") {
		t.Fatalf("enable under an off profile: %d %s", code, errOut)
	}
	put(machinepolicy.ManagedFile, xml)
	if st := statusOf(t, dir); st.Mode != "local" || st.Policy.Telemetry != "local" || st.Uploader.EndpointFrom != "the machine's policy "+machinepolicy.ManagedFile {
		t.Fatalf("an XML managed preferences file with Telemetry local: %+v", st)
	}
	// A wrong type counts as off, and says why.
	bad, _ := plist.Marshal(map[string]any{"Telemetry": true}, plist.BinaryFormat)
	put(machinepolicy.ManagedFile, bad)
	if st := statusOf(t, dir); st.Mode != "off" || !strings.Contains(st.Policy.Error, "Telemetry must be a string") {
		t.Fatalf("a boolean Telemetry: %+v", st)
	}
	// Writable by everyone: ignored, with a warning.
	sudo(nil, "chmod", "0666", machinepolicy.ManagedFile)
	if st := statusOf(t, dir); st.Mode != "on" || !strings.Contains(st.Policy.Ignored, "every user may write") {
		t.Fatalf("a managed preferences file anyone may write: %+v", st)
	}

	// Without managed preferences, the file serves.
	sudo(nil, "rm", "-f", machinepolicy.ManagedFile)
	put(machinepolicy.File, []byte("telemetry: off\n"))
	if st := statusOf(t, dir); st.Mode != "off" || st.Policy.Source != machinepolicy.File {
		t.Fatalf("policy.yaml with telemetry off: %+v", st)
	}
}
