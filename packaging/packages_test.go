// Package packaging holds what the release ships besides the binaries (the
// systemd user unit) and the tests of the built .deb and .rpm.
package packaging

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/pace-cli/pace/internal/testenv"
)

// findPackage is the package of kind ext (deb or rpm) that
// `goreleaser release --snapshot --clean` built into dist/ (or $PACE_DEB,
// $PACE_RPM). scripts/test.sh builds it before the tests; elsewhere the
// test skips unless CI or PACE_TEST_STRICT is set.
func findPackage(t *testing.T, ext string) string {
	if p := os.Getenv("PACE_" + strings.ToUpper(ext)); p != "" {
		return p
	}
	pattern := "pace_*_linux_" + runtime.GOARCH + "." + ext
	found, _ := filepath.Glob(filepath.Join("..", "dist", pattern))
	if len(found) == 0 {
		testenv.Unavailable(t, "no dist/"+pattern+": scripts/release-snapshot.sh builds it (scripts/test.sh runs it before the tests), or set PACE_"+strings.ToUpper(ext))
	}
	return found[len(found)-1]
}

func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// TestDebInstallsAndRuns installs the built package with dpkg into a
// throw-away root (dpkg --root: dpkg's own database in the root, the files
// unpacked under it, exactly as on a machine, but without touching this
// one's /usr), checks what it installed and that nothing was enabled, runs
// pace and pace-telemetryd from it, and removes it again.
func TestDebInstallsAndRuns(t *testing.T) {
	deb := findPackage(t, "deb")
	testenv.NeedTool(t, "dpkg")
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"var/lib/dpkg/status", "var/lib/dpkg/available"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dpkg := func(args ...string) string {
		return run(t, nil, "dpkg", append([]string{"--root=" + root, "--log=/dev/null", "--force-not-root", "--force-script-chrootless"}, args...)...)
	}
	dpkg("--install", deb)
	// Enabled by the user, never by the package: no maintainer scripts.
	for _, script := range []string{"preinst", "postinst", "prerm", "postrm"} {
		if _, err := os.Stat(filepath.Join(root, "var/lib/dpkg/info", "pace."+script)); err == nil {
			t.Errorf("the package has a %s script", script)
		}
	}
	checkInstalled(t, root, run(t, nil, "dpkg-deb", "--field", deb, "Version"), "usr/share/zsh/vendor-completions")
	dpkg("--remove", "pace")
	if _, err := os.Stat(filepath.Join(root, "usr/bin/pace")); !os.IsNotExist(err) {
		t.Errorf("dpkg --remove left /usr/bin/pace")
	}
}

// TestRpmInstallsAndRuns does the same with the .rpm and rpm itself: its
// own database initialised in a throw-away root (rpm --root), the package
// installed there with its dependencies checked, then erased.
func TestRpmInstallsAndRuns(t *testing.T) {
	pkg := findPackage(t, "rpm")
	testenv.NeedTool(t, "rpm")
	root := t.TempDir()
	// Debian's rpm warns on stderr that it is not Debian's package
	// manager; the root is not Debian's either.
	rpm := func(args ...string) string {
		return run(t, nil, "rpm", append([]string{"--root=" + root}, args...)...)
	}
	rpm("--initdb")
	rpm("--install", pkg)
	// Enabled by the user, never by the package: no scriptlets.
	if got := rpm("--query", "--scripts", "pace"); strings.Contains(got, "scriptlet") {
		t.Errorf("the package has scripts:\n%s", got)
	}
	checkInstalled(t, root, rpm("--query", "--queryformat", "%{VERSION}", "pace"), "usr/share/zsh/site-functions")
	rpm("--erase", "pace")
	if _, err := os.Stat(filepath.Join(root, "usr/bin/pace")); !os.IsNotExist(err) {
		t.Errorf("rpm --erase left /usr/bin/pace")
	}
	if got := rpm("--query", "--all"); strings.Contains(got, "pace") {
		t.Errorf("rpm still lists pace after --erase: %q", got)
	}
}

// checkInstalled checks what a package of version installed under root
// (its zsh completions in zshDir, which Debian and Fedora name apart),
// that it enabled nothing, and runs both programs from there.
func checkInstalled(t *testing.T, root, version, zshDir string) {
	t.Helper()
	// Both formats write a pre-release's "-" as "~".
	version = strings.ReplaceAll(strings.TrimSpace(version), "~", "-")
	for _, f := range []string{
		"usr/bin/pace", "usr/bin/pace-telemetryd",
		"usr/lib/systemd/user/pace-telemetryd.service",
		"usr/share/bash-completion/completions/pace", "usr/share/bash-completion/completions/pace-telemetryd",
		zshDir + "/_pace", zshDir + "/_pace-telemetryd",
		"usr/share/fish/vendor_completions.d/pace.fish", "usr/share/fish/vendor_completions.d/pace-telemetryd.fish",
		"usr/share/man/man1/pace.1.gz", "usr/share/man/man1/pace-telemetryd.1.gz", "usr/share/man/man1/pace-telemetry-clean.1.gz",
		"usr/share/doc/pace/copyright",
	} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("the package did not install /%s: %v", f, err)
		}
	}
	// No .wants link anywhere: nothing enabled.
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() && strings.HasSuffix(d.Name(), ".wants") {
			t.Errorf("the package enables a unit: %s", p)
		}
		return nil
	})
	unit, _ := os.ReadFile(filepath.Join(root, "usr/lib/systemd/user/pace-telemetryd.service"))
	if !strings.Contains(string(unit), "ExecStart=/usr/bin/pace-telemetryd run\n") || !strings.Contains(string(unit), "WantedBy=default.target") {
		t.Errorf("user unit:\n%s", unit)
	}
	copyright, _ := os.ReadFile(filepath.Join(root, "usr/share/doc/pace/copyright"))
	if !strings.Contains(string(copyright), "Apache License") {
		t.Error("copyright is not the Apache License")
	}

	// Run the installed programs.
	env := []string{"PACE_CONFIG_PATH=" + filepath.Join(t.TempDir(), "pace"), "PACE_TELEMETRY_NOTICE=off", "PATH=/usr/bin:/bin"}
	pace, daemon := filepath.Join(root, "usr/bin/pace"), filepath.Join(root, "usr/bin/pace-telemetryd")
	if got, want := run(t, env, pace, "--version"), "pace version v"+version+" "; !strings.HasPrefix(got, want) {
		t.Errorf("pace --version = %q, want %q…", got, want)
	}
	var v struct{ Program, Version, OS, Arch string }
	if err := json.Unmarshal([]byte(run(t, env, pace, "version", "-o", "json")), &v); err != nil || v.Version != "v"+version || v.OS != "linux" {
		t.Errorf("pace version -o json: %+v, %v", v, err)
	}
	var dv struct {
		Version         string  `json:"version"`
		DefaultEndpoint *string `json:"default_endpoint"`
	}
	if err := json.Unmarshal([]byte(run(t, env, daemon, "version", "-o", "json")), &dv); err != nil || dv.Version != "v"+version || dv.DefaultEndpoint == nil {
		t.Errorf("pace-telemetryd version -o json: %+v, %v", dv, err)
	} else if want := os.Getenv("PACE_RELEASE_ENDPOINT"); want != "" && *dv.DefaultEndpoint != want {
		t.Errorf("default endpoint %q, want the stamped %q", *dv.DefaultEndpoint, want)
	}
	var st struct {
		Counters int
		Uploader struct{ Program string }
	}
	if err := json.Unmarshal([]byte(run(t, env, pace, "telemetry", "status", "-o", "json")), &st); err != nil {
		t.Fatal(err)
	}
	// The status run counted `pace --version`, `pace version` and nothing
	// else (pace-telemetryd counts nothing), and found the uploader the
	// package put beside pace.
	if st.Counters != 2 || st.Uploader.Program != daemon {
		t.Errorf("telemetry status: %+v", st)
	}
}
