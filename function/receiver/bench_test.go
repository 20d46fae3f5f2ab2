package receiver

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pace-cli/pace/function/internal/graphite"
	"github.com/pace-cli/pace/function/payload"
)

// typicalPayload returns a body of 20 series over 14 command paths, as an
// installation that uses a handful of commands uploads, and the paths.
func typicalPayload(tb testing.TB) (string, []string) {
	paths := []string{"pace", "pace version", "pace help", "pace list tables", "pace list schemas", "pace list catalogs",
		"pace get data-policy", "pace upsert data-policy", "pace evaluate data-policy", "pace list data-policies",
		"pace telemetry status", "pace completion bash", "pace list groups", "pace get processing-platform"}
	p := payload.Payload{MetricPoints: map[string]map[int]payload.Point{}, CLIVersion: "v1.16.0", OperatingSystem: "linux", ID: testID}
	n := 0
	for i, path := range paths {
		p.MetricPoints[path] = map[int]payload.Point{0: {CumulativeCount: uint64(100 + i)}}
		n++
		if i < 6 {
			p.MetricPoints[path][1] = payload.Point{CumulativeCount: uint64(3 + i)}
			n++
		}
	}
	if n != 20 {
		tb.Fatalf("typical payload has %d series", n)
	}
	b, err := p.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return string(b), paths
}

func benchReceiver(b *testing.B) (http.Handler, string) {
	body, paths := typicalPayload(b)
	h, err := NewHandler(HandlerConfig{
		Store:    &graphite.Sink{W: &graphite.WriterSink{W: io.Discard}, Interval: time.Hour},
		Logger:   NewLogger(io.Discard),
		Commands: paths,
	})
	if err != nil {
		b.Fatal(err)
	}
	return h, body
}

// BenchmarkHandler measures one request end to end in-process: the
// middleware, reading, decoding and validating the body, building the 20
// series and encoding them as carbon plaintext to a discarding writer.
func BenchmarkHandler(b *testing.B) {
	h, body := benchReceiver(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		serveBench(b, h, body)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "payloads/s")
}

// BenchmarkHandlerParallel is the same on every CPU, as a server runs it.
func BenchmarkHandlerParallel(b *testing.B) {
	h, body := benchReceiver(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			serveBench(b, h, body)
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "payloads/s")
}

func serveBench(b *testing.B, h http.Handler, body string) {
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 200 {
		panic(fmt.Sprintf("status %d: %s", w.Code, w.Body))
	}
}
