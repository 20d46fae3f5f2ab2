package receiver

import (
	"slices"
	"time"

	"github.com/pace-cli/pace/function/internal/sink"
	"github.com/pace-cli/pace/function/payload"
)

// toUpload turns a validated payload into the neutral upload every sink
// takes: the counters of allow-listed command paths, sorted by path and
// exit code so that output is stable. Counters of other paths are counted
// in dropped and left out, so that no one can create new series.
func toUpload(p *payload.Payload, known map[string][]string, now time.Time, source string) (u *sink.Upload, dropped int) {
	paths := make([]string, 0, len(p.MetricPoints))
	n := 0
	for path, codes := range p.MetricPoints {
		if _, ok := known[path]; !ok {
			dropped += len(codes)
			continue
		}
		paths = append(paths, path)
		n += len(codes)
	}
	slices.Sort(paths)
	u = &sink.Upload{ID: p.ID, CLIVersion: p.CLIVersion, OS: p.OperatingSystem, Received: now, Source: source, Counters: make([]sink.Counter, 0, n)}
	codes := make([]int, 0, 8)
	for _, path := range paths {
		codes = codes[:0]
		for code := range p.MetricPoints[path] {
			codes = append(codes, code)
		}
		slices.Sort(codes)
		for _, code := range codes {
			u.Counters = append(u.Counters, sink.Counter{Path: path, Words: known[path], ExitCode: code, Count: p.MetricPoints[path][code].CumulativeCount})
		}
	}
	return u, dropped
}
