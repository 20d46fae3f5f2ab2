package telemetry

import (
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/pace-cli/pace/function/payload"
)

const site1 = "internal/platform.(*Postgres).Tables:+3 internal/cli.newListTablesCmd.func1:+9"
const site2 = "internal/policy.valid:=120"

func crashPayload() *payload.Payload {
	p := samplePayload()
	p.CrashSites = map[string]map[string]payload.Point{
		"pace list tables": {site1: {CumulativeCount: 2}, site2: {CumulativeCount: 1}},
		"pace version":     {site2: {CumulativeCount: 5}},
	}
	return p
}

// Crash sites are the file's last field, written as yaml.v3 writes it.
func TestEncodeCrashSitesMatchesYAMLLibrary(t *testing.T) {
	p := crashPayload()
	want, err := yaml.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := encode(p); string(got) != string(want) {
		t.Fatalf("encode:\n%s\nyaml.v3:\n%s", got, want)
	}
	back, err := decodeCanonical(want)
	if err != nil {
		t.Fatalf("fast path refused a file with crash sites: %v", err)
	}
	if !reflect.DeepEqual(back, p) {
		t.Fatalf("decoded %+v, want %+v", back, p)
	}
}

// A run after a crash still takes the fast path, and keeps the sites.
func TestSpliceKeepsCrashSites(t *testing.T) {
	p := crashPayload()
	data := encode(p)
	got, ok := splice(data, "pace list tables", 0, "v2.0.0", "darwin")
	if !ok {
		t.Fatal("splice refused a canonical file with crash sites")
	}
	p.MetricPoints["pace list tables"][0] = payload.Point{CumulativeCount: 3}
	p.CLIVersion, p.OperatingSystem = "v2.0.0", "darwin"
	if string(got) != string(encode(p)) {
		t.Fatalf("splice:\n%s\nwant:\n%s", got, encode(p))
	}
}

// Whatever the crash section holds that pace would not write sends the file
// to the slow path, which refuses it or reads it as YAML: never spliced.
func TestCrashSitesThatAreNotPacesAreRefused(t *testing.T) {
	good := string(encode(crashPayload()))
	for name, bad := range map[string]string{
		"free text in a site":    strings.Replace(good, "internal/policy.valid:=120", "password=hunter2:+1", 1),
		"a message for a site":   strings.Replace(good, "internal/policy.valid:=120", "runtime error: index out of range:+1", 1),
		"a negative count":       strings.Replace(good, "cumulative_count: 5", "cumulative_count: -5", 1),
		"more than eight frames": strings.Replace(good, site2, strings.Repeat("internal/a.b:+1 ", 8)+"internal/a.b:+1", 1),
	} {
		if bad == good {
			t.Fatalf("%s: the replacement did not apply", name)
		}
		if _, ok := splice([]byte(bad), "pace version", 0, "v1", "linux"); ok {
			t.Errorf("%s: spliced", name)
		}
		if _, err := decode([]byte(bad)); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

// Sites under a path pace never records are dropped, as such counters are.
func TestCrashSitesOfForeignPathsAreDropped(t *testing.T) {
	good := string(encode(crashPayload()))
	bad := strings.Replace(good, "    pace version:\n        internal", "    /home/alice:\n        internal", 1)
	if bad == good {
		t.Fatal("the replacement did not apply")
	}
	if _, ok := splice([]byte(bad), "pace version", 0, "v1", "linux"); ok {
		t.Error("spliced")
	}
	p, err := decode([]byte(bad))
	if err != nil {
		t.Fatal(err)
	}
	want := crashPayload().CrashSites
	delete(want, "pace version")
	if !reflect.DeepEqual(p.CrashSites, want) {
		t.Errorf("crash sites %v, want %v", p.CrashSites, want)
	}
}

func TestRecordCrashCountsTheRunAndTheSite(t *testing.T) {
	s := &Store{Dir: t.TempDir(), Version: "v1.26.0"}
	s.Record("pace list tables", 0)
	s.RecordCrash("pace list tables", 70, site1)
	s.RecordCrash("pace list tables", 70, site1)
	s.RecordCrash("pace version", 70, "not a site")
	s.Record("pace version", 0)
	p, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if got := p.MetricPoints["pace list tables"][70].CumulativeCount; got != 2 {
		t.Errorf("pace list tables 70: %d runs, want 2", got)
	}
	if got := p.MetricPoints["pace version"][70].CumulativeCount; got != 1 {
		t.Errorf("pace version 70: %d runs, want 1 (a bad site still counts the run)", got)
	}
	want := map[string]map[string]payload.Point{"pace list tables": {site1: {CumulativeCount: 2}}}
	if !reflect.DeepEqual(p.CrashSites, want) {
		t.Errorf("crash sites %v, want %v", p.CrashSites, want)
	}
	data, _ := os.ReadFile(s.Path())
	if _, _, err := scan(data, func(*line) {}); err != nil {
		t.Errorf("the file is not in canonical layout after a crash:\n%s", data)
	}
}

func TestRecordCrashKeepsAtMostMaxCrashSites(t *testing.T) {
	s := &Store{Dir: t.TempDir(), Version: "v1.26.0"}
	for i := range payload.MaxCrashSites + 3 {
		s.RecordCrash("pace version", 70, "internal/cli.f:+"+itoa(i+1))
	}
	s.RecordCrash("pace version", 70, "internal/cli.f:+1") // known: still counted
	p, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(p.CrashSites["pace version"]); n != payload.MaxCrashSites {
		t.Errorf("%d sites kept, want %d", n, payload.MaxCrashSites)
	}
	if got := p.CrashSites["pace version"]["internal/cli.f:+1"].CumulativeCount; got != 2 {
		t.Errorf("a known site counted %d, want 2", got)
	}
	if got := p.MetricPoints["pace version"][70].CumulativeCount; got != uint64(payload.MaxCrashSites+4) {
		t.Errorf("%d runs counted, want every one (%d)", got, payload.MaxCrashSites+4)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// RecordRun says when the file was new or last written by another version,
// on the fast path and the slow one alike.
func TestRecordRunSaysWhenTheVersionChanged(t *testing.T) {
	dir := t.TempDir()
	old := &Store{Dir: dir, Version: "v1.25.0"}
	if r := old.RecordRun("pace version", 0, ""); !r.Created || r.NewVersion {
		t.Fatalf("first run: %+v", r)
	}
	if r := old.RecordRun("pace version", 0, ""); r.Created || r.NewVersion {
		t.Fatalf("same version: %+v", r)
	}
	s := &Store{Dir: dir, Version: "v1.26.0"}
	if r := s.RecordRun("pace version", 0, ""); r.Created || !r.NewVersion {
		t.Fatalf("new version, fast path: %+v", r)
	}
	if r := s.RecordRun("pace version", 0, ""); r.NewVersion {
		t.Fatalf("second run of the new version: %+v", r)
	}
	if r := old.RecordRun("pace version", 70, site2); !r.NewVersion {
		t.Fatalf("older version, slow path (a crash): %+v", r)
	}
	if r := old.RecordRun("pace version", 70, site2); r.NewVersion {
		t.Fatalf("same version, slow path: %+v", r)
	}
}
