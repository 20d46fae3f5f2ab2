package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pace-cli/pace/function/servertest"
)

// Wine is a throw-away wine prefix with pace's Windows programs (built for
// windows/amd64) in Dir, for tests of what runs on Windows.
type Wine struct {
	Dir    string   // the programs (pace.exe, …) and the stand-in DLL
	Prefix string   // WINEPREFIX
	Env    []string // the environment Cmd runs with
	wine   string
}

// standInDLL is bcryptprimitives.dll's ProcessPrng, which Go 1.26 programs
// need at start and wine 8 lacks: it calls RtlGenRandom.
const standInDLL = `#include <windows.h>
typedef BOOLEAN (WINAPI *gen)(PVOID, ULONG);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
	static gen fn = NULL;
	if (!fn) fn = (gen)GetProcAddress(LoadLibraryA("advapi32.dll"), "SystemFunction036");
	while (len > 0) {
		ULONG n = len > 0x7fffffff ? 0x7fffffff : (ULONG)len;
		if (!fn(data, n)) return FALSE;
		data += n; len -= n;
	}
	return TRUE;
}
`

// NewWine boots a wine prefix (wineboot -i) and puts there programs, a map
// of file name (pace.exe) to Go package, built for Windows, with the
// stand-in DLL in system32; the prefix's processes end with the test.
// wine and the MinGW compiler must be installed (scripts/test.sh).
func NewWine(t *testing.T, programs map[string]string, env ...string) *Wine {
	t.Helper()
	if testing.Short() {
		t.Skip("boots a wine prefix; not with -short")
	}
	w := &Wine{Dir: t.TempDir(), wine: NeedTool(t, "wine")}
	gcc := NeedTool(t, "x86_64-w64-mingw32-gcc")
	for out, pkg := range programs {
		b, err := os.ReadFile(servertest.Program(t, pkg, servertest.Env("GOOS=windows", "GOARCH=amd64")))
		if err == nil {
			err = os.WriteFile(filepath.Join(w.Dir, out), b, 0o755)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	src := filepath.Join(w.Dir, "bcryptprimitives.c")
	if err := os.WriteFile(src, []byte(standInDLL), 0o644); err != nil {
		t.Fatal(err)
	}
	dll := filepath.Join(w.Dir, "bcryptprimitives.dll")
	if b, err := exec.Command(gcc, "-shared", "-o", dll, src).CombinedOutput(); err != nil {
		t.Fatalf("stand-in DLL: %v\n%s", err, b)
	}
	w.Prefix = filepath.Join(w.Dir, "prefix")
	w.Env = append(append(os.Environ(), "WINEPREFIX="+w.Prefix, "WINEDEBUG=-all", "WINEDLLOVERRIDES=mscoree,mshtml="), env...)
	if b, err := w.Cmd("wineboot", "-i").CombinedOutput(); err != nil {
		t.Fatalf("wineboot: %v\n%s", err, b)
	}
	t.Cleanup(func() { c := exec.Command("wineserver", "-k"); c.Env = w.Env; c.Run() })
	data, _ := os.ReadFile(dll)
	if err := os.WriteFile(filepath.Join(w.Prefix, "drive_c", "windows", "system32", "bcryptprimitives.dll"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return w
}

// Cmd is wine running args, with the prefix's environment.
func (w *Wine) Cmd(args ...string) *exec.Cmd {
	cmd := exec.Command(w.wine, args...)
	cmd.Env = append([]string(nil), w.Env...)
	return cmd
}

// Path is a Linux path as the programs under wine name it (Z:\…).
func Path(p string) string { return `Z:` + strings.ReplaceAll(p, "/", `\`) }
