package telemetry

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pace-cli/pace/function/payload"
	"github.com/pace-cli/pace/internal/lockedfile"
)

func newStore(t *testing.T) (*Store, *bytes.Buffer) {
	t.Helper()
	var log bytes.Buffer
	return &Store{
		Dir:     filepath.Join(t.TempDir(), "pace"),
		Version: "v1.16.0",
		GOOS:    "linux",
		Now:     func() time.Time { return time.Date(2026, 11, 25, 4, 44, 17, 0, time.UTC) },
		Log:     &log,
	}, &log
}

func count(t *testing.T, s *Store, path string, code int) uint64 {
	t.Helper()
	p, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	return p.MetricPoints[path][code].CumulativeCount
}

func TestRecordCreatesPrivateFileAndCounts(t *testing.T) {
	s, _ := newStore(t)
	if !s.Record("pace version", 0) {
		t.Fatal("first Record did not report creating the file")
	}
	if s.Record("pace version", 0) || s.Record("pace list tables", 1) {
		t.Fatal("later Records reported creating the file")
	}
	if got := count(t, s, "pace version", 0); got != 2 {
		t.Fatalf("pace version/0 = %d, want 2", got)
	}
	if got := count(t, s, "pace list tables", 1); got != 1 {
		t.Fatalf("pace list tables/1 = %d, want 1", got)
	}
	for path, want := range map[string]os.FileMode{s.Dir: 0o700, s.Path(): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s has mode %v, want %v", path, got, want)
		}
	}
	p, _ := s.Load()
	if err := payload.ValidID(p.ID); err != nil || p.ID[14] != '4' || !strings.ContainsRune("89ab", rune(p.ID[19])) {
		t.Fatalf("id %q is not a random (v4) UUID: %v", p.ID, err)
	}
}

func TestRecordRefusesWhatIsNotACommandPath(t *testing.T) {
	s, log := newStore(t)
	for _, bad := range []string{"pace get secret.yaml", "pace --password=hunter2", "ls"} {
		s.Record(bad, 0)
	}
	s.Record("pace version", 256)
	if _, err := os.Stat(s.Path()); !os.IsNotExist(err) {
		t.Fatalf("a refused record wrote the file: %v", err)
	}
	if !strings.Contains(log.String(), "not recorded") {
		t.Fatalf("debug log does not explain: %q", log)
	}
}

func TestRecordRefreshesVersionAndKeepsCounts(t *testing.T) {
	s, _ := newStore(t)
	s.Record("pace version", 0)
	s.Version = "v1.17.0"
	s.Record("pace version", 0)
	p, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if p.CLIVersion != "v1.17.0" || p.MetricPoints["pace version"][0].CumulativeCount != 2 {
		t.Fatalf("after upgrade: %+v", p)
	}
}

func TestRecordSaturatesAtMaxCount(t *testing.T) {
	s, _ := newStore(t)
	s.Record("pace version", 0)
	p, _ := s.Load()
	p.MetricPoints["pace version"][0] = payload.Point{CumulativeCount: payload.MaxCount}
	if err := os.WriteFile(s.Path(), encode(p), 0o600); err != nil {
		t.Fatal(err)
	}
	s.Record("pace version", 0)
	if got := count(t, s, "pace version", 0); got != payload.MaxCount {
		t.Fatalf("count = %d, want it to stay at %d", got, uint64(payload.MaxCount))
	}
}

// Every kind of bad file is moved aside, byte for byte, and counting starts
// over in a fresh file.
func TestRecordMovesBadFilesAside(t *testing.T) {
	cases := map[string][]byte{
		"empty":          {},
		"truncated":      []byte(sample[:len(sample)/2]),
		"not YAML":       []byte("{{{ this is : not: yaml"),
		"wrongly typed":  []byte("metric_points: hello\nid: 36be4c46-4e1b-431d-b9db-1b315f537a85\n"),
		"negative count": []byte(strings.Replace(sample, "cumulative_count: 17", "cumulative_count: -17", 1)),
		"over 1 MiB":     append([]byte(sample), bytes.Repeat([]byte("# padding\n"), MaxFileSize/10+1)...),
		// Hand-edited: an exit code with no command path above it.
		"code without a path": []byte(strings.Replace(sample, "    pace list tables:\n", "", 1)),
	}
	for name, bad := range cases {
		t.Run(name, func(t *testing.T) {
			s, log := newStore(t)
			if err := os.MkdirAll(s.Dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(s.Path(), bad, 0o600); err != nil {
				t.Fatal(err)
			}
			s.Record("pace version", 0)
			aside := s.Path() + ".corrupt-20261125T044417Z"
			kept, err := os.ReadFile(aside)
			if err != nil {
				t.Fatalf("bad file not moved aside: %v (log: %s)", err, log)
			}
			if !bytes.Equal(kept, bad) {
				t.Fatal("the file moved aside differs from the bad file")
			}
			if got := count(t, s, "pace version", 0); got != 1 {
				t.Fatalf("fresh file counts %d, want 1", got)
			}
			if !strings.Contains(log.String(), "moved it to "+aside) {
				t.Fatalf("debug log does not say where the file went: %s", log)
			}
			// A second bad file in the same second gets its own name.
			if err := os.WriteFile(s.Path(), bad, 0o600); err != nil {
				t.Fatal(err)
			}
			s.Record("pace version", 0)
			if _, err := os.Stat(aside + "-2"); err != nil {
				t.Fatalf("second bad file not kept: %v", err)
			}
		})
	}
}

// A stuck holder of the lock costs a bounded wait, then the run is not
// counted; nothing is written without the lock.
func TestRecordGivesUpOnAStuckLock(t *testing.T) {
	s, log := newStore(t)
	s.LockTimeout = 20 * time.Millisecond
	s.Record("pace version", 0)
	unlock, err := lockedfile.Lock(context.Background(), s.Path())
	if err != nil {
		t.Fatal(err)
	}
	s.Record("pace version", 0)
	unlock()
	if got := count(t, s, "pace version", 0); got != 1 {
		t.Fatalf("count = %d with the lock held elsewhere, want 1", got)
	}
	if !strings.Contains(log.String(), "timed out waiting for the lock") {
		t.Fatalf("debug log does not explain: %s", log)
	}
}

func TestRecordConcurrentStores(t *testing.T) {
	s, _ := newStore(t)
	const workers, runs = 16, 20
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := *s // each goroutine its own Store, as each process has
			mine.LockTimeout = time.Minute
			mine.Log = nil // a bytes.Buffer is not safe for concurrent use
			for i := 0; i < runs; i++ {
				mine.Record("pace version", i%2)
			}
		}()
	}
	wg.Wait()
	if got := count(t, s, "pace version", 0) + count(t, s, "pace version", 1); got != workers*runs {
		t.Fatalf("total = %d, want %d", got, workers*runs)
	}
}

func TestReset(t *testing.T) {
	s, _ := newStore(t)
	s.Record("pace version", 0)
	before, _ := s.Load()
	if err := s.Reset(); err != nil {
		t.Fatal(err)
	}
	after, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if after.ID == before.ID || after.Counters() != 0 {
		t.Fatalf("after reset: id %s (was %s), %d counters", after.ID, before.ID, after.Counters())
	}
}

func BenchmarkRecord300(b *testing.B) {
	s := &Store{Dir: b.TempDir(), Version: "v1.16.0"}
	if err := os.WriteFile(s.Path(), encode(payloadWith(300)), 0o600); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		s.Record("pace verb1 noun1", 1)
	}
	if p, err := s.Load(); err != nil || p.Counters() != 300 {
		b.Fatalf("after benchmark: %v", err)
	}
}

// Blank lines with indentation, as editors leave them, are plain YAML: the
// file is read (slowly, once), counted, and written back canonical.
func TestRecordReadsEditedFiles(t *testing.T) {
	s, _ := newStore(t)
	os.MkdirAll(s.Dir, 0o700)
	edited := strings.Replace(sample, "    pace version:\n", "    \n        \n    pace version:\n", 1)
	if err := os.WriteFile(s.Path(), []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	s.Record("pace version", 0)
	if got := count(t, s, "pace version", 0); got != 18 {
		t.Fatalf("count = %d, want 18", got)
	}
	if data, _ := os.ReadFile(s.Path()); strings.Contains(string(data), "    \n") {
		t.Fatalf("not written back canonical:\n%s", data)
	}
}

// The usual count (one more, as many digits) is written over the old
// digits in the same file; a count that needs another digit, a new
// counter or a longer version writes a new file. Either way the file is the
// canonical one, byte for byte.
func TestRecordCountsInPlace(t *testing.T) {
	s, _ := newStore(t)
	for i := 0; i < 8; i++ {
		s.Record("pace version", 0)
	}
	step := func(what string, inPlace bool, record func()) {
		t.Helper()
		before, _ := os.Stat(s.Path())
		record()
		after, _ := os.Stat(s.Path())
		if os.SameFile(before, after) != inPlace {
			t.Errorf("%s: written in place = %v, want %v", what, !inPlace, inPlace)
		}
		p, err := s.Load()
		if err != nil {
			t.Fatal(err)
		}
		if data, _ := os.ReadFile(s.Path()); string(data) != string(encode(p)) {
			t.Fatalf("%s: not the canonical file:\n%s", what, data)
		}
	}
	step("8 to 9", true, func() { s.Record("pace version", 0) })
	step("9 to 10", false, func() { s.Record("pace version", 0) })
	step("10 to 11", true, func() { s.Record("pace version", 0) })
	step("a new counter", false, func() { s.Record("pace version", 1) })
	step("its second run", true, func() { s.Record("pace version", 1) })
	s.Version = "v1.16.1" // the count and the version, a few lines apart
	step("a new version as long", true, func() { s.Record("pace version", 1) })
	s.Version = "v1.16.10"
	step("a longer version", false, func() { s.Record("pace version", 1) })
	if got := count(t, s, "pace version", 0); got != 11 {
		t.Fatalf("pace version/0 = %d, want 11", got)
	}
}
