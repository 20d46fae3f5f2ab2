package cli

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/pace-cli/pace/internal/command"
	"github.com/pace-cli/pace/internal/policy"
)

// pace upsert data-policy.
func newUpsertPolicyCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "data-policy FILE",
		Short: "Validate a data policy (YAML or JSON) and store it",
		Example: command.Examples(
			"pace upsert data-policy policy.yaml",
			"pace upsert data-policy policy.json -o json",
		),
		Args: command.ExactArg("the file of a data policy (YAML or JSON)", "start from 'pace get data-policy -p PLATFORM --bare SCHEMA.TABLE'"),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return []string{"yaml", "yml", "json"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(c *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			p, err := policy.Parse(data, args[0])
			if err != nil {
				return err
			}
			store, err := e.policies()
			if err != nil {
				return err
			}
			if err := store.Save(p); err != nil {
				return err
			}
			return e.print(p)
		},
	}
}
