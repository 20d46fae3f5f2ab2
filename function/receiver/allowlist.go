package receiver

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"

	"github.com/pace-cli/pace/function/payload"
)

// commandsTxt is the allow-list of this CLI's command paths, generated from
// its command tree by a test in the root module, which fails when they
// differ.
//
//go:embed commands.txt
var commandsTxt string

// commandsPaceV1Txt lists the command paths PACE's original CLI counts,
// reviewed by hand: its fleet uploads to this receiver too.
//
//go:embed commands-pace-v1.txt
var commandsPaceV1Txt string

// Commands returns the command paths of the embedded allow-list: this
// CLI's and the original's, sorted, each once.
func Commands() []string {
	paths, err := embeddedCommands()
	if err != nil {
		panic(err) // TestEmbeddedCommands keeps this from happening
	}
	return paths
}

func embeddedCommands() ([]string, error) {
	var all []string
	for _, f := range []struct{ name, text string }{
		{"commands.txt", commandsTxt},
		{"commands-pace-v1.txt", commandsPaceV1Txt},
	} {
		paths, err := parseCommands(f.text)
		if err != nil {
			return nil, fmt.Errorf("%s%v", f.name, err)
		}
		all = append(all, paths...)
	}
	slices.Sort(all)
	return slices.Compact(all), nil
}

// parseCommands reads an allow-list: one command path per line, '#' starts
// a comment line, blank lines are ignored. Every path must be well-formed,
// so that only safe tag values can come from it. Errors start with
// ":<line>: ", for the caller to put the file name in front.
func parseCommands(text string) ([]string, error) {
	var paths []string
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := payload.ValidCommandPath(line); err != nil {
			return nil, fmt.Errorf(":%d: %v", i+1, err)
		}
		paths = append(paths, line)
	}
	return paths, nil
}
