package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pace-cli/pace/internal/command"
)

// pace delete data-policy.
func newDeletePolicyCmd(e *env) *cobra.Command {
	return e.policyIDArg(&cobra.Command{
		Use:     "data-policy ID",
		Short:   "Delete a stored data policy (its views stay)",
		Example: command.Examples("pace delete data-policy public-customers"),
		RunE: func(c *cobra.Command, args []string) error {
			store, err := e.policies()
			if err != nil {
				return err
			}
			if err := store.Delete(args[0]); err != nil {
				return err
			}
			fmt.Fprintf(e.Err, "Deleted data policy %s.\n", args[0])
			return nil
		},
	}, policyIDRequired)
}
