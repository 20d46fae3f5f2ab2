package receiver

import (
	"io"
	"os"
	"testing"
	"time"

	"github.com/pace-cli/pace/function/payload"
)

// BenchmarkHandlerLargest measures the largest request that stores
// anything: every command path of the embedded allow-list with every
// stored exit-code value (0-5 and other), 315 series, as a hostile client
// would send it to create series (docs/deploy.md). The sink is the stdout
// one, writing carbon plaintext to a discarding writer.
func BenchmarkHandlerLargest(b *testing.B) {
	p := payload.Payload{MetricPoints: map[string]map[int]payload.Point{}, CLIVersion: "1.25.0", OperatingSystem: "linux", ID: testID}
	for _, path := range Commands() {
		codes := map[int]payload.Point{}
		for code := 0; code <= payload.OtherExitCode; code++ {
			codes[code] = payload.Point{CumulativeCount: 7}
		}
		p.MetricPoints[path] = codes
	}
	body, err := p.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := LoadConfig(func(string) string { return "" }, os.ReadFile)
	if err != nil {
		b.Fatal(err)
	}
	h, err := New(cfg, Options{Stdout: io.Discard, Logger: NewLogger(io.Discard)})
	if err != nil {
		b.Fatal(err)
	}
	series := p.Counters()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		serveBench(b, h, string(body))
	}
	secs := time.Since(start).Seconds()
	b.ReportMetric(float64(b.N)/secs, "payloads/s")
	b.ReportMetric(float64(b.N*series)/secs, "series/s")
}
