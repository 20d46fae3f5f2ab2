package cli

import (
	"github.com/spf13/cobra"

	"github.com/pace-cli/pace/internal/command"
)

// The id of a stored data policy as a command's argument (pace get,
// delete, transpile, apply and evaluate data-policy): its check and its
// completion, written once.

const policyIDWhat = "the id of a data policy"

// policyIDNeed says whether a command needs the id or may go without it.
type policyIDNeed int

const (
	policyIDRequired policyIDNeed = iota // exactly one argument
	policyIDOptional                     // none or one (pace get data-policy --bare)
)

// policyIDArg makes c take the id of a stored data policy as its argument,
// checked (a usage error, exit code 2, otherwise) and completed with the
// ids in the store.
func (e *env) policyIDArg(c *cobra.Command, need policyIDNeed) *cobra.Command {
	if need == policyIDOptional {
		c.Args = command.MaxOneArg(policyIDWhat)
	} else {
		c.Args = command.ExactArg(policyIDWhat, "see 'pace list data-policies'")
	}
	c.ValidArgsFunction = e.completePolicyIDs
	return c
}

// completePolicyIDs offers the ids of the stored data policies as the one
// argument of a command.
func (e *env) completePolicyIDs(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return noFiles(nil)
	}
	store, err := e.policies()
	if err != nil {
		return noFiles(nil)
	}
	ps, err := store.List()
	if err != nil {
		return noFiles(nil)
	}
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.ID+"\t"+p.Metadata.Title)
	}
	return noFiles(ids)
}
