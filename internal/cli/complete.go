package cli

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// Shell completion of the values pace knows: data policy ids from the
// store, processing platform ids from config.yaml, and schemas and tables
// from the platform itself. A Tab never waits long on a platform, and a
// completion that fails offers nothing rather than file names.

const completeTimeout = 2 * time.Second

func noFiles(values []string) ([]string, cobra.ShellCompDirective) {
	return values, cobra.ShellCompDirectiveNoFileComp
}

// platformFlag adds --processing-platform/-p, completed with the ids of
// config.yaml.
func (e *env) platformFlag(c *cobra.Command, id *string, usage string) {
	c.Flags().StringVarP(id, "processing-platform", "p", "", usage)
	_ = c.RegisterFlagCompletionFunc("processing-platform", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		_, s, err := e.configDir()
		if err != nil {
			return noFiles(nil)
		}
		var ids []string
		for _, p := range s.Platforms {
			ids = append(ids, p.ID+"\t"+p.Type)
		}
		return noFiles(ids)
	})
}

// completeSchemas offers the schemas of the platform given with -p.
func (e *env) completeSchemas(id *string) cobra.CompletionFunc {
	return func(c *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		return e.fromPlatform(*id, func(ctx context.Context, q querier) ([]string, error) { return q.Schemas(ctx) })
	}
}

// completeTables offers schema.table names of the platform given with -p;
// with no -p there is nothing to ask.
func (e *env) completeTables(id *string) cobra.CompletionFunc {
	return func(c *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		schema, _, found := strings.Cut(toComplete, ".")
		if !found {
			schema = "" // all schemas until one is typed
		}
		return e.fromPlatform(*id, func(ctx context.Context, q querier) ([]string, error) { return q.Tables(ctx, schema) })
	}
}

type querier interface {
	Schemas(context.Context) ([]string, error)
	Tables(context.Context, string) ([]string, error)
}

func (e *env) fromPlatform(id string, list func(context.Context, querier) ([]string, error)) ([]string, cobra.ShellCompDirective) {
	if id == "" {
		return noFiles(nil)
	}
	ctx, cancel := context.WithTimeout(context.Background(), completeTimeout)
	defer cancel()
	pg, err := e.connect(ctx, id)
	if err != nil {
		return noFiles(nil)
	}
	defer pg.Close()
	values, err := list(ctx, pg)
	if err != nil {
		return noFiles(nil)
	}
	return noFiles(values)
}
