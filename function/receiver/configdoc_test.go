package receiver

import (
	"os"
	"regexp"
	"slices"
	"testing"
)

// TestConfigurationTableIsTheCode holds docs/configuration.md's table to
// LoadConfig: the variables it reads, with a sink of each kind, are the
// table's first column, both ways.
func TestConfigurationTableIsTheCode(t *testing.T) {
	read := map[string]bool{}
	for _, spec := range []string{"stdout", "carbon+tcp://127.0.0.1:2003", "https://h/graphite/metrics", "prometheus+https://h/api/v1/write", "postgres://u@h:5432/db"} {
		env := map[string]string{"TELEMETRY_SINK": spec, "TELEMETRY_ID_KEY": "0123456789abcdef0123456789abcdef", "GRAPHITE_USER": "u", "GRAPHITE_API_KEY": "k"}
		getenv := func(k string) string { read[k] = true; return env[k] }
		if _, err := LoadConfig(getenv, os.ReadFile); err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
	}
	b, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([A-Z_]+)` \\|")
	documented := map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		documented[m[1]] = true
	}
	for _, missing := range difference(read, documented) {
		t.Errorf("LoadConfig reads %s, which docs/configuration.md's table lacks", missing)
	}
	for _, extra := range difference(documented, read) {
		t.Errorf("docs/configuration.md's table has %s, which LoadConfig never reads", extra)
	}
}

func difference(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
