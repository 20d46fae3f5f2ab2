package cli

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/pace-cli/pace/internal/command"
)

// pace evaluate data-policy, and the rows it prints.
func newEvaluatePolicyCmd(e *env) *cobra.Command {
	var role string
	var limit int
	c := e.policyIDArg(&cobra.Command{
		Use:   "data-policy ID",
		Short: "Print the first rows of each view as a role sees them",
		Example: command.Examples(
			"pace evaluate data-policy public-customers --as analyst",
			"pace evaluate data-policy public-customers --as marketing --limit 3 -o json",
		),
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
	}, policyIDRequired)
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
