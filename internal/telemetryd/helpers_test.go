package telemetryd

import (
	"os"
	"os/exec"
	"testing"
)

// needTool finds a program a test needs; missing, the test skips with the
// reason, or fails where CI or PACE_TEST_STRICT is set.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("PACE_TEST_STRICT") != "" {
			t.Fatalf("%s is needed and missing (scripts/test.sh installs it)", name)
		}
		t.Skipf("%s is missing (scripts/test.sh installs it)", name)
	}
	return p
}
