package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of pace",
		RunE: func(c *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(e.Out, e.version)
			return err
		},
	}
}
