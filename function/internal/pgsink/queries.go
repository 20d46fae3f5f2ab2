package pgsink

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"
)

// queriesSQL holds the store's statements, each under "-- name: NAME".
//
//go:embed queries.sql
var queriesSQL string

// queries is queriesSQL by name, read on first use.
var queries = sync.OnceValue(func() map[string]string { return parseQueries(queriesSQL) })

// parseQueries splits a file of named statements: each starts at a line
// "-- name: NAME", its other comment lines and its final semicolon left
// out of what is sent.
func parseQueries(file string) map[string]string {
	out := map[string]string{}
	var name string
	var body []string
	flush := func() {
		if name != "" {
			out[name] = strings.TrimSuffix(strings.TrimSpace(strings.Join(body, "\n")), ";")
		}
		name, body = "", nil
	}
	for _, line := range strings.Split(file, "\n") {
		if n, ok := strings.CutPrefix(line, "-- name: "); ok {
			flush()
			name = strings.TrimSpace(n)
			continue
		}
		if name == "" || strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		body = append(body, line)
	}
	flush()
	return out
}

// query is the statement named name in queries.sql. A name that is not
// there is a mistake in this package, which its tests catch
// (TestQueriesAreNamedOnceAndUsed).
func query(name string) string {
	q, ok := queries()[name]
	if !ok {
		panic(fmt.Sprintf("pgsink: no statement %q in queries.sql", name))
	}
	return q
}
