//go:build darwin || windows

package main

import (
	"os"
	"testing"
	"time"

	"github.com/pace-cli/pace/internal/testenv"
)

// The tests against the real service manager of macOS (launchd) and
// Windows (the user's Run key) install into the account that runs them,
// so they run only where asked: PACE_TEST_REAL_SERVICE=1, as CI's macOS
// and Windows jobs set it.
func needRealService(t *testing.T) {
	t.Helper()
	if os.Getenv("PACE_TEST_REAL_SERVICE") != "1" {
		t.Skip("installs into this account's own service manager; set PACE_TEST_REAL_SERVICE=1 to run it")
	}
}

// settle waits for cond, at most a minute: a CI runner's service manager
// can be slow.
func settle(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.EventuallyWithin(t, time.Minute, what, cond)
}
