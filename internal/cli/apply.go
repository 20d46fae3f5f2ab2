package cli

import (
	"github.com/spf13/cobra"

	"github.com/pace-cli/pace/internal/command"
)

// pace apply data-policy.
func newApplyPolicyCmd(e *env) *cobra.Command {
	return e.policyIDArg(&cobra.Command{
		Use:     "data-policy ID",
		Short:   "Create the policy's views on its platform, in one transaction",
		Example: command.Examples("pace apply data-policy public-customers"),
		RunE: func(c *cobra.Command, args []string) error {
			p, err := e.policy(args[0])
			if err != nil {
				return err
			}
			pg, err := e.connect(c.Context(), p.Platform.ID)
			if err != nil {
				return err
			}
			defer pg.Close()
			if err := pg.Apply(c.Context(), p); err != nil {
				return err
			}
			var views []string
			for _, rs := range p.RuleSets {
				views = append(views, rs.Target.Ref.IntegrationFQN)
			}
			return e.print(map[string]any{"applied": p.ID, "platform": p.Platform.ID, "views": views, "granted_to": nonNil(p.Groups())})
		},
	}, policyIDRequired)
}
