package command

import (
	"fmt"
	"io"
	"runtime"

	"github.com/spf13/cobra"
)

// VersionInfo is what `version -o json` prints; its JSON shape is stable
// (docs/telemetry.md documents it).
type VersionInfo struct {
	Program string `json:"program" yaml:"program"`
	Version string `json:"version" yaml:"version"`
	Go      string `json:"go" yaml:"go"`
	OS      string `json:"os" yaml:"os"`
	Arch    string `json:"arch" yaml:"arch"`
	// DefaultEndpoint is pace-telemetryd's built-in receiver ("" when none
	// was stamped in); pace has none and leaves it out.
	DefaultEndpoint *string `json:"default_endpoint,omitempty" yaml:"default_endpoint,omitempty"`
}

// NewVersionInfo describes the running binary.
func NewVersionInfo(program, version string) VersionInfo {
	return VersionInfo{Program: program, Version: version, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
}

// Text is the one-line form both `--version` and `version` print.
func (v VersionInfo) Text() string {
	return fmt.Sprintf("%s version %s (%s/%s, %s)", v.Program, v.Version, v.OS, v.Arch, v.Go)
}

// AddVersion gives root a --version flag and a version command that print
// the same line; the command also honours -o json|yaml.
func AddVersion(root *cobra.Command, info func() VersionInfo, out *Output, stdout func() io.Writer) {
	v := info()
	root.Version = v.Version
	root.SetVersionTemplate(v.Text() + "\n")
	// Defined here so that cobra does not take -v for it.
	root.Flags().Bool("version", false, "print the version of "+v.Program)
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the version of " + v.Program,
		Example: Examples(
			root.Name()+" version",
			root.Name()+" version -o json",
		),
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			v := info()
			if out.Structured() {
				return out.Print(stdout(), v)
			}
			_, err := fmt.Fprintln(stdout(), v.Text())
			return err
		},
	})
}
