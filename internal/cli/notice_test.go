package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pace-cli/pace/internal/telemetry"
)

// An install from before the notice changed (its counts file, no record of
// the notice) is told once what changed; a new one gets the whole notice
// once; status says which version was shown.
func TestNoticeIsShownAgainWhenWhatIsCollectedChanges(t *testing.T) {
	s := newSandbox(t)
	// As the previous release left it: counts, and no telemetry-notice.
	(&telemetry.Store{Dir: s.dir, Version: "v1.25.0"}).Record("pace version", 0)
	// status is a counted run too: it says what it found, then the notice
	// is owed.
	r := s.pace("telemetry", "status")
	if !strings.Contains(r.stdout, "not shown yet (version 2 is shown on the next counted run)") {
		t.Fatalf("status before: %q", r.stdout)
	}
	if !strings.Contains(r.err, "What pace counts has changed: it now also counts the runs you interrupt, and where in its own code pace crashed") {
		t.Fatalf("an existing install was not told what changed: %q", r.err)
	}
	if r := s.pace("version"); r.err != "" {
		t.Fatalf("the notice was shown twice: %q", r.err)
	}
	if r := s.pace("telemetry", "status", "-o", "json"); !strings.Contains(r.stdout, `"notice_shown": 2`) || !strings.Contains(r.stdout, `"notice_version": 2`) {
		t.Fatalf("status -o json: %s", r.stdout)
	}
	// An older version on record, and a new pace: shown again. The same
	// pace does not look (the notice changes with pace's version only).
	os.WriteFile(filepath.Join(s.dir, "telemetry-notice"), []byte("1\n"), 0o600)
	if r := s.pace("version"); r.err != "" {
		t.Fatalf("shown by the same version of pace: %q", r.err)
	}
	(&telemetry.Store{Dir: s.dir, Version: "v1.25.0"}).Record("pace version", 0)
	r = s.pace("telemetry", "status")
	if !strings.Contains(r.stdout, "version 1 shown; version 2, which says what changed, is shown on the next counted run") {
		t.Fatalf("status with version 1 shown: %q", r.stdout)
	}
	if !strings.Contains(r.err, "What pace counts has changed") {
		t.Fatalf("version 1 shown, version 2 not: %q", r.err)
	}
	if r := s.pace("telemetry", "status"); !strings.Contains(r.stdout, "notice:       version 2 shown\n") || r.err != "" {
		t.Fatalf("status after: %+v", r)
	}
	// A new install: the whole notice, once.
	s2 := newSandbox(t)
	if r := s2.pace("version"); !strings.Contains(r.err, "interrupted runs included, and where in its own code pace crashed, if it does, without the error message") || strings.Contains(r.err, "has changed") {
		t.Fatalf("first run: %q", r.err)
	}
	if r := s2.pace("version"); r.err != "" {
		t.Fatalf("shown twice: %q", r.err)
	}
	// clean forgets it was shown, as it forgets the counts.
	s2.pace("telemetry", "clean")
	if r := s2.pace("version"); !strings.Contains(r.err, "pace counts the commands you run") {
		t.Fatalf("after clean: %q", r.err)
	}
}
