package repocheck

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/pace-cli/pace/release"
)

// TestInstallDocGivesTheReleaseVersions: docs/install.md installs the
// versions a release publishes (release/install_test.go checks README's).
func TestInstallDocGivesTheReleaseVersions(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "docs", "install.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		re   *regexp.Regexp
		want string
	}{
		{regexp.MustCompile(`github\.com/pace-cli/pace/cmd/[a-z-]+@(\S+)`), release.Version},
		{regexp.MustCompile("`(v[0-9][^`]*)` is the release of this repository's root module"), release.Version},
		{regexp.MustCompile("tag\\s+`function/(v[^`]+)`"), release.FunctionVersion},
	} {
		ms := c.re.FindAllStringSubmatch(string(b), -1)
		if len(ms) == 0 {
			t.Errorf("docs/install.md: nothing matches %s", c.re)
		}
		for _, m := range ms {
			if m[1] != c.want {
				t.Errorf("docs/install.md: %q gives %s, the release is %s", m[0], m[1], c.want)
			}
		}
	}
}
