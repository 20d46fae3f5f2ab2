//go:build !windows

package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// foreignUID is a user id no test runs as.
const foreignUID = 54321

func TestCheckFolder(t *testing.T) {
	base := t.TempDir()
	mk := func(name string, perm os.FileMode) string {
		dir := filepath.Join(base, name)
		if err := os.Mkdir(dir, perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, perm); err != nil { // past the umask
			t.Fatal(err)
		}
		return dir
	}
	for _, ok := range []string{mk("private", 0o700), mk("readable", 0o755), filepath.Join(base, "missing")} {
		if err := CheckFolder(ok); err != nil {
			t.Errorf("CheckFolder(%s) = %v", ok, err)
		}
	}
	foreign := mk("foreign", 0o700)
	if err := os.Chown(foreign, foreignUID, foreignUID); err != nil {
		t.Skipf("cannot give a folder to another user here (%v)", err)
	}
	cases := map[string]string{
		foreign:                     "belongs to uid 54321, not to you",
		mk("group-writable", 0o770): "others may write to it (mode 0770)",
		mk("world-writable", 0o777): "chmod go-w",
		mk("sticky-shared", 0o1777): "others may write to it",
	}
	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o600)
	cases[file] = "not a folder"
	for dir, want := range cases {
		err := CheckFolder(dir)
		if !errors.Is(err, ErrUnsafeFolder) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), dir) {
			t.Errorf("CheckFolder(%s) = %v, want ErrUnsafeFolder saying %q", dir, err, want)
		}
		// Neither settings are read from it nor written to it.
		if _, err := Load(dir); !errors.Is(err, ErrUnsafeFolder) {
			t.Errorf("Load(%s) = %v", dir, err)
		}
		if err := Set(dir, KeyTelemetryMode, "off"); err == nil {
			t.Errorf("Set(%s) wrote settings", dir)
		}
		if _, err := os.Lstat(filepath.Join(dir, FileName)); err == nil {
			t.Errorf("Set(%s) left a config.yaml", dir)
		}
	}
}

// A config folder that is a symbolic link to a folder is refused, with
// the folder it points at named as the fix.
func TestCheckFolderRefusesALink(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "real")
	os.Mkdir(real, 0o700)
	link := filepath.Join(base, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	err := CheckFolder(link)
	if !errors.Is(err, ErrUnsafeFolder) || !strings.Contains(err.Error(), "it is a symbolic link") || !strings.Contains(err.Error(), "("+real+")") {
		t.Fatalf("CheckFolder(link) = %v", err)
	}
	if err := Set(link, KeyTelemetryMode, "off"); !errors.Is(err, ErrUnsafeFolder) {
		t.Errorf("Set through a linked folder: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(real, FileName)); err == nil {
		t.Error("settings were written through the link")
	}
	if err := CheckFolder(real); err != nil {
		t.Errorf("the folder itself: %v", err)
	}
}
