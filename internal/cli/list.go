package cli

import (
	"github.com/spf13/cobra"

	"github.com/pace-cli/pace/internal/command"
)

// pace list: processing-platforms, schemas, tables, data-policies.

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
