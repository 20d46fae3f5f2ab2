package command

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

var errBoom = errors.New("boom")

func tree() *cobra.Command {
	root := &cobra.Command{Use: "prog"}
	var n int
	var d time.Duration
	var b bool
	leaf := &cobra.Command{Use: "leaf", RunE: func(*cobra.Command, []string) error { return nil }}
	leaf.Flags().IntVar(&n, "count", 3, "how many")
	leaf.Flags().DurationVar(&d, "wait", 0, "how long")
	leaf.Flags().BoolVar(&b, "dry", false, "only say")
	leaf.Flags().String("as", "", "the role (required)")
	leaf.MarkFlagRequired("as")
	one := &cobra.Command{Use: "one ID", Args: ExactArg("the id of a thing", "see 'prog list'"), RunE: func(*cobra.Command, []string) error { return nil }}
	fail := &cobra.Command{Use: "fail", RunE: func(*cobra.Command, []string) error { return errBoom }}
	root.AddCommand(leaf, one, fail)
	Prepare(root)
	return root
}

func TestExecuteMapsAndWordsErrors(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"leaf", "--as", "r"}, 0, ""},
		{[]string{"leaf"}, ExitUsage, "prog leaf needs --as (the role)"},
		{[]string{"leaf", "--as", "r", "--count", "many"}, ExitUsage, `--count "many" is not a whole number; for example --count 3`},
		{[]string{"leaf", "--as", "r", "--wait", "5"}, ExitUsage, `--wait "5" is not a duration with a unit`},
		{[]string{"leaf", "--as", "r", "--dry=perhaps"}, ExitUsage, `--dry "perhaps" is not true or false`},
		{[]string{"leaf", "--as", "r", "extra"}, ExitUsage, `unknown command "extra" for "prog leaf"`},
		{[]string{"leaf", "--as"}, ExitUsage, "--as needs a value"},
		{[]string{"one"}, ExitUsage, "prog one needs the id of a thing; see 'prog list'"},
		{[]string{"one", "a", "b"}, ExitUsage, "prog one takes one argument, the id of a thing; got 2"},
		{[]string{"fail"}, 7, "X: boom"},
	}
	for _, c := range cases {
		var stderr bytes.Buffer
		_, code := Execute(tree(), c.args, &stderr, "X: ", func(err error) int {
			if errors.Is(err, errBoom) {
				return 7
			}
			return 1
		})
		if code != c.code || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: %d %q, want %d %q", c.args, code, stderr.String(), c.code, c.want)
		}
		if c.code == ExitUsage && !strings.Contains(stderr.String(), "--help' for usage") {
			t.Errorf("%v: no pointer to help: %q", c.args, stderr.String())
		}
		for _, bad := range []string{"strconv", "arg(s)", "time: ", "required flag(s)"} {
			if strings.Contains(stderr.String(), bad) {
				t.Errorf("%v: library text %q", c.args, stderr.String())
			}
		}
	}
}
