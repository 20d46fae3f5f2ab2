// Package graphite is the receiver's Graphite store: it turns an upload into
// Graphite tagged series (convert.go) and delivers them as carbon plaintext
// to standard output or over TCP, or to Grafana Cloud's Graphite HTTP API.
package graphite

import (
	"context"
	"fmt"
	"strconv"

	"github.com/pace-cli/pace/function/internal/sink"
)

// Tag is one tag of a series.
type Tag struct {
	Key, Value string
}

// Series is one sample of one tagged series.
type Series struct {
	Name  string
	Tags  []Tag // in the order given; carbon sorts them itself
	Value uint64
	Time  int64 // Unix seconds
	// Interval is how often, in seconds, the series gets a sample; the
	// Graphite HTTP API requires it, plaintext has no place for it.
	Interval int
}

// A Writer delivers series to carbon or a Graphite HTTP API. Write returns
// nil only when it has taken all of them.
type Writer interface {
	Write(ctx context.Context, series []Series) error
}

// ErrInvalidSeries reports a series with a character that could break a
// protocol. The receiver validates everything before building series, so
// this is a bug, not bad input.
var ErrInvalidSeries = fmt.Errorf("graphite: invalid series: %w", sink.ErrInvalid)

// Validate reports whether s is safe for every sink. Carbon's plaintext
// format has no escaping (';' splits tags, ' ' splits fields, '=' splits a
// tag, a leading '~' in a value means a regexp), so rather than list what is
// forbidden, only [A-Za-z0-9._+-] is allowed anywhere.
func (s *Series) Validate() error {
	if !safe(s.Name) {
		return fmt.Errorf("%w: name %q", ErrInvalidSeries, s.Name)
	}
	if s.Interval <= 0 {
		return fmt.Errorf("%w: interval %d", ErrInvalidSeries, s.Interval)
	}
	for _, t := range s.Tags {
		if !safe(t.Key) || !safe(t.Value) || t.Key == "name" {
			return fmt.Errorf("%w: tag %q=%q", ErrInvalidSeries, t.Key, t.Value)
		}
	}
	return nil
}

func safe(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == '+') {
			return false
		}
	}
	return true
}

func validate(series []Series) error {
	for i := range series {
		if err := series[i].Validate(); err != nil {
			return err
		}
	}
	return nil
}

// AppendPlaintext appends s as one carbon plaintext line,
// "name;k1=v1;k2=v2 value time\n". s must be valid.
func AppendPlaintext(b []byte, s *Series) []byte {
	b = append(b, s.Name...)
	for _, t := range s.Tags {
		b = append(b, ';')
		b = append(b, t.Key...)
		b = append(b, '=')
		b = append(b, t.Value...)
	}
	b = append(b, ' ')
	b = strconv.AppendUint(b, s.Value, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, s.Time, 10)
	return append(b, '\n')
}

// Plaintext returns all series as carbon plaintext lines, or an error if
// one is not valid (then nothing should be written).
func Plaintext(series []Series) ([]byte, error) {
	if err := validate(series); err != nil {
		return nil, err
	}
	size := 0 // at most: the value and time are at most 20 digits each
	for i := range series {
		size += len(series[i].Name) + 1 + 20 + 1 + 20 + 1
		for _, t := range series[i].Tags {
			size += 1 + len(t.Key) + 1 + len(t.Value)
		}
	}
	b := make([]byte, 0, size)
	for i := range series {
		b = AppendPlaintext(b, &series[i])
	}
	return b, nil
}
