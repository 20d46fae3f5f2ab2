package cli

import (
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pace-cli/pace/internal/build"
)

// Command is pace's command tree with nothing to read or write, for
// generating man pages and shell completions.
func Command() *cobra.Command {
	return newRoot(&env{IO: IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard}, getenv: func(string) string { return "" }, version: build.Version()})
}

// CommandPaths lists every command path pace can count, sorted: the
// receiver's allow-list is generated from it (function/receiver/commands.txt).
func CommandPaths() []string {
	root := Command()
	var paths []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || strings.HasPrefix(c.Name(), "__") || !counted(c) {
			return
		}
		paths = append(paths, c.CommandPath())
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	slices.Sort(paths)
	return paths
}
