// Package grafanasql expands a panel's SQL as Grafana's PostgreSQL data
// source does before sending it: the time macros the dashboards use and
// the dashboard variables. The dashboard tests and the panel benchmark run
// the dashboards' queries through it.
package grafanasql

import (
	"regexp"
	"slices"
	"strings"
	"time"
)

var (
	timeGroup = regexp.MustCompile(`\$__timeGroup\(([^,]+), '1d'\)`)
	timeFrom  = regexp.MustCompile(`\$__timeFrom\(\)`)
	timeTo    = regexp.MustCompile(`\$__timeTo\(\)`)
	timeFilt  = regexp.MustCompile(`\$__timeFilter\(([^)]+)\)`)
)

// Expand substitutes the macros for the range from–to and each variable,
// written $name or ${name}, by its value in vars, which is already
// formatted (see Quote). Longer names are substituted first, so that
// $commands is not read as $command followed by "s".
func Expand(sql string, from, to time.Time, vars map[string]string) string {
	f, tt := "'"+from.UTC().Format(time.RFC3339)+"'", "'"+to.UTC().Format(time.RFC3339)+"'"
	sql = timeGroup.ReplaceAllString(sql, "floor(extract(epoch from $1)/86400)*86400")
	sql = timeFilt.ReplaceAllString(sql, "$1 BETWEEN "+f+" AND "+tt)
	sql = timeFrom.ReplaceAllString(sql, f)
	sql = timeTo.ReplaceAllString(sql, tt)
	names := make([]string, 0, len(vars))
	for n := range vars {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { return len(b) - len(a) })
	for _, n := range names {
		sql = strings.ReplaceAll(sql, "${"+n+"}", vars[n])
		sql = strings.ReplaceAll(sql, "$"+n, vars[n])
	}
	return sql
}

// Quote formats the values of a multi-value variable (or one with "All")
// as Grafana's SQL data sources do: quoted string literals, comma-joined.
func Quote(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
	}
	return strings.Join(q, ",")
}
