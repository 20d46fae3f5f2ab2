//go:build darwin

package machinepolicy

import (
	"path/filepath"
	"strings"
	"testing"
)

// The folders of both places, as macOS ships them (/Library root:wheel,
// /Library/Application Support root:admin), pass the administrator check:
// else every Mac would ignore its policy.
func TestMachinePolicyMacOSFolders(t *testing.T) {
	for _, dir := range []string{filepath.Dir(filepath.Dir(ManagedFile)), filepath.Dir(filepath.Dir(File))} {
		if why, err := checkFolders(dir); why != "" || err != nil {
			t.Errorf("%s: %q %v", dir, why, err)
		}
	}
	// With no policy on the runner, status names both places.
	if p := Load(); p.Found || !strings.Contains(p.Source, ManagedFile) || !strings.Contains(p.Source, File) {
		t.Errorf("no policy: %+v", p)
	}
}
