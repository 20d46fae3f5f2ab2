package receiver

import (
	"slices"
	"strings"
	"time"

	"github.com/pace-cli/pace/function/internal/sink"
	"github.com/pace-cli/pace/function/payload"
)

// toUpload turns a validated payload into the neutral upload every sink
// takes: the counters of allow-listed command paths, sorted by path and
// exit code so that output is stable. Counters of other paths are counted
// in dropped and left out, so that no one can create new series.
//
// Crash sites are taken the same way: of allow-listed paths only, and only
// when every frame names a function on the crash allow-list (functions), so
// that no free text reaches a store; others are counted in dropped too.
func toUpload(p *payload.Payload, known map[string][]string, functions map[string]bool, now time.Time, source string) (u *sink.Upload, dropped int) {
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
	if len(p.CrashSites) == 0 {
		return u, dropped
	}
	for path, sites := range p.CrashSites {
		for site, pt := range sites {
			if _, ok := known[path]; !ok || !knownSite(site, functions) {
				dropped++
				continue
			}
			u.Crashes = append(u.Crashes, sink.Crash{Path: path, Words: known[path], Site: site, Count: pt.CumulativeCount})
		}
	}
	slices.SortFunc(u.Crashes, func(a, b sink.Crash) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Site, b.Site)
	})
	return u, dropped
}

// knownSite reports whether every frame of site (already valid in shape)
// names a function on the crash allow-list.
func knownSite(site string, functions map[string]bool) bool {
	for frame := range strings.SplitSeq(site, " ") {
		fn, _, err := payload.ParseCrashFrame(frame)
		if err != nil || !functions[payload.CrashFunctionBase(fn)] {
			return false
		}
	}
	return true
}
