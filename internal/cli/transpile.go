package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pace-cli/pace/internal/command"
	"github.com/pace-cli/pace/internal/policy"
)

// pace transpile data-policy.
func newTranspilePolicyCmd(e *env) *cobra.Command {
	return e.policyIDArg(&cobra.Command{
		Use:     "data-policy ID",
		Short:   "Print the SQL a data policy becomes",
		Example: command.Examples("pace transpile data-policy public-customers"),
		RunE: func(c *cobra.Command, args []string) error {
			p, err := e.policy(args[0])
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(e.Out, policy.Transpile(p))
			return err
		},
	}, policyIDRequired)
}
