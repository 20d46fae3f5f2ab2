package release

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"

	"github.com/pace-cli/pace/function/receiver"
	"github.com/pace-cli/pace/function/servertest"
	"github.com/pace-cli/pace/internal/testenv"
)

const (
	rootPath     = "github.com/pace-cli/pace"
	functionPath = "github.com/pace-cli/pace/function"
)

// TestInstallAsReleased publishes both modules the way a release does, to
// a file GOPROXY (the go mod download layout: list, .info, .mod, .zip),
// installs cmd/pace and cmd/pace-telemetryd with `go install …@Version`
// outside the workspace, as README says, and runs them: pace counts a run,
// the daemon uploads it to the receiver, and the receiver stores it.
func TestInstallAsReleased(t *testing.T) {
	if testing.Short() {
		t.Skip("builds both programs from module zips; not in -short")
	}
	gobin := testenv.NeedTool(t, "go")
	testenv.NeedTool(t, "git")
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}

	// go.mod as published: no replace (go install pkg@version refuses
	// one), and a real version of the function module.
	rootMod := parseMod(t, filepath.Join(repo, "go.mod"))
	fnMod := parseMod(t, filepath.Join(repo, "function", "go.mod"))
	for _, f := range []*modfile.File{rootMod, fnMod} {
		if len(f.Replace) > 0 {
			t.Fatalf("%s has a replace directive; go install %s/cmd/pace@%s would refuse it", f.Module.Mod.Path, rootPath, Version)
		}
	}
	fnVersion := ""
	for _, r := range rootMod.Require {
		if r.Mod.Path == functionPath {
			fnVersion = r.Mod.Version
		}
	}
	if fnVersion != FunctionVersion || module.IsPseudoVersion(fnVersion) {
		t.Fatalf("go.mod requires %s %q; want the release version %s", functionPath, fnVersion, FunctionVersion)
	}
	checkReadme(t, repo)
	// go.work builds that version from ./function, for work here.
	b, err := os.ReadFile(filepath.Join(repo, "go.work"))
	if err != nil {
		t.Fatal(err)
	}
	work, err := modfile.ParseWork("go.work", b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(work.Replace) != 1 || work.Replace[0].Old != (module.Version{Path: functionPath, Version: FunctionVersion}) || work.Replace[0].New.Path != "./function" {
		t.Fatalf("go.work must replace %s %s with ./function, and nothing else: %+v", functionPath, FunctionVersion, work.Replace)
	}

	// The proxy: the function module first, as it is tagged first; then
	// the root module with go.sum holding the function's hashes, as
	// `go get github.com/pace-cli/pace/function@FunctionVersion` writes
	// them before the root is tagged.
	proxy := t.TempDir()
	fnTree := tracked(t, repo, "function", nil)
	fnZip := publish(t, proxy, module.Version{Path: functionPath, Version: FunctionVersion}, fnTree)
	zipHash, err := dirhash.HashZip(fnZip, dirhash.Hash1)
	if err != nil {
		t.Fatal(err)
	}
	modHash, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return os.Open(filepath.Join(fnTree, "go.mod"))
	})
	if err != nil {
		t.Fatal(err)
	}
	rootTree := tracked(t, repo, "", func(dir string) {
		sums := fmt.Sprintf("%s %s %s\n%s %s/go.mod %s\n", functionPath, FunctionVersion, zipHash, functionPath, FunctionVersion, modHash)
		appendFile(t, filepath.Join(dir, "go.sum"), sums)
	})
	publish(t, proxy, module.Version{Path: rootPath, Version: Version}, rootTree)

	// Install outside the workspace, from that proxy; every other module
	// comes from the local module cache (same layout), else the usual
	// proxy. Our modules are not in the checksum database yet.
	home := t.TempDir()
	bin := filepath.Join(home, "bin")
	modcache := filepath.Join(home, "modcache")
	t.Cleanup(func() {
		// The cache's files are read-only, so t.TempDir cannot remove
		// them. GOMODCACHE must be set here: without it this would
		// empty the user's own module cache.
		clean := exec.Command(gobin, "clean", "-modcache")
		clean.Env = append(os.Environ(), "GOMODCACHE="+modcache)
		if out, err := clean.CombinedOutput(); err != nil {
			t.Errorf("go clean -modcache: %v\n%s", err, out)
		}
	})
	goenv := func(name string) string {
		out, err := exec.Command(gobin, "env", name).Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	proxies := []string{fileURL(proxy), fileURL(filepath.Join(goenv("GOMODCACHE"), "cache", "download"))}
	sumdb := "GONOSUMDB=" + rootPath
	if p := goenv("GOPROXY"); p != "" && p != "off" {
		proxies = append(proxies, p)
	} else {
		// Offline: the checksum database, reached through the proxy,
		// cannot verify the dependencies either.
		sumdb = "GOSUMDB=off"
	}
	env := append(os.Environ(),
		"GOWORK=off",
		"GOFLAGS=-mod=mod",
		"GOPROXY="+strings.Join(proxies, ","),
		sumdb,
		"GOPRIVATE=",
		"GOMODCACHE="+modcache,
		"GOBIN="+bin,
		"GOTOOLCHAIN=local",
	)
	install := exec.Command(gobin, "install", rootPath+"/cmd/pace@"+Version, rootPath+"/cmd/pace-telemetryd@"+Version)
	install.Dir = home // outside any module
	install.Env = env
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("go install: %v\n%s", err, out)
	}
	pace := filepath.Join(bin, exe("pace"))
	daemon := filepath.Join(bin, exe("pace-telemetryd"))

	// The binaries record the released modules, not a replacement.
	out, err := exec.Command(gobin, "version", "-m", pace).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^\tmod\t`+regexp.QuoteMeta(rootPath)+`\t`+regexp.QuoteMeta(Version)+`\t`).Match(out) ||
		!regexp.MustCompile(`(?m)^\tdep\t`+regexp.QuoteMeta(functionPath)+`\t`+regexp.QuoteMeta(FunctionVersion)+`\th1:`).Match(out) ||
		bytes.Contains(out, []byte("=>")) {
		t.Fatalf("build info of pace:\n%s", out)
	}

	// Run them, as a new user would, against a receiver on loopback.
	var stored servertest.SyncBuffer
	cfg, err := receiver.LoadConfig(func(string) string { return "" }, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	h, err := receiver.New(cfg, receiver.Options{Stdout: &stored, Logger: receiver.NewLogger(io.Discard)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	cfgDir := filepath.Join(home, "config")
	if err := os.Mkdir(cfgDir, 0o700); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = []string{"HOME=" + home, "USERPROFILE=" + home, "PACE_CONFIG_PATH=" + cfgDir, "PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out := run(pace, "version"); !strings.Contains(out, Version) {
		t.Fatalf("pace version printed %q, want %s", out, Version)
	}
	// go install builds in no endpoint: the daemon uploads nowhere until
	// given one (README's install section says so).
	if out := run(daemon, "status"); !regexp.MustCompile(`endpoint:\s+none`).MatchString(out) {
		t.Fatalf("pace-telemetryd status: want no endpoint built in:\n%s", out)
	}
	run(daemon, "flush", "--endpoint", srv.URL+"/")
	want := "command=version;exit_code=0;cli_version=" + Version + ";operating_system=" + runtime.GOOS + ";"
	if deadline := time.Now().Add(5 * time.Second); !strings.Contains(stored.String(), want) {
		for !strings.Contains(stored.String(), want) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !strings.Contains(stored.String(), want) {
		t.Fatalf("the receiver stored:\n%s\nwant a series with %s", stored.String(), want)
	}
}

// checkReadme: README's install section names the versions this test
// installs.
func checkReadme(t *testing.T, repo string) {
	b, err := os.ReadFile(filepath.Join(repo, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{rootPath + "/cmd/pace@" + Version, rootPath + "/cmd/pace-telemetryd@" + Version, "function/" + FunctionVersion} {
		if !bytes.Contains(b, []byte(s)) {
			t.Errorf("README.md does not say %s", s)
		}
	}
	if bytes.Contains(b, []byte("@latest")) {
		t.Error("README.md installs @latest; give the release version")
	}
}

// tracked copies the files git tracks (and untracked ones it does not
// ignore, so that an uncommitted change is tested too) under sub of repo
// into a new folder, leaving out nested modules as the module zip does,
// then lets edit change the copy.
func tracked(t *testing.T, repo, sub string, edit func(dir string)) string {
	t.Helper()
	args := []string{"-C", repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard"}
	if sub != "" {
		args = append(args, "--", sub)
	}
	out, err := exec.Command("git", args...).Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	dir := t.TempDir()
	for _, name := range strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		rel := name
		if sub != "" {
			rel = strings.TrimPrefix(name, sub+"/")
		}
		src := filepath.Join(repo, filepath.FromSlash(name))
		if fi, err := os.Lstat(src); err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the work tree, or not a file
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if edit != nil {
		edit(dir)
	}
	return dir
}

// publish writes m, built from dir, into the GOPROXY folder proxy and
// returns its zip.
func publish(t *testing.T, proxy string, m module.Version, dir string) string {
	t.Helper()
	esc, err := module.EscapePath(m.Path)
	if err != nil {
		t.Fatal(err)
	}
	at := filepath.Join(proxy, filepath.FromSlash(esc), "@v")
	if err := os.MkdirAll(at, 0o755); err != nil {
		t.Fatal(err)
	}
	zipName := filepath.Join(at, m.Version+".zip")
	f, err := os.Create(zipName)
	if err != nil {
		t.Fatal(err)
	}
	if err := modzip.CreateFromDir(f, m, dir); err != nil {
		t.Fatalf("zip %s: %v", m, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	info, _ := json.Marshal(map[string]string{"Version": m.Version, "Time": "2026-11-25T00:00:00Z"})
	for name, b := range map[string][]byte{m.Version + ".mod": mod, m.Version + ".info": info, "list": []byte(m.Version + "\n")} {
		if err := os.WriteFile(filepath.Join(at, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return zipName
}

func parseMod(t *testing.T, name string) *modfile.File {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse(name, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func appendFile(t *testing.T, name, s string) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func fileURL(dir string) string {
	dir = filepath.ToSlash(dir)
	if !strings.HasPrefix(dir, "/") {
		dir = "/" + dir // C:/… on Windows
	}
	return "file://" + dir
}

func exe(name string) string {
	if runtime.GOOS == "windows" {
		return name + ".exe"
	}
	return name
}
