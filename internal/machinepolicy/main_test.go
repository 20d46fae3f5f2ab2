package machinepolicy

import (
	"os"
	"testing"

	"github.com/pace-cli/pace/function/servertest"
)

// TestMain removes the programs the wine test builds (servertest.Program).
func TestMain(m *testing.M) { os.Exit(servertest.Run(m)) }
