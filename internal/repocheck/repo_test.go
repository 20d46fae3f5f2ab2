package repocheck

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pace-cli/pace/internal/testenv"
)

// root is the repository's top folder, relative to this package.
const root = "../.."

// trackedFiles lists the files git tracks, relative to root. Without git,
// or outside a git checkout, the test is skipped, or fails where CI or
// PACE_TEST_STRICT is set.
func trackedFiles(t *testing.T) []string {
	t.Helper()
	git := testenv.NeedTool(t, "git")
	cmd := exec.Command(git, "-C", root, "ls-files", "-z", "--cached")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		testenv.Unavailable(t, "git ls-files: "+strings.TrimSpace(stderr.String())+": "+err.Error())
	}
	var files []string
	for _, f := range strings.Split(string(out), "\x00") {
		if f != "" {
			files = append(files, filepath.FromSlash(f))
		}
	}
	if len(files) == 0 {
		t.Fatal("git ls-files lists no file")
	}
	return files
}

// exists reports whether path (relative to root) is there.
func exists(path string) bool {
	_, err := os.Stat(filepath.Join(root, path))
	return err == nil
}
