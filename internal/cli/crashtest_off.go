//go:build !crashtest

package cli

import "github.com/pace-cli/pace/internal/config"

// crashTest does nothing outside test builds (crashtest_on.go).
func crashTest(config.Getenv) {}
