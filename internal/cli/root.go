// Package cli holds pace's command tree and its single entry point, Main.
package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pace-cli/pace/internal/build"
	"github.com/pace-cli/pace/internal/config"
)

// IO holds the streams commands use; tests pass buffers.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
}

// env is what every command may use from the process: its streams and its
// environment, injected so tests run commands in-process.
type env struct {
	IO
	getenv  config.Getenv
	version string
	output  string // -o/--output: yaml or json

	uploadInterval *int // --telemetry-upload-interval-seconds, when given
}

// Main runs pace with args (without the program name) and returns the
// process exit code. The run is counted in telemetry after it finished.
func Main(args []string, streams IO, getenv config.Getenv) int {
	e := &env{IO: streams, getenv: getenv, version: build.Version()}
	root := newRoot(e)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	code := exitCode(err)
	if err != nil {
		fmt.Fprintln(e.Err, "Error:", err)
		if code == ExitUsage && cmd != nil {
			fmt.Fprintf(e.Err, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
	}
	if cmd != nil && counted(cmd) {
		record(e, cmd.CommandPath(), code)
	}
	return code
}

// skipTelemetry marks commands that are not counted.
const skipTelemetry = "pace/skip-telemetry"

// counted tells whether a run of cmd is counted: not shell-completion
// requests (they run on every Tab press and say nothing about use), and not
// commands marked skipTelemetry.
func counted(cmd *cobra.Command) bool {
	if strings.HasPrefix(cmd.Name(), "__complete") {
		return false
	}
	_, skip := cmd.Annotations[skipTelemetry]
	return !skip
}

func newRoot(e *env) *cobra.Command {
	root := group("pace", "Policy As Code Engine command-line client",
		newVersionCmd(e),
		newTelemetryCmd(e),
		// Verbs first: pace <verb> <noun>.
		group("list", "List resources", newListPlatformsCmd(e), newListSchemasCmd(e), newListTablesCmd(e), newListPoliciesCmd(e)),
		group("get", "Get a resource", newGetPolicyCmd(e)),
		group("upsert", "Create or replace a resource", newUpsertPolicyCmd(e)),
		group("delete", "Delete a resource", newDeletePolicyCmd(e)),
		group("transpile", "Show the SQL a resource becomes", newTranspilePolicyCmd(e)),
		group("apply", "Apply a resource to its processing platform", newApplyPolicyCmd(e)),
		group("evaluate", "Show what a resource lets someone see", newEvaluatePolicyCmd(e)),
	)
	root.PersistentFlags().StringVarP(&e.output, "output", "o", "yaml", "output format: yaml or json")
	addTelemetryFlags(root, e)
	root.PersistentPreRunE = func(c *cobra.Command, _ []string) error {
		if e.output != "yaml" && e.output != "json" {
			return usageErrorf("--output %q: use yaml or json", e.output)
		}
		return nil
	}
	root.Long = "pace is the command-line client of PACE, the Policy As Code Engine.\n\n" +
		"pace counts which commands you run and their exit codes, nothing else;\n" +
		"see 'pace telemetry --help'."
	root.SetIn(e.In)
	root.SetOut(e.Out)
	root.SetErr(e.Err)
	// Main prints errors once, its own way, and maps them to exit codes.
	root.SilenceErrors = true
	root.SilenceUsage = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	wrapArgs(root)
	return root
}

// group makes a command that only holds sub commands, such as a verb
// (`pace list …`). Run bare it prints its help; run with a word it does not
// know, it fails with a usage error, and the run is counted under the group,
// without the word.
func group(use, short string, children ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:                        use,
		Short:                      short,
		Args:                       cobra.ArbitraryArgs,
		SuggestionsMinimumDistance: 2,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return c.Help()
			}
			msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
			if s := c.SuggestionsFor(args[0]); len(s) > 0 {
				msg += "; did you mean " + strings.Join(s, " or ") + "?"
			}
			return usageError{fmt.Errorf("%s", msg)}
		},
	}
	c.AddCommand(children...)
	return c
}

// wrapArgs makes every argument-count error a usage error, and gives leaf
// commands that set no rule cobra.NoArgs rather than cobra's default of
// accepting anything silently (cobra's help command takes topics).
func wrapArgs(c *cobra.Command) {
	check := c.Args
	if check == nil && !c.HasSubCommands() && c.Name() != "help" {
		check = cobra.NoArgs
	}
	if check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
}

// Getenv is os.Getenv, for cmd/pace.
func Getenv(name string) string { return os.Getenv(name) }
