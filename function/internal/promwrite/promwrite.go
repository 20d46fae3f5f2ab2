// Package promwrite is the receiver's Prometheus store: it turns an upload
// into samples of pace_cli_invocations_total (convert.go) and delivers them
// with Prometheus remote write 1.0: a protobuf WriteRequest, snappy block compressed, POSTed to a store's
// write endpoint (Prometheus' /api/v1/write, Mimir's and Grafana Cloud's
// /api/prom/push, VictoriaMetrics' /api/v1/write).
//
// The four messages of a WriteRequest (WriteRequest, TimeSeries, Label,
// Sample) are encoded with google.golang.org/protobuf's protowire, the
// protobuf module's own wire-format API, rather than with Prometheus'
// generated prompb types, which would bring the Prometheus module and the
// unmaintained gogo/protobuf into the receiver's deploy.
package promwrite

import (
	"fmt"
	"math"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/pace-cli/pace/function/internal/sink"
)

// Label is one label of a series. The metric name is the label __name__.
type Label struct {
	Name, Value string
}

// Series is one sample of one series.
type Series struct {
	Labels    []Label // sorted by name, as remote write requires
	Value     float64
	Timestamp int64 // milliseconds since the Unix epoch
}

// ErrInvalidSeries reports a series a store would reject or misread. The
// receiver builds only valid ones, so this is a bug, not bad input.
var ErrInvalidSeries = fmt.Errorf("promwrite: invalid series: %w", sink.ErrInvalid)

// NameLabel is the label that holds the metric name.
const NameLabel = "__name__"

// Validate reports whether s follows Prometheus' rules: a __name__ label
// with a valid metric name, label names [a-zA-Z_][a-zA-Z0-9_]* without the
// reserved "__" prefix, names sorted and unique, values non-empty (an empty
// value means no label) and valid UTF-8, and a finite value.
func (s *Series) Validate() error {
	if math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
		return fmt.Errorf("%w: value %v", ErrInvalidSeries, s.Value)
	}
	hasName := false
	for i, l := range s.Labels {
		if i > 0 && s.Labels[i-1].Name >= l.Name {
			return fmt.Errorf("%w: label %q not after %q", ErrInvalidSeries, l.Name, s.Labels[i-1].Name)
		}
		if l.Value == "" || !utf8.ValidString(l.Value) {
			return fmt.Errorf("%w: label %q=%q", ErrInvalidSeries, l.Name, l.Value)
		}
		if l.Name == NameLabel {
			if !validMetricName(l.Value) {
				return fmt.Errorf("%w: metric name %q", ErrInvalidSeries, l.Value)
			}
			hasName = true
			continue
		}
		if !validLabelName(l.Name) || len(l.Name) >= 2 && l.Name[:2] == "__" {
			return fmt.Errorf("%w: label name %q", ErrInvalidSeries, l.Name)
		}
	}
	if !hasName {
		return fmt.Errorf("%w: no %s label", ErrInvalidSeries, NameLabel)
	}
	return nil
}

func validLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func validMetricName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Field numbers of remote write 1.0's messages (prompb/remote.proto and
// prompb/types.proto).
const (
	fieldWriteRequestTimeseries = 1 // repeated TimeSeries
	fieldTimeSeriesLabels       = 1 // repeated Label
	fieldTimeSeriesSamples      = 2 // repeated Sample
	fieldLabelName              = 1 // string
	fieldLabelValue             = 2 // string
	fieldSampleValue            = 1 // double
	fieldSampleTimestamp        = 2 // int64
)

// Marshal returns the protobuf encoding of a WriteRequest holding series,
// one TimeSeries with one Sample each, or an error if one is not valid.
// Zero scalars are left out, as every proto3 encoder does.
func Marshal(series []Series) ([]byte, error) {
	size := 0
	for i := range series {
		if err := series[i].Validate(); err != nil {
			return nil, err
		}
		size += protowire.SizeTag(fieldWriteRequestTimeseries) + protowire.SizeBytes(timeSeriesSize(&series[i]))
	}
	b := make([]byte, 0, size)
	for i := range series {
		s := &series[i]
		b = protowire.AppendTag(b, fieldWriteRequestTimeseries, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(timeSeriesSize(s)))
		for _, l := range s.Labels {
			b = protowire.AppendTag(b, fieldTimeSeriesLabels, protowire.BytesType)
			b = protowire.AppendVarint(b, uint64(labelSize(l)))
			b = protowire.AppendTag(b, fieldLabelName, protowire.BytesType)
			b = protowire.AppendString(b, l.Name)
			b = protowire.AppendTag(b, fieldLabelValue, protowire.BytesType)
			b = protowire.AppendString(b, l.Value)
		}
		b = protowire.AppendTag(b, fieldTimeSeriesSamples, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(sampleSize(s)))
		if s.Value != 0 {
			b = protowire.AppendTag(b, fieldSampleValue, protowire.Fixed64Type)
			b = protowire.AppendFixed64(b, math.Float64bits(s.Value))
		}
		if s.Timestamp != 0 {
			b = protowire.AppendTag(b, fieldSampleTimestamp, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(s.Timestamp))
		}
	}
	return b, nil
}

func labelSize(l Label) int {
	return protowire.SizeTag(fieldLabelName) + protowire.SizeBytes(len(l.Name)) +
		protowire.SizeTag(fieldLabelValue) + protowire.SizeBytes(len(l.Value))
}

func sampleSize(s *Series) int {
	n := 0
	if s.Value != 0 {
		n += protowire.SizeTag(fieldSampleValue) + protowire.SizeFixed64()
	}
	if s.Timestamp != 0 {
		n += protowire.SizeTag(fieldSampleTimestamp) + protowire.SizeVarint(uint64(s.Timestamp))
	}
	return n
}

func timeSeriesSize(s *Series) int {
	n := 0
	for _, l := range s.Labels {
		n += protowire.SizeTag(fieldTimeSeriesLabels) + protowire.SizeBytes(labelSize(l))
	}
	return n + protowire.SizeTag(fieldTimeSeriesSamples) + protowire.SizeBytes(sampleSize(s))
}
