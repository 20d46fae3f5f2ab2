package telemetry

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The original PACE CLI's telemetry type (getstrm/cli, pkg/entity/metrics,
// v1.19 to v1.25), which it writes with yaml.v3 Marshal and os.WriteFile
// 0644.
type paceFile struct {
	MetricPoints    map[string]map[uint32]paceMetric `yaml:"metric_points"`
	CliVersion      string                           `yaml:"cli_version"`
	OperatingSystem string                           `yaml:"operating_system"`
	Id              string                           `yaml:"id"`
}

type paceMetric struct {
	CumulativeCount uint32 `yaml:"cumulative_count"`
}

// v1.17.0 and v1.18.0 tagged the OS field operation_version.
type paceFileV117 struct {
	MetricPoints    map[string]map[uint32]paceMetric `yaml:"metric_points"`
	CliVersion      string                           `yaml:"cli_version"`
	OperatingSystem string                           `yaml:"operation_version"`
	Id              string                           `yaml:"id"`
}

// Every telemetry.yaml the PACE fleet has on disk is read: its id and
// counts are kept, the `pace __complete` counts it kept for every Tab
// press are dropped (not the whole file), and nothing is moved aside.
func TestReadsEveryFileThePACECLIWrote(t *testing.T) {
	const id = "0b7f4f2e-9c1d-4d5e-8a4b-6c2f1e3d9a70"
	counts := map[string]map[uint32]paceMetric{
		"pace __complete":         {0: {412}, 1: {3}},
		"pace list tables":        {0: {17}, 1: {2}},
		"pace list catalogs":      {0: {5}},
		"pace get lineage":        {1: {1}},
		"pace upsert data-policy": {0: {4294967295}}, // uint32's largest
		"pace version":            {0: {9}},
	}
	type variant struct {
		name string
		file any
	}
	var variants []variant
	for _, v := range []string{"1.17.0", "1.18.0"} {
		variants = append(variants, variant{"v" + v + " (operation_version)", paceFileV117{counts, v, "linux", id}})
	}
	for _, v := range []string{"1.17.0", "1.18.0", "1.19.0", "1.20.1", "1.21.0", "1.22.0", "1.23.2", "1.24.0", "1.25.0", "dev"} {
		// Upgraded from v1.17/18: the OS under its new tag is empty.
		variants = append(variants, variant{v + " (operating_system empty)", paceFile{counts, v, "", id}})
		variants = append(variants, variant{v, paceFile{counts, v, "darwin", id}})
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			data, err := yaml.Marshal(v.file)
			if err != nil {
				t.Fatal(err)
			}
			s, log := newStore(t)
			s.Log = log
			os.MkdirAll(s.Dir, 0o700)
			if err := os.WriteFile(s.Path(), data, 0o644); err != nil {
				t.Fatal(err)
			}
			// Readable as it is (status, show --payload, the daemon).
			p, err := s.Load()
			if err != nil {
				t.Fatalf("Load of the PACE CLI's file:\n%s\n%v", data, err)
			}
			if p.ID != id || p.MetricPoints["pace __complete"] != nil || p.Counters() != 6 {
				t.Fatalf("Load: %+v", p)
			}
			if s.Record("pace version", 0) {
				t.Fatal("Record took the PACE CLI's file for a new one")
			}
			s.Record("pace list tables", 1) // a second run, on the file pace wrote
			p, err = s.Load()
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]map[int]uint64{
				"pace list tables":        {0: 17, 1: 3},
				"pace list catalogs":      {0: 5},
				"pace get lineage":        {1: 1},
				"pace upsert data-policy": {0: 4294967295},
				"pace version":            {0: 10},
			}
			if p.ID != id || p.Counters() != 6 {
				t.Fatalf("after two runs: id %s, %d counters", p.ID, p.Counters())
			}
			for path, codes := range want {
				for code, n := range codes {
					if got := p.MetricPoints[path][code].CumulativeCount; got != n {
						t.Errorf("%s exit %d = %d, want %d", path, code, got, n)
					}
				}
			}
			if p.OperatingSystem != "linux" || p.CLIVersion != "v1.16.0" {
				t.Errorf("version and OS not refreshed: %q %q", p.CLIVersion, p.OperatingSystem)
			}
			entries, _ := os.ReadDir(s.Dir)
			for _, e := range entries {
				if strings.Contains(e.Name(), "corrupt") || strings.Contains(e.Name(), ".tmp") {
					t.Errorf("left %s in the folder", e.Name())
				}
			}
			if !strings.Contains(log.String(), "dropped 2 counters") {
				t.Errorf("debug log does not say what was dropped: %s", log)
			}
			if strings.Contains(log.String(), "__complete") {
				t.Errorf("debug log names a dropped path: %s", log)
			}
		})
	}

	// A new install of the PACE CLI writes its file before its first count.
	s, _ := newStore(t)
	os.MkdirAll(s.Dir, 0o700)
	data, _ := yaml.Marshal(paceFile{map[string]map[uint32]paceMetric{}, "1.25.0", "linux", id})
	if !strings.HasPrefix(string(data), "metric_points: {}\n") {
		t.Fatalf("not the fleet's empty file:\n%s", data)
	}
	os.WriteFile(filepath.Join(s.Dir, "telemetry.yaml"), data, 0o644)
	s.Record("pace version", 0)
	if p, err := s.Load(); err != nil || p.ID != id || p.Counters() != 1 {
		t.Fatalf("after the empty file: %+v, %v", p, err)
	}
}
