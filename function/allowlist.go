package function

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/pace-cli/pace/function/payload"
)

// commandsTxt is the allow-list of command paths, generated from the CLI's
// command tree by a test in the root module, which fails when they differ.
//
//go:embed commands.txt
var commandsTxt string

// Commands returns the command paths of the embedded allow-list.
func Commands() []string {
	paths, err := parseCommands(commandsTxt)
	if err != nil {
		panic(err) // TestEmbeddedCommands keeps this from happening
	}
	return paths
}

// parseCommands reads an allow-list: one command path per line, '#' starts
// a comment line, blank lines are ignored. Every path must be well-formed,
// so that only safe tag values can come from it.
func parseCommands(text string) ([]string, error) {
	var paths []string
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := payload.ValidCommandPath(line); err != nil {
			return nil, fmt.Errorf("commands.txt:%d: %v", i+1, err)
		}
		paths = append(paths, line)
	}
	return paths, nil
}
