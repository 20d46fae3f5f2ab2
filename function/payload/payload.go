// Package payload defines the one wire type shared by every part of pace's
// telemetry: the CLI keeps it in telemetry.yaml, the daemon uploads it as
// JSON, and the receiver decodes and validates it.
//
// It lives in the function module, with no dependencies, so the receiver
// deploys from function/ alone; the root module requires the function
// module's release version (docs/release.md).
package payload

import "encoding/json"

// Payload is the cumulative usage of one installation: how many times each
// command path finished with each exit code.
//
// In JSON, exit codes are string keys ("0"), which encoding/json does for
// integer-keyed maps; in YAML they are integer keys. Keys are always sorted,
// so the same counts give the same bytes.
type Payload struct {
	MetricPoints    map[string]map[int]Point `json:"metric_points" yaml:"metric_points"`
	CLIVersion      string                   `json:"cli_version" yaml:"cli_version"`
	OperatingSystem string                   `json:"operating_system" yaml:"operating_system"`
	ID              string                   `json:"id" yaml:"id"`

	// CrashSites counts, per command path, the runs that panicked at each
	// crash site (see ValidCrashSite). PACE's original CLI never writes it.
	CrashSites map[string]map[string]Point `json:"crash_sites,omitempty" yaml:"crash_sites,omitempty"`
}

// Point is one counter. It is a struct rather than a bare number to keep
// the format of PACE's original CLI, and room for more fields.
type Point struct {
	CumulativeCount uint64 `json:"cumulative_count" yaml:"cumulative_count"`
}

// MaxCount is the largest count a receiver accepts (2^32-1); the CLI
// saturates there rather than overflowing.
const MaxCount = 1<<32 - 1

// Marshal returns the exact upload body: compact JSON with sorted keys.
// metric_points is always an object, never null.
func (p *Payload) Marshal() ([]byte, error) {
	q := *p
	if q.MetricPoints == nil {
		q.MetricPoints = map[string]map[int]Point{}
	}
	return json.Marshal(&q)
}

// Counters returns how many (command path, exit code) counters p holds.
func (p *Payload) Counters() int {
	n := 0
	for _, codes := range p.MetricPoints {
		n += len(codes)
	}
	return n
}
