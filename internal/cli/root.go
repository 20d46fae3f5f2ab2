// Package cli holds pace's command tree and its single entry point, Main.
package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"

	"github.com/spf13/cobra"

	"github.com/pace-cli/pace/internal/command"
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
	output  command.Output // -o/--output

	uploadInterval *int // --telemetry-upload-interval-seconds, when given

	// current is the command that runs, once its flags are parsed: what an
	// interrupt, which comes from another goroutine, is counted under.
	current atomic.Pointer[cobra.Command]
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
	command.AddVersion(root, func() command.VersionInfo { return command.NewVersionInfo("pace", e.version) }, &e.output, func() io.Writer { return e.Out })
	command.AddOutputFlag(root, &e.output)
	addTelemetryFlags(root, e)
	root.PersistentPreRunE = func(c *cobra.Command, _ []string) error {
		e.current.Store(c) // from here on, an interrupt or a panic counts under c
		crashTest(e.getenv)
		return e.output.Validate()
	}
	root.Long = "pace is the command-line client of PACE, the Policy As Code Engine.\n\n" +
		"pace counts which commands you run and their exit codes, nothing else;\n" +
		"see 'pace telemetry --help'."
	root.Example = command.Examples(
		"pace list processing-platforms",
		"pace get data-policy --processing-platform pg --bare public.customers > policy.yaml",
		"pace upsert data-policy policy.yaml",
		"pace apply data-policy public-customers",
		"pace telemetry status -o json",
	)
	root.SetIn(e.In)
	root.SetOut(e.Out)
	root.SetErr(e.Err)
	// Execute prints errors once, its own way, and maps them to exit codes.
	command.Prepare(root)
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
			return command.Usagef("%s", msg)
		},
	}
	c.AddCommand(children...)
	return c
}

// Getenv is os.Getenv, for cmd/pace.
func Getenv(name string) string { return os.Getenv(name) }
