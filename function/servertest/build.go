package servertest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// BuildOption makes a special build of a program.
type BuildOption func(*buildFlags)

type buildFlags struct {
	env   []string
	flags []string
}

// Env sets variables of go build, such as GOOS=windows and GOARCH=amd64
// (the program is then named with .exe) or CGO_ENABLED=0.
func Env(kv ...string) BuildOption {
	return func(b *buildFlags) { b.env = append(b.env, kv...) }
}

// Tags builds with the build tags (go build -tags).
func Tags(tags ...string) BuildOption {
	return Flags("-tags", strings.Join(tags, ","))
}

// LDFlags builds with the linker flags (go build -ldflags), such as the
// -X settings a release stamps.
func LDFlags(flags string) BuildOption { return Flags("-ldflags", flags) }

// Flags passes other flags to go build, such as -trimpath.
func Flags(flags ...string) BuildOption {
	return func(b *buildFlags) { b.flags = append(b.flags, flags...) }
}

var programs struct {
	sync.Mutex
	dir   string
	built map[string]*builtProgram
	taken map[string]bool // names in dir itself
}

type builtProgram struct {
	once sync.Once
	path string
	err  error
}

// Program returns the program built from the Go package pkg (an import
// path, or a folder relative to the test's own), building it on first
// use: once per test binary and options, into a temporary folder that
// Run removes at the end. Plain builds share one folder (pace and
// pace-telemetryd side by side, as installed); a build with options has
// a folder of its own. The test binary's TestMain must return Run(m).
func Program(t testing.TB, pkg string, opts ...BuildOption) string {
	t.Helper()
	if !running.Load() {
		t.Fatal("servertest.Program: TestMain must return servertest.Run(m), which removes the programs at the end")
	}
	path, err := build(pkg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// MustBuild is Program for TestMain, before it returns Run(m): a build
// that fails is printed and ends the test binary with exit code 1.
func MustBuild(pkg string, opts ...BuildOption) string {
	path, err := build(pkg, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	return path
}

func build(pkg string, opts ...BuildOption) (string, error) {
	var b buildFlags
	for _, o := range opts {
		o(&b)
	}
	target := pkg
	if strings.HasPrefix(pkg, ".") {
		abs, err := filepath.Abs(pkg)
		if err != nil {
			return "", err
		}
		target = abs
	}
	key := strings.Join(append(append([]string{target}, b.env...), append([]string{"--"}, b.flags...)...), "\x00")
	programs.Lock()
	if programs.built == nil {
		programs.built = map[string]*builtProgram{}
		programs.taken = map[string]bool{}
	}
	p := programs.built[key]
	if p == nil {
		p = &builtProgram{}
		programs.built[key] = p
	}
	n := len(programs.built)
	if programs.dir == "" {
		dir, err := os.MkdirTemp("", "pace-test-programs-")
		if err != nil {
			programs.Unlock()
			return "", err
		}
		programs.dir = dir
	}
	root := programs.dir
	programs.Unlock()
	p.once.Do(func() {
		goos := runtime.GOOS
		for _, kv := range b.env {
			if v, ok := strings.CutPrefix(kv, "GOOS="); ok {
				goos = v
			}
		}
		name := filepath.Base(target)
		if goos == "windows" {
			name += ".exe"
		}
		// Plain builds share the folder, as an install has pace and
		// pace-telemetryd side by side; a special build, or another
		// package of the same name, gets a folder of its own.
		programs.Lock()
		dir, shared := root, len(opts) == 0 && !programs.taken[name]
		if shared {
			programs.taken[name] = true
		}
		programs.Unlock()
		if !shared {
			dir = filepath.Join(root, fmt.Sprint(n))
			if p.err = os.Mkdir(dir, 0o755); p.err != nil {
				return
			}
		}
		p.path = filepath.Join(dir, name)
		args := append(append([]string{"build"}, b.flags...), "-o", p.path, target)
		cmd := exec.Command("go", args...)
		cmd.Env = append(os.Environ(), b.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			p.err = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	return p.path, p.err
}

func removePrograms() {
	programs.Lock()
	defer programs.Unlock()
	if programs.dir != "" {
		os.RemoveAll(programs.dir)
		programs.dir, programs.built, programs.taken = "", nil, nil
	}
}
