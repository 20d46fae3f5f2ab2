package pgsink

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every statement of queries.sql has one name, and is used by name in
// the package; every name the package asks for is there.
func TestQueriesAreNamedOnceAndUsed(t *testing.T) {
	names := regexp.MustCompile(`(?m)^-- name: (\S+)$`).FindAllStringSubmatch(queriesSQL, -1)
	defined := map[string]int{}
	for _, m := range names {
		defined[m[1]]++
	}
	for n, c := range defined {
		if c > 1 {
			t.Errorf("%s is named %d times in queries.sql", n, c)
		}
		if q := queries()[n]; q == "" || strings.HasSuffix(q, ";") || strings.Contains(q, "-- name:") {
			t.Errorf("%s: statement %q", n, q)
		}
	}
	files, _ := filepath.Glob("*.go")
	used := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`query\("([a-z_]+)"\)|"(prune_[a-z_]+)"`).FindAllStringSubmatch(string(b), -1) {
			used[m[1]+m[2]] = true
		}
	}
	for n := range used {
		if defined[n] == 0 {
			t.Errorf("the package asks for %s, which queries.sql lacks", n)
		}
	}
	for n := range defined {
		if !used[n] {
			t.Errorf("queries.sql names %s, which nothing uses", n)
		}
	}
	if len(defined) < 40 {
		t.Errorf("only %d statements found in queries.sql", len(defined))
	}
}
