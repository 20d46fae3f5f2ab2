//go:build crashtest

package cli

import (
	"time"

	"github.com/pace-cli/pace/internal/config"
)

// CrashTestEnv makes every command of a build with the tag crashtest panic
// with its value, once its flags are parsed: how the tests make pace crash
// as a bug would. Release builds ignore it (crashtest_off.go).
const CrashTestEnv = "PACE_CRASHTEST_PANIC"

// CrashTestHangEnv (=1) makes every command hang, deaf to its context:
// how the tests make a command that an interrupt cannot end by itself.
const CrashTestHangEnv = "PACE_CRASHTEST_HANG"

func crashTest(getenv config.Getenv) {
	if v := getenv(CrashTestEnv); v != "" {
		panic(v)
	}
	if getenv(CrashTestHangEnv) == "1" {
		time.Sleep(time.Hour)
	}
}
