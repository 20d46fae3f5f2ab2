package promwrite

import (
	"github.com/pace-cli/pace/function/payload"

	"strings"

	"github.com/pace-cli/pace/function/internal/sink"
)

// MetricName is the counter the sink writes, after Prometheus' conventions:
// the cumulative number of runs of one command path that ended with one
// exit code on one installation, with the _total suffix of a counter.
const MetricName = "pace_cli_invocations_total"

// CrashMetric is the crash counter: the cumulative number of runs of one
// command path on one installation that crashed in one of pace's
// functions (LabelFunction, the innermost frame of the crash site; the
// whole site is PostgreSQL's).
const CrashMetric = "pace_cli_crashes_total"

// LabelFunction is the crash counter's label of the function that crashed.
const LabelFunction = "crash_function"

// Label names the sink writes besides __name__; cmd1…cmd5 hold the words
// after "pace".
const (
	LabelCommand  = "command"
	LabelExitCode = "exit_code"
	LabelVersion  = "cli_version"
	LabelOS       = "operating_system"
	LabelID       = "id"
)

// RootCommand is the command label of the bare "pace" command.
const RootCommand = "pace"

const maxWords = 5 // payload.MaxPathWords - 1

// Precomputed so that a conversion allocates no label name.
var cmdLabels = [maxWords + 1]string{"cmd0", "cmd1", "cmd2", "cmd3", "cmd4", "cmd5"}

// LabelNames lists every label the sink can write, __name__ included,
// sorted as remote write requires.
func LabelNames() []string {
	names := []string{NameLabel, LabelVersion}
	for i := 1; i <= maxWords; i++ {
		names = append(names, cmdLabels[i])
	}
	return append(names, LabelCommand, LabelExitCode, LabelID, LabelOS)
}

// Command is the command label of a path's words: joined with spaces
// ("list tables"), which Prometheus allows, or RootCommand for none.
func Command(words []string) string {
	if len(words) == 0 {
		return RootCommand
	}
	return strings.Join(words, " ")
}

// Convert turns an upload into one sample of MetricName per counter, at the
// receive time in milliseconds, its labels appended in sorted order:
// __name__, cli_version, cmd1…cmd5, command, exit_code, id,
// operating_system.
func Convert(u *sink.Upload) []Series {
	crashes := u.CrashFunctions()
	series := make([]Series, 0, len(u.Counters)+len(crashes))
	ts := u.Received.UnixMilli()
	// One array holds every series' labels, and a path's command label is
	// joined once for its counters (sorted by path): a conversion
	// allocates twice, and once per path of several words, not once or
	// twice per series.
	n := 0
	for _, c := range u.Counters {
		n += len(c.Words) + 7
	}
	for _, c := range crashes {
		n += len(c.Words) + 7
	}
	all := make([]Label, 0, n)
	lastPath, command := "", ""
	for _, c := range u.Counters {
		if c.Path != lastPath || command == "" {
			lastPath, command = c.Path, Command(c.Words)
		}
		start := len(all)
		labels := append(all, Label{Name: NameLabel, Value: MetricName}, Label{Name: LabelVersion, Value: u.CLIVersion})
		for i, w := range c.Words {
			labels = append(labels, Label{Name: cmdLabels[i+1], Value: w})
		}
		labels = append(labels,
			Label{Name: LabelCommand, Value: command},
			Label{Name: LabelExitCode, Value: payload.ExitCodeTag(c.ExitCode)},
			Label{Name: LabelID, Value: u.ID},
			Label{Name: LabelOS, Value: u.OS},
		)
		all = labels
		series = append(series, Series{Labels: labels[start:len(labels):len(labels)], Value: float64(c.Count), Timestamp: ts})
	}
	for _, c := range crashes {
		start := len(all)
		labels := append(all, Label{Name: NameLabel, Value: CrashMetric}, Label{Name: LabelVersion, Value: u.CLIVersion})
		for i, w := range c.Words {
			labels = append(labels, Label{Name: cmdLabels[i+1], Value: w})
		}
		labels = append(labels,
			Label{Name: LabelCommand, Value: Command(c.Words)},
			Label{Name: LabelFunction, Value: c.Site},
			Label{Name: LabelID, Value: u.ID},
			Label{Name: LabelOS, Value: u.OS},
		)
		all = labels
		series = append(series, Series{Labels: labels[start:len(labels):len(labels)], Value: float64(c.Count), Timestamp: ts})
	}
	return series
}
