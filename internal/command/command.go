// Package command is the cobra plumbing pace and pace-telemetryd share:
// usage errors and the argument checks that make them, flag errors in
// plain words, one Execute that prints an error once and maps it to an exit
// code, the -o/--output flag and its printer, and the version command.
package command

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// ExitUsage is the exit code of a usage error in both programs.
const ExitUsage = 2

// UsageError marks a mistake in how a program was called: an unknown
// command or flag, a bad flag value, a wrong number of arguments.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// Usagef makes a UsageError.
func Usagef(format string, args ...any) error {
	return UsageError{fmt.Errorf(format, args...)}
}

// IsUsage tells whether err is, or wraps, a UsageError.
func IsUsage(err error) bool {
	var u UsageError
	return errors.As(err, &u)
}

// Prepare sets up a command tree the way both programs want it: cobra
// prints nothing itself (Execute does, once), flag and argument errors are
// usage errors in plain words, and a leaf command that sets no argument
// rule takes none (cobra's default accepts anything silently).
func Prepare(root *cobra.Command) {
	root.SilenceErrors = true
	root.SilenceUsage = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return UsageError{plainFlagError(err)} })
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	wrapArgs(root)
}

// Execute runs root with args and returns the command that ran (nil when
// none was found) and the exit code code gives for its error. An error is
// printed once on stderr with prefix; a usage error also says where help is.
func Execute(root *cobra.Command, args []string, stderr io.Writer, prefix string, code func(error) int) (*cobra.Command, int) {
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil {
		return cmd, 0
	}
	if cmd != nil && strings.HasPrefix(err.Error(), "required flag(s) ") {
		err = missingFlags(cmd)
	}
	fmt.Fprintln(stderr, prefix+err.Error())
	if IsUsage(err) {
		where := root
		if cmd != nil {
			where = cmd
		}
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", where.CommandPath())
		return cmd, ExitUsage
	}
	return cmd, code(err)
}

// missingFlags replaces cobra's `required flag(s) "as" not set`, which
// comes from no hook we can set, with what is missing and what it is for.
func missingFlags(c *cobra.Command) error {
	var missing []string
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if _, required := f.Annotations[cobra.BashCompOneRequiredFlag]; required && !f.Changed {
			missing = append(missing, fmt.Sprintf("--%s (%s)", f.Name, strings.TrimSuffix(f.Usage, " (required)")))
		}
	})
	return Usagef("%s needs %s", c.CommandPath(), strings.Join(missing, " and "))
}

// wrapArgs makes every argument-count error a usage error.
func wrapArgs(c *cobra.Command) {
	check := c.Args
	if check == nil && !c.HasSubCommands() && c.Name() != "help" {
		check = cobra.NoArgs
	}
	if check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				if IsUsage(err) {
					return err
				}
				return UsageError{err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
}

// ExactArg accepts exactly one argument, described by what ("the id of a
// data policy"); hint says where to find one ("see 'pace list data-policies'").
func ExactArg(what, hint string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		switch {
		case len(args) == 0:
			return Usagef("%s needs %s%s", c.CommandPath(), what, hintText(hint))
		case len(args) > 1:
			return Usagef("%s takes one argument, %s; got %d (quote a value that has spaces)", c.CommandPath(), what, len(args))
		}
		return nil
	}
}

// MaxOneArg accepts no argument or one, described by what.
func MaxOneArg(what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) > 1 {
			return Usagef("%s takes at most one argument, %s; got %d (quote a value that has spaces)", c.CommandPath(), what, len(args))
		}
		return nil
	}
}

func hintText(hint string) string {
	if hint == "" {
		return ""
	}
	return "; " + hint
}

// plainFlagError rewrites pflag's messages, which quote Go's parsers
// (`strconv.ParseInt: parsing "abc": invalid syntax`), into what is wrong
// and what to type instead.
func plainFlagError(err error) error {
	var invalid *pflag.InvalidValueError
	if errors.As(err, &invalid) {
		f := invalid.GetFlag()
		return fmt.Errorf("--%s %q is not %s", f.Name, invalid.GetValue(), expected(f))
	}
	var missing *pflag.ValueRequiredError
	if errors.As(err, &missing) {
		f := missing.GetFlag()
		return fmt.Errorf("--%s needs a value: %s", f.Name, expected(f))
	}
	return err
}

// expected describes the values a flag takes, with an example.
func expected(f *pflag.Flag) string {
	switch f.Value.Type() {
	case "int", "int64", "int32", "uint", "uint64":
		return "a whole number; for example --" + f.Name + " " + exampleOr(f.DefValue, "10")
	case "duration":
		return "a duration with a unit; for example --" + f.Name + " 30s, 500ms or 5m"
	case "bool":
		return "true or false; give --" + f.Name + " alone for true"
	case "float64", "float32":
		return "a number; for example --" + f.Name + " 1.5"
	}
	return "a valid " + f.Value.Type()
}

func exampleOr(def, fallback string) string {
	if def == "" || def == "0" || strings.HasPrefix(def, "-") {
		return fallback
	}
	return def
}

// Examples formats help examples: lines of "command  # what it does" are
// indented as cobra shows them.
func Examples(lines ...string) string {
	return "  " + strings.Join(lines, "\n  ")
}
