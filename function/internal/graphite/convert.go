package graphite

import (
	"github.com/pace-cli/pace/function/payload"

	"cmp"
	"context"
	"strings"
	"time"

	"github.com/pace-cli/pace/function/internal/sink"
)

// MetricName is the Graphite name of every series the receiver writes: the
// cumulative number of runs of one command path that ended with one exit
// code on one installation.
const MetricName = "pace.cli.invocations"

// CrashMetric is the Graphite name of the crash series: the cumulative
// number of runs of one command path on one installation that crashed in
// one of pace's functions (TagFunction, the innermost frame of the crash
// site; the whole site is PostgreSQL's).
const CrashMetric = "pace.cli.crashes"

// TagFunction is the crash series' tag of the function that crashed.
const TagFunction = "crash_function"

// FunctionTag writes a function name (internal/platform.(*Postgres).Tables)
// in the characters a Graphite line may carry: '/' as '.', without the
// parentheses and star of a pointer receiver
// (internal.platform.Postgres.Tables).
func FunctionTag(fn string) string {
	return strings.NewReplacer("/", ".", "(", "", ")", "", "*", "").Replace(fn)
}

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

// maxWords bounds the words after "pace" (payload.MaxPathWords - 1).
const maxWords = 5

// TagNames lists every tag the receiver can write, in the order it writes
// them.
func TagNames() []string {
	names := make([]string, 0, maxWords+5)
	for i := 1; i <= maxWords; i++ {
		names = append(names, cmdTag(i))
	}
	return append(names, TagCommand, TagExitCode, TagVersion, TagOS, TagID)
}

func cmdTag(i int) string { return cmdTags[i] }

// Precomputed so that a conversion allocates no tag name.
var cmdTags = [maxWords + 1]string{"cmd0", "cmd1", "cmd2", "cmd3", "cmd4", "cmd5"}

// Command is the command tag of a path's words: joined with '.', or
// RootCommand for none.
func Command(words []string) string {
	if len(words) == 0 {
		return RootCommand
	}
	return strings.Join(words, ".")
}

// Convert turns an upload into one series per counter, at the receive time
// in seconds; interval is the clients' upload interval in seconds.
func Convert(u *sink.Upload, interval int) []Series {
	crashes := u.CrashFunctions()
	series := make([]Series, 0, len(u.Counters)+len(crashes))
	ts := u.Received.Unix()
	// One array holds every series' tags, and a path's command tag is
	// joined once for its counters (sorted by path): a conversion
	// allocates twice, and once per path of several words, not once or
	// twice per series.
	n := 0
	for _, c := range u.Counters {
		n += len(c.Words) + 5
	}
	for _, c := range crashes {
		n += len(c.Words) + 5
	}
	all := make([]Tag, 0, n)
	lastPath, command := "", ""
	for _, c := range u.Counters {
		if c.Path != lastPath || command == "" {
			lastPath, command = c.Path, Command(c.Words)
		}
		start := len(all)
		tags := all
		for i, w := range c.Words {
			tags = append(tags, Tag{Key: cmdTag(i + 1), Value: w})
		}
		tags = append(tags,
			Tag{Key: TagCommand, Value: command},
			Tag{Key: TagExitCode, Value: payload.ExitCodeTag(c.ExitCode)},
			Tag{Key: TagVersion, Value: u.CLIVersion},
			Tag{Key: TagOS, Value: u.OS},
			Tag{Key: TagID, Value: u.ID},
		)
		all = tags
		series = append(series, Series{Name: MetricName, Tags: tags[start:len(tags):len(tags)], Value: c.Count, Time: ts, Interval: interval})
	}
	for _, c := range crashes {
		start := len(all)
		tags := all
		for i, w := range c.Words {
			tags = append(tags, Tag{Key: cmdTag(i + 1), Value: w})
		}
		tags = append(tags,
			Tag{Key: TagCommand, Value: Command(c.Words)},
			Tag{Key: TagFunction, Value: FunctionTag(c.Site)},
			Tag{Key: TagVersion, Value: u.CLIVersion},
			Tag{Key: TagOS, Value: u.OS},
			Tag{Key: TagID, Value: u.ID},
		)
		all = tags
		series = append(series, Series{Name: CrashMetric, Tags: tags[start:len(tags):len(tags)], Value: c.Count, Time: ts, Interval: interval})
	}
	return series
}

// Sink is the Graphite store: it converts each upload and hands the series
// to W.
type Sink struct {
	W        Writer
	Interval time.Duration // the clients' upload interval; at least a second
	// Health, when set (sink.NewHealthSeries(s)), writes the receiver's
	// outcome counts as series; nil keeps none.
	Health *sink.HealthSeries
}

// Write implements sink.Sink. Every Writer's error means the series may be
// taken later: carbon and the HTTP API refuse nothing for good that the
// receiver lets through.
func (s *Sink) Write(ctx context.Context, u *sink.Upload) error {
	if len(u.Counters) > 0 {
		if err := s.W.Write(ctx, Convert(u, max(int(s.Interval/time.Second), 1))); err != nil {
			return err
		}
	}
	s.Health.Count(ctx, u.Received, sink.Accepted, "")
	return nil
}

// HealthMetric is the series of the receiver's own health figures.
const HealthMetric = "pace.receiver.uploads"

// WriteHealth implements sink.HealthWriter, for Health: one series per outcome and
// reason of this receiver instance, its cumulative count of uploads.
// The stdout writer, for development and demos, carries only usage.
func (s *Sink) WriteHealth(ctx context.Context, at time.Time, receiver string, counts []sink.HealthCount) error {
	if _, ok := s.W.(*WriterSink); ok {
		return nil
	}
	series := make([]Series, 0, len(counts))
	for _, c := range counts {
		series = append(series, Series{Name: HealthMetric, Tags: []Tag{{"outcome", c.Outcome}, {"reason", cmp.Or(c.Reason, "none")}, {"receiver", receiver}},
			Value: c.Uploads, Time: at.Unix(), Interval: max(int(s.Interval/time.Second), 1)})
	}
	if err := validate(series); err != nil {
		return err
	}
	return s.W.Write(ctx, series)
}
