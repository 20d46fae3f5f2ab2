package cli

import (
	"context"

	"github.com/pace-cli/pace/internal/config"
	"github.com/pace-cli/pace/internal/platform"
	"github.com/pace-cli/pace/internal/policy"
)

// What the resource commands share: printing as -o says, the config
// folder, the policy store and the processing platforms.

// print writes v as YAML or JSON, as -o says (YAML unless -o json).
func (e *env) print(v any) error { return e.output.Print(e.Out, v) }

func (e *env) configDir() (string, config.Settings, error) {
	dir, err := config.Dir(e.getenv)
	if err != nil {
		return "", config.Settings{}, err
	}
	s, err := config.Load(dir)
	return dir, s, err
}

func (e *env) policies() (policy.Store, error) {
	dir, err := config.Dir(e.getenv)
	return policy.Store{Dir: dir}, err
}

// policy loads the stored data policy with id.
func (e *env) policy(id string) (*policy.DataPolicy, error) {
	store, err := e.policies()
	if err != nil {
		return nil, err
	}
	return store.Get(id)
}

// connect opens the processing platform named by --processing-platform.
func (e *env) connect(ctx context.Context, id string) (*platform.Postgres, error) {
	if id == "" {
		return nil, usageErrorf("--processing-platform is required; see 'pace list processing-platforms'")
	}
	_, s, err := e.configDir()
	if err != nil {
		return nil, err
	}
	return platform.Connect(ctx, s, id, e.getenv)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
