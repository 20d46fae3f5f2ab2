package command

import (
	"encoding/json"
	"io"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
)

// Output is the -o/--output flag. Empty means the command's own default:
// text for the commands people read (status, show, version), YAML for the
// resource commands.
type Output struct{ Format string }

// Formats are the values -o takes.
var Formats = []string{"json", "yaml"}

// AddOutputFlag registers -o/--output as a persistent flag of root, checked
// before any command runs and completed with its values.
func AddOutputFlag(root *cobra.Command, o *Output) {
	root.PersistentFlags().StringVarP(&o.Format, "output", "o", "", "print data as json or yaml (default: text for status, show and version; yaml for resources)")
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(Formats, cobra.ShellCompDirectiveNoFileComp))
}

// Validate says what to type when -o has a value it does not know.
func (o *Output) Validate() error {
	switch o.Format {
	case "", "json", "yaml":
		return nil
	}
	return Usagef("-o %q is not a format: use yaml or json (-o yaml, -o json)", o.Format)
}

// Structured tells whether data was asked for (-o json or -o yaml) rather
// than the command's text.
func (o *Output) Structured() bool { return o.Format != "" }

// Print writes v as JSON (indented, one document) or YAML; YAML when no
// format was asked for.
func (o *Output) Print(w io.Writer, v any) error {
	if o.Format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return err
	}
	return enc.Close()
}
