package cli

import (
	"os"
	"testing"

	"github.com/pace-cli/pace/internal/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}
