//go:build linux

package machinepolicy

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pace-cli/pace/internal/testenv"
)

// TestMachinePolicyUnderWine is the policy on Windows: the real pace.exe
// and pace-telemetryd.exe under wine, with the key Group Policy writes,
// HKLM\SOFTWARE\Policies\PACE\pace, set with `reg add`. (A package of its
// own, apart from cmd/pace-telemetryd's wine test, so that each has its
// own time limit.)
func TestMachinePolicyUnderWine(t *testing.T) {
	w := testenv.NewWine(t, map[string]string{"pace.exe": "../../cmd/pace", "pace-telemetryd.exe": "../../cmd/pace-telemetryd"}, "PACE_TELEMETRY_NOTICE=off")
	dir, wineCmd := w.Dir, w.Cmd

	const key = `HKLM\` + RegistryKey
	reg := func(args ...string) {
		t.Helper()
		if b, err := wineCmd(append([]string{"reg"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("reg %v: %v\n%s", args, err, b)
		}
	}
	n := 0
	// folder is a new config folder, as Linux and Windows name it.
	folder := func() (string, string) {
		n++
		f := filepath.Join(dir, "config", strings.Repeat("c", n))
		os.MkdirAll(filepath.Dir(f), 0o700)
		return f, `Z:` + strings.ReplaceAll(f, "/", `\`)
	}
	run := func(win, prog string, args ...string) (int, string) {
		t.Helper()
		cmd := wineCmd(append([]string{filepath.Join(dir, prog)}, args...)...)
		cmd.Env = append(cmd.Env, "PACE_CONFIG_PATH="+win)
		out, err := cmd.Output()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	type status struct {
		Mode, Reason string
		Policy       struct {
			Source, Telemetry, Error string
			Found                    bool
		}
	}
	// check runs pace.exe version in a new folder (counted or not, as the
	// policy says) and reads pace.exe telemetry status there.
	check := func() (st status, counted bool) {
		t.Helper()
		f, win := folder()
		if code, _ := run(win, "pace.exe", "version"); code != 0 {
			t.Fatalf("pace.exe version exited %d under the policy", code)
		}
		_, err := os.Stat(filepath.Join(f, "telemetry.yaml"))
		code, out := run(win, "pace.exe", "telemetry", "status", "-o", "json")
		if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
			t.Fatalf("pace.exe telemetry status -o json: %d %s", code, out)
		}
		return st, err == nil
	}

	if st, counted := check(); st.Policy.Found || st.Policy.Source != key || st.Mode != "on" || !counted {
		t.Fatalf("no policy key: %+v", st)
	}

	reg("add", key, "/v", ValueTelemetry, "/t", "REG_SZ", "/d", "off", "/f")
	if st, counted := check(); st.Mode != "off" || !strings.Contains(st.Reason, "the machine's policy "+key+" sets telemetry: off") || counted {
		t.Fatalf("Telemetry=off: %+v (counted %v)", st, counted)
	}
	if _, win := folder(); true {
		if code, out := run(win, "pace.exe", "telemetry", "enable"); code != 1 {
			t.Fatalf("enable under Telemetry=off: exit %d %s", code, out)
		}
	}

	reg("add", key, "/v", ValueTelemetry, "/t", "REG_SZ", "/d", "Local", "/f")
	if st, counted := check(); st.Mode != "local" || st.Policy.Telemetry != "local" || !counted {
		t.Fatalf("Telemetry=Local: %+v (counted %v)", st, counted)
	}

	// A redirect: flush delivers to the policy's receiver, not to the
	// --endpoint given (where nothing listens).
	var got atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if body, _ := io.ReadAll(r.Body); strings.Contains(string(body), `"pace version"`) {
			got.Add(1)
		}
		io.WriteString(w, "OK")
	}))
	defer srv.Close()
	reg("delete", key, "/v", ValueTelemetry, "/f")
	reg("add", key, "/v", ValueTelemetryEndpoint, "/t", "REG_SZ", "/d", srv.URL+"/", "/f")
	_, win := folder()
	run(win, "pace.exe", "version")
	if code, out := run(win, "pace-telemetryd.exe", "flush", "--endpoint", "http://127.0.0.1:1/"); code != 0 || !strings.Contains(out, "Delivered to "+srv.URL) || got.Load() != 1 {
		t.Fatalf("flush under TelemetryEndpoint: %d %s (the policy's receiver got %d uploads)", code, out, got.Load())
	}

	// Values pace cannot read count as off, and say why.
	reg("add", key, "/v", ValueTelemetry, "/t", "REG_DWORD", "/d", "0", "/f")
	if st, counted := check(); st.Mode != "off" || !strings.Contains(st.Policy.Error, "must be a string (REG_SZ)") || counted {
		t.Fatalf("a DWORD Telemetry: %+v (counted %v)", st, counted)
	}
	reg("delete", key, "/f")
	reg("add", key, "/v", "Telemetri", "/t", "REG_SZ", "/d", "off", "/f")
	if st, counted := check(); st.Mode != "off" || !strings.Contains(st.Policy.Error, `unknown setting "Telemetri"`) || counted {
		t.Fatalf("a misspelt value name: %+v (counted %v)", st, counted)
	}
	reg("delete", key, "/f")
	if st, counted := check(); st.Mode != "on" || st.Policy.Found || !counted {
		t.Fatalf("after the key is deleted: %+v", st)
	}
}
