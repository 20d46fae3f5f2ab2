//go:build windows

package config

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A config folder that is a junction is refused; the folder it points at
// is named as the fix. (wine 8 makes no reparse points: mklink /J fails
// there, and so does FSCTL_SET_REPARSE_POINT, "Request not supported".)
func TestCheckFolderRefusesAJunction(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "real")
	os.Mkdir(real, 0o700)
	link := filepath.Join(base, "junction")
	if out, err := exec.Command("cmd", "/c", "mklink", "/J", link, real).CombinedOutput(); err != nil {
		t.Skipf("cannot make a junction here (wine 8 cannot): %v: %s", err, out)
	}
	err := CheckFolder(link)
	if !errors.Is(err, ErrUnsafeFolder) || !strings.Contains(err.Error(), "reparse point") {
		t.Fatalf("CheckFolder(junction) = %v", err)
	}
	if err := Set(link, KeyTelemetryMode, "off"); !errors.Is(err, ErrUnsafeFolder) {
		t.Errorf("Set through a junction: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(real, FileName)); err == nil {
		t.Error("settings were written through the junction")
	}
	if err := CheckFolder(real); err != nil {
		t.Errorf("the folder itself: %v", err)
	}
}
