package watch

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// wait returns true if w reports a change within a generous bound; the
// bound only keeps a broken watcher from hanging the test.
func changed(w *Watcher) bool {
	select {
	case <-w.C:
		return true
	case <-time.After(5 * time.Second):
		return false
	}
}

// quiet drains and checks that nothing more arrives for a short while.
func quiet(t *testing.T, w *Watcher) {
	t.Helper()
	select {
	case <-w.C:
		t.Fatal("unexpected change reported")
	case <-time.After(100 * time.Millisecond):
	}
}

func TestReportsReplacedFilesAndIgnoresOthers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := filepath.Join(t.TempDir(), "pace")
	os.Mkdir(dir, 0o700)
	w, err := Start(ctx, dir, "telemetry.yaml", "config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// A rename over the file, as pace writes it.
	os.WriteFile(filepath.Join(dir, "telemetry.yaml.tmp"), []byte("a"), 0o600)
	os.Rename(filepath.Join(dir, "telemetry.yaml.tmp"), filepath.Join(dir, "telemetry.yaml"))
	if !changed(w) {
		t.Fatal("rename over telemetry.yaml not reported")
	}
	time.Sleep(50 * time.Millisecond)
	for range len(w.C) {
		<-w.C
	}
	os.WriteFile(filepath.Join(dir, "other.txt"), []byte("x"), 0o600)
	quiet(t, w)
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("telemetry-mode: off\n"), 0o600)
	if !changed(w) {
		t.Fatal("config.yaml write not reported")
	}
}

func TestSurvivesFolderDeletedAndMadeAgain(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root := t.TempDir()
	dir := filepath.Join(root, "config", "pace")
	// Start before the folder exists at all.
	w, err := Start(ctx, dir, "telemetry.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 3; round++ {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "telemetry.yaml"), []byte("x"), 0o600)
		if !changed(w) {
			t.Fatalf("round %d: file in a new folder not reported", round)
		}
		// Let the watcher settle on the folder, then write again.
		time.Sleep(50 * time.Millisecond)
		for range len(w.C) {
			<-w.C
		}
		os.WriteFile(filepath.Join(dir, "telemetry.yaml"), []byte("y"), 0o600)
		if !changed(w) {
			t.Fatalf("round %d: write not reported", round)
		}
		if err := os.RemoveAll(filepath.Join(root, "config")); err != nil {
			t.Fatal(err)
		}
		if !changed(w) {
			t.Fatalf("round %d: folder removal not reported", round)
		}
	}
}
