package cli

import (
	"os"
	"testing"

	"github.com/pace-cli/pace/function/servertest"
)

func TestMain(m *testing.M) { os.Exit(servertest.Run(m)) }
