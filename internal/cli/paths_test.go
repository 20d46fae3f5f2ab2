package cli

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pace-cli/pace/function/payload"
)

var update = flag.Bool("update", false, "rewrite function/receiver/commands.txt from the command tree")

// allowList is the receiver's list of command paths it stores.
var allowList = filepath.Join("..", "..", "function", "receiver", "commands.txt")

const allowListHeader = `# Command paths of the pace CLI that the receiver accepts.
# Generated from the CLI's command tree; do not edit. Regenerate with:
#   go test ./internal/cli -run TestAllowList -update
`

// The receiver drops paths it does not know; this keeps its list equal to
// the CLI's tree, so a new command is never silently dropped and a removed
// one never lingers.
func TestAllowList(t *testing.T) {
	paths := CommandPaths()
	want := allowListHeader + strings.Join(paths, "\n") + "\n"
	if *update {
		if err := os.WriteFile(allowList, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(allowList)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("%s differs from the command tree; run\n  go test ./internal/cli -run TestAllowList -update\ngot:\n%s\nwant:\n%s", allowList, got, want)
	}
	for _, p := range paths {
		if err := payload.ValidCommandPath(p); err != nil {
			t.Errorf("the receiver would refuse a real command: %v", err)
		}
	}
	for _, must := range []string{"pace", "pace version", "pace telemetry status", "pace help"} {
		if !slices.Contains(paths, must) {
			t.Errorf("%q missing from %v", must, paths)
		}
	}
	if slices.Contains(paths, "pace telemetry reset") {
		t.Error("pace telemetry reset is never counted, so it must not be allowed")
	}
}
