package cli

import (
	"github.com/spf13/cobra"

	"github.com/pace-cli/pace/internal/command"
	"github.com/pace-cli/pace/internal/policy"
)

// pace get data-policy.
func newGetPolicyCmd(e *env) *cobra.Command {
	var platformID, bare string
	c := e.policyIDArg(&cobra.Command{
		Use:   "data-policy [ID]",
		Short: "Print a stored data policy, or a bare one for a table to start from",
		Example: command.Examples(
			"pace get data-policy public-customers",
			"pace get data-policy -p pg --bare public.customers > policy.yaml   # a policy to start from",
		),
		RunE: func(c *cobra.Command, args []string) error {
			if bare == "" {
				if len(args) != 1 {
					return usageErrorf("give the id of a data policy, or --processing-platform and --bare TABLE")
				}
				store, err := e.policies()
				if err != nil {
					return err
				}
				p, err := store.Get(args[0])
				if err != nil {
					return err
				}
				return e.print(p)
			}
			pg, err := e.connect(c.Context(), platformID)
			if err != nil {
				return err
			}
			defer pg.Close()
			fields, err := pg.Fields(c.Context(), bare)
			if err != nil {
				return err
			}
			id := bare
			if len(args) == 1 {
				id = args[0]
			}
			return e.print(&policy.DataPolicy{
				ID:       id,
				Metadata: policy.Metadata{Title: bare, Version: 1},
				Platform: policy.Platform{ID: platformID, PlatformType: "POSTGRES"},
				Source:   policy.Source{Ref: bare, Fields: fields},
				RuleSets: []policy.RuleSet{},
			})
		},
	}, policyIDOptional)
	e.platformFlag(c, &platformID, "id of the processing platform (with --bare)")
	c.Flags().StringVar(&bare, "bare", "", "schema.table to describe as a bare policy")
	_ = c.RegisterFlagCompletionFunc("bare", e.completeTables(&platformID))
	return c
}
