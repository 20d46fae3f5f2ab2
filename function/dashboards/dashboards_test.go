package dashboards

import (
	"path/filepath"
	"testing"
)

// Every dashboard of this folder is embedded and reads, with panels that
// have queries.
func TestEveryDashboardReads(t *testing.T) {
	onDisk, _ := filepath.Glob("*.json")
	if len(onDisk) != 3 {
		t.Fatalf("dashboards on disk: %q; name each in the constants", onDisk)
	}
	for _, name := range []string{Graphite, Prometheus, Postgres} {
		d, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		fromDisk, err := Read(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Panels) == 0 || len(d.Panels) != len(fromDisk.Panels) || d.Title == "" {
			t.Fatalf("%s: %d panels (%d on disk), title %q", name, len(d.Panels), len(fromDisk.Panels), d.Title)
		}
		for _, p := range d.Panels {
			if len(p.Targets) == 0 && len(p.Panels) == 0 {
				t.Errorf("%s: panel %q has no query", name, p.Title)
			}
			for _, tg := range p.Targets {
				if tg.Query() == "" || tg.Raw == nil {
					t.Errorf("%s: panel %q: a target without a query", name, p.Title)
				}
			}
			if d.Panel(p.Title) == nil {
				t.Errorf("%s: panel %q not found by its title", name, p.Title)
			}
		}
		for _, v := range d.Templating.List {
			if d.Variable(v.Name) == nil {
				t.Errorf("%s: variable %q not found by its name", name, v.Name)
			}
		}
	}
}
