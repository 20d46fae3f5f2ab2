package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/pace-cli/pace/internal/command"
	"github.com/pace-cli/pace/internal/config"
	"github.com/pace-cli/pace/internal/platform"
	"github.com/pace-cli/pace/internal/policy"
)

// print writes v as YAML or JSON, as -o says (YAML unless -o json).
func (e *env) print(v any) error { return e.output.Print(e.Out, v) }

func (e *env) configDir() (string, config.Settings, error) {
	dir, err := config.Dir(e.getenv)
	if err != nil {
		return "", config.Settings{}, err
	}
	s, err := config.Load(dir)
	return dir, s, err
}

func (e *env) policies() (policy.Store, error) {
	dir, err := config.Dir(e.getenv)
	return policy.Store{Dir: dir}, err
}

// policy loads the stored data policy with id.
func (e *env) policy(id string) (*policy.DataPolicy, error) {
	store, err := e.policies()
	if err != nil {
		return nil, err
	}
	return store.Get(id)
}

// connect opens the processing platform named by --processing-platform.
func (e *env) connect(ctx context.Context, id string) (*platform.Postgres, error) {
	if id == "" {
		return nil, usageErrorf("--processing-platform is required; see 'pace list processing-platforms'")
	}
	_, s, err := e.configDir()
	if err != nil {
		return nil, err
	}
	return platform.Connect(ctx, s, id, e.getenv)
}

func newListPlatformsCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:     "processing-platforms",
		Short:   "List the processing platforms of config.yaml",
		Example: command.Examples("pace list processing-platforms", "pace list processing-platforms -o json"),
		RunE: func(c *cobra.Command, _ []string) error {
			_, s, err := e.configDir()
			if err != nil {
				return err
			}
			type entry struct {
				ID   string `yaml:"id" json:"id"`
				Type string `yaml:"type" json:"type"`
			}
			list := []entry{}
			for _, p := range s.Platforms { // never the DSN: it may hold a password
				list = append(list, entry{p.ID, p.Type})
			}
			return e.print(map[string]any{"processing_platforms": list})
		},
	}
}

func newListSchemasCmd(e *env) *cobra.Command {
	var id string
	c := &cobra.Command{
		Use:     "schemas",
		Short:   "List the schemas of a processing platform",
		Example: command.Examples("pace list schemas --processing-platform pg"),
		RunE: func(c *cobra.Command, _ []string) error {
			pg, err := e.connect(c.Context(), id)
			if err != nil {
				return err
			}
			defer pg.Close()
			schemas, err := pg.Schemas(c.Context())
			if err != nil {
				return err
			}
			return e.print(map[string]any{"schemas": nonNil(schemas)})
		},
	}
	e.platformFlag(c, &id, "id of the processing platform")
	return c
}

func newListTablesCmd(e *env) *cobra.Command {
	var id, schema string
	c := &cobra.Command{
		Use:     "tables",
		Short:   "List the tables of a processing platform",
		Example: command.Examples("pace list tables -p pg", "pace list tables -p pg --schema public -o json"),
		RunE: func(c *cobra.Command, _ []string) error {
			pg, err := e.connect(c.Context(), id)
			if err != nil {
				return err
			}
			defer pg.Close()
			tables, err := pg.Tables(c.Context(), schema)
			if err != nil {
				return err
			}
			return e.print(map[string]any{"tables": nonNil(tables)})
		},
	}
	e.platformFlag(c, &id, "id of the processing platform")
	c.Flags().StringVar(&schema, "schema", "", "only this schema")
	_ = c.RegisterFlagCompletionFunc("schema", e.completeSchemas(&id))
	return c
}

func newListPoliciesCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:     "data-policies",
		Short:   "List the stored data policies",
		Example: command.Examples("pace list data-policies", "pace list data-policies -o json"),
		RunE: func(c *cobra.Command, _ []string) error {
			store, err := e.policies()
			if err != nil {
				return err
			}
			ps, err := store.List()
			if err != nil {
				return err
			}
			type entry struct {
				ID       string `yaml:"id" json:"id"`
				Title    string `yaml:"title" json:"title"`
				Platform string `yaml:"platform" json:"platform"`
				Source   string `yaml:"source" json:"source"`
			}
			list := []entry{}
			for _, p := range ps {
				list = append(list, entry{p.ID, p.Metadata.Title, p.Platform.ID, p.Source.Ref})
			}
			return e.print(map[string]any{"data_policies": list})
		},
	}
}

func newGetPolicyCmd(e *env) *cobra.Command {
	var platformID, bare string
	c := &cobra.Command{
		Use:   "data-policy [ID]",
		Short: "Print a stored data policy, or a bare one for a table to start from",
		Example: command.Examples(
			"pace get data-policy public-customers",
			"pace get data-policy -p pg --bare public.customers > policy.yaml   # a policy to start from",
		),
		Args:              command.MaxOneArg("the id of a data policy"),
		ValidArgsFunction: e.completePolicyIDs,
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
	}
	e.platformFlag(c, &platformID, "id of the processing platform (with --bare)")
	c.Flags().StringVar(&bare, "bare", "", "schema.table to describe as a bare policy")
	_ = c.RegisterFlagCompletionFunc("bare", e.completeTables(&platformID))
	return c
}

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

func newDeletePolicyCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:               "data-policy ID",
		Short:             "Delete a stored data policy (its views stay)",
		Example:           command.Examples("pace delete data-policy public-customers"),
		Args:              command.ExactArg("the id of a data policy", "see 'pace list data-policies'"),
		ValidArgsFunction: e.completePolicyIDs,
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
	}
}

func newTranspilePolicyCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:               "data-policy ID",
		Short:             "Print the SQL a data policy becomes",
		Example:           command.Examples("pace transpile data-policy public-customers"),
		Args:              command.ExactArg("the id of a data policy", "see 'pace list data-policies'"),
		ValidArgsFunction: e.completePolicyIDs,
		RunE: func(c *cobra.Command, args []string) error {
			p, err := e.policy(args[0])
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(e.Out, policy.Transpile(p))
			return err
		},
	}
}

func newApplyPolicyCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:               "data-policy ID",
		Short:             "Create the policy's views on its platform, in one transaction",
		Example:           command.Examples("pace apply data-policy public-customers"),
		Args:              command.ExactArg("the id of a data policy", "see 'pace list data-policies'"),
		ValidArgsFunction: e.completePolicyIDs,
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
	}
}

func newEvaluatePolicyCmd(e *env) *cobra.Command {
	var role string
	var limit int
	c := &cobra.Command{
		Use:   "data-policy ID",
		Short: "Print the first rows of each view as a role sees them",
		Example: command.Examples(
			"pace evaluate data-policy public-customers --as analyst",
			"pace evaluate data-policy public-customers --as marketing --limit 3 -o json",
		),
		Args:              command.ExactArg("the id of a data policy", "see 'pace list data-policies'"),
		ValidArgsFunction: e.completePolicyIDs,
		RunE: func(c *cobra.Command, args []string) error {
			if role == "" { // cobra checks it is given, not that it is empty
				return usageErrorf("--as needs the role to see the data as; for example --as analyst")
			}
			if limit < 1 || limit > 10000 {
				return usageErrorf("--limit %d: use 1 to 10000", limit)
			}
			p, err := e.policy(args[0])
			if err != nil {
				return err
			}
			pg, err := e.connect(c.Context(), p.Platform.ID)
			if err != nil {
				return err
			}
			defer pg.Close()
			var out []viewRows
			for _, rs := range p.RuleSets {
				cols, rows, err := pg.Evaluate(c.Context(), rs.Target.Ref.IntegrationFQN, role, limit)
				if err != nil {
					return fmt.Errorf("evaluate %s as %s: %w", rs.Target.Ref.IntegrationFQN, role, err)
				}
				v := viewRows{View: rs.Target.Ref.IntegrationFQN, Rows: []row{}}
				for _, r := range rows {
					v.Rows = append(v.Rows, row{cols, r})
				}
				out = append(out, v)
			}
			return e.print(out)
		},
	}
	c.Flags().StringVar(&role, "as", "", "the role to see the data as (required)")
	c.Flags().IntVar(&limit, "limit", 10, "rows per view")
	_ = c.MarkFlagRequired("as")
	_ = c.RegisterFlagCompletionFunc("as", cobra.NoFileCompletions)
	_ = c.RegisterFlagCompletionFunc("limit", cobra.NoFileCompletions)
	return c
}

type viewRows struct {
	View string `yaml:"view" json:"view"`
	Rows []row  `yaml:"rows" json:"rows"`
}

// row keeps its columns in the table's order in both formats.
type row struct {
	cols   []string
	values []any
}

func (r row) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for i, c := range r.cols {
		var k, v yaml.Node
		k.SetString(c)
		if err := v.Encode(plainValue(r.values[i])); err != nil {
			return nil, err
		}
		n.Content = append(n.Content, &k, &v)
	}
	return n, nil
}

func (r row) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, c := range r.cols {
		if i > 0 {
			b = append(b, ',')
		}
		k, _ := json.Marshal(c)
		v, err := json.Marshal(plainValue(r.values[i]))
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, k...), ':'), v...)
	}
	return append(b, '}'), nil
}

// plainValue turns database values into what YAML and JSON show well.
func plainValue(v any) any {
	switch x := v.(type) {
	case nil, bool, string, int16, int32, int64, int, float32, float64:
		return x
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case fmt.Stringer:
		return x.String()
	}
	if j, err := json.Marshal(v); err == nil {
		var out any
		if json.Unmarshal(j, &out) == nil {
			return out
		}
	}
	return fmt.Sprint(v)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
