package function

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pace-cli/pace/function/graphite"
	"github.com/pace-cli/pace/function/payload"
	"github.com/pace-cli/pace/function/promwrite"
)

// MetricName is the Graphite name of every series the receiver writes: the
// cumulative number of runs of one command path that ended with one exit
// code on one installation.
const MetricName = "pace.cli.invocations"

// Tag names the receiver writes. cmd1…cmd5 hold the words after "pace".
const (
	TagCommand  = "command"
	TagExitCode = "exit_code"
	TagVersion  = "cli_version"
	TagOS       = "operating_system"
	TagID       = "id"
)

// RootCommand is the command tag of the bare "pace" command, which has no
// words to join.
const RootCommand = "pace"

// TagNames lists every tag the receiver can write, in the order it writes
// them.
func TagNames() []string {
	names := make([]string, 0, payload.MaxPathWords-1+5)
	for i := 1; i < payload.MaxPathWords; i++ {
		names = append(names, cmdTags[i])
	}
	return append(names, TagCommand, TagExitCode, TagVersion, TagOS, TagID)
}

var (
	cmdTags   [payload.MaxPathWords]string // cmdTags[i] = "cmd<i>"
	exitCodes [payload.MaxExitCode + 1]string
)

func init() {
	for i := range cmdTags {
		cmdTags[i] = "cmd" + strconv.Itoa(i)
	}
	for i := range exitCodes {
		exitCodes[i] = payload.ExitCodeTag(i)
	}
}

// commandInfo is what the tags of a known command path need, computed once
// when the allow-list is loaded.
type commandInfo struct {
	words       []string // after "pace"
	command     string   // words joined with '.', or RootCommand
	promCommand string   // words joined with ' ', or RootCommand
}

func newCommandInfo(path string) commandInfo {
	words := strings.Fields(path)[1:]
	c := commandInfo{words: words, command: strings.Join(words, "."), promCommand: strings.Join(words, " ")}
	if c.command == "" {
		c.command = RootCommand
		c.promCommand = RootCommand
	}
	return c
}

// counter is one (known command path, exit code) of a payload.
type counter struct {
	info  commandInfo
	code  int
	value uint64
}

// knownCounters lists the counters of known command paths, sorted by path
// and exit code so that output is stable, and counts those of unknown
// paths, which are dropped so that no one can create new series.
func knownCounters(p *payload.Payload, known map[string]commandInfo) (counters []counter, dropped int) {
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
	counters = make([]counter, 0, n)
	codes := make([]int, 0, 8)
	for _, path := range paths {
		codes = codes[:0]
		for code := range p.MetricPoints[path] {
			codes = append(codes, code)
		}
		slices.Sort(codes)
		for _, code := range codes {
			counters = append(counters, counter{known[path], code, p.MetricPoints[path][code].CumulativeCount})
		}
	}
	return counters, dropped
}

// toSeries turns a validated payload into one Graphite series per
// (known command path, exit code).
func toSeries(p *payload.Payload, known map[string]commandInfo, idTag bool, interval int, now time.Time) (series []graphite.Series, dropped int) {
	counters, dropped := knownCounters(p, known)
	series = make([]graphite.Series, 0, len(counters))
	ts := now.Unix()
	for _, c := range counters {
		tags := make([]graphite.Tag, 0, len(c.info.words)+5)
		for i, w := range c.info.words {
			tags = append(tags, graphite.Tag{Key: cmdTags[i+1], Value: w})
		}
		tags = append(tags,
			graphite.Tag{Key: TagCommand, Value: c.info.command},
			graphite.Tag{Key: TagExitCode, Value: exitCodes[c.code]},
			graphite.Tag{Key: TagVersion, Value: p.CLIVersion},
			graphite.Tag{Key: TagOS, Value: p.OperatingSystem},
		)
		if idTag {
			tags = append(tags, graphite.Tag{Key: TagID, Value: p.ID})
		}
		series = append(series, graphite.Series{Name: MetricName, Tags: tags, Value: c.value, Time: ts, Interval: interval})
	}
	return series, dropped
}

// PromMetricName is the name of the counter the remote-write sink writes,
// after Prometheus' conventions: the same cumulative count as MetricName,
// with the _total suffix of a counter.
const PromMetricName = "pace_cli_invocations_total"

// PromLabelNames lists every label the remote-write sink can write,
// __name__ included, sorted as remote write requires.
func PromLabelNames() []string {
	names := []string{promwrite.NameLabel, TagVersion}
	for i := 1; i < payload.MaxPathWords; i++ {
		names = append(names, cmdTags[i])
	}
	return append(names, TagCommand, TagExitCode, TagID, TagOS)
}

// toPromSeries is toSeries for Prometheus remote write: one sample per
// (known command path, exit code) of PromMetricName, at now in
// milliseconds. The labels are the Graphite tags, except that command
// joins the words with spaces ("list tables"), which Prometheus allows;
// they are appended in sorted order: __name__, cli_version, cmd1…cmd5,
// command, exit_code, id, operating_system.
func toPromSeries(p *payload.Payload, known map[string]commandInfo, idTag bool, now time.Time) (series []promwrite.Series, dropped int) {
	counters, dropped := knownCounters(p, known)
	series = make([]promwrite.Series, 0, len(counters))
	ts := now.UnixMilli()
	for _, c := range counters {
		labels := make([]promwrite.Label, 0, len(c.info.words)+7)
		labels = append(labels,
			promwrite.Label{Name: promwrite.NameLabel, Value: PromMetricName},
			promwrite.Label{Name: TagVersion, Value: p.CLIVersion},
		)
		for i, w := range c.info.words {
			labels = append(labels, promwrite.Label{Name: cmdTags[i+1], Value: w})
		}
		labels = append(labels,
			promwrite.Label{Name: TagCommand, Value: c.info.promCommand},
			promwrite.Label{Name: TagExitCode, Value: exitCodes[c.code]},
		)
		if idTag {
			labels = append(labels, promwrite.Label{Name: TagID, Value: p.ID})
		}
		labels = append(labels, promwrite.Label{Name: TagOS, Value: p.OperatingSystem})
		series = append(series, promwrite.Series{Labels: labels, Value: float64(c.value), Timestamp: ts})
	}
	return series, dropped
}
