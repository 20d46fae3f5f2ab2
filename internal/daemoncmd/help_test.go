package daemoncmd

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestEveryCommandHasExamples(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Runnable() && !c.Hidden && c.Name() != "help" && !strings.Contains(c.CommandPath(), " completion") && c.Example == "" {
			t.Errorf("no examples in the help of %s", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(Command())
}
