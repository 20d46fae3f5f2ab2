package pgsink_test

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// privacyDoc is the data inventory.
var privacyDoc = filepath.Join("..", "..", "..", "docs", "privacy.md")

// inventory reads the PostgreSQL section of docs/privacy.md: each
// "### `table`" heading and the "| `column` |" rows under it.
func inventory(t *testing.T) map[string]map[string]bool {
	t.Helper()
	f, err := os.Open(privacyDoc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	heading := regexp.MustCompile("^### `([a-z0-9_]+)`\\s*$")
	row := regexp.MustCompile("^\\| `([a-z0-9_]+)` \\|")
	doc := map[string]map[string]bool{}
	in, table := false, ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in, table = strings.HasPrefix(line, "## At the receiver: PostgreSQL"), ""
			continue
		}
		if !in {
			continue
		}
		if m := heading.FindStringSubmatch(line); m != nil {
			table = m[1]
			if doc[table] != nil {
				t.Fatalf("%s names table %s twice", privacyDoc, table)
			}
			doc[table] = map[string]bool{}
		} else if m := row.FindStringSubmatch(line); m != nil && table != "" {
			doc[table][m[1]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(doc) == 0 {
		t.Fatalf("%s has no PostgreSQL section with tables", privacyDoc)
	}
	return doc
}

// TestPrivacyInventoryNamesEveryColumn fails when the schema of a migrated
// database has a table or column that docs/privacy.md does not name, or
// the inventory names one the schema lacks.
func TestPrivacyInventoryNamesEveryColumn(t *testing.T) {
	r := newRig(t)
	rows, err := r.conn(t).Query(context.Background(), `SELECT table_name::text, column_name::text FROM information_schema.columns
		WHERE table_schema = current_schema() ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	schema := map[string]map[string]bool{}
	var tbl, col string
	if _, err := pgx.ForEachRow(rows, []any{&tbl, &col}, func() error {
		if schema[tbl] == nil {
			schema[tbl] = map[string]bool{}
		}
		schema[tbl][col] = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(schema) < 5 {
		t.Fatalf("the migrated schema has only %v", schema)
	}
	doc := inventory(t)
	var missing, stale []string
	for tbl, cols := range schema {
		if doc[tbl] == nil {
			missing = append(missing, "table "+tbl)
			continue
		}
		for c := range cols {
			if !doc[tbl][c] {
				missing = append(missing, tbl+"."+c)
			}
		}
	}
	for tbl, cols := range doc {
		for c := range cols {
			if !schema[tbl][c] {
				stale = append(stale, tbl+"."+c)
			}
		}
		if schema[tbl] == nil {
			stale = append(stale, "table "+tbl)
		}
	}
	sort.Strings(missing)
	sort.Strings(stale)
	if len(missing) > 0 {
		t.Errorf("%s does not name, in its PostgreSQL section (a \"### `table`\" heading, a \"| `column` | what it is |\" row): %s", privacyDoc, strings.Join(missing, ", "))
	}
	if len(stale) > 0 {
		t.Errorf("%s names what the schema lacks: %s", privacyDoc, strings.Join(stale, ", "))
	}
}
