package graphite

import (
	"strings"
	"testing"
	"time"

	"github.com/pace-cli/pace/function/internal/sink"
)

// typicalUpload is the receiver's BenchmarkHandler upload as the store
// gets it: 20 counters over 14 command paths, sorted.
func typicalUpload() *sink.Upload {
	paths := []string{"pace", "pace completion bash", "pace evaluate data-policy", "pace get data-policy", "pace get processing-platform",
		"pace help", "pace list catalogs", "pace list data-policies", "pace list groups", "pace list schemas", "pace list tables",
		"pace telemetry status", "pace upsert data-policy", "pace version"}
	u := &sink.Upload{ID: "36be4c46-4e1b-431d-b9db-1b315f537a85", CLIVersion: "v1.16.0", OS: "linux", Received: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), Source: "192.0.2.1"}
	for i, p := range paths {
		words := strings.Fields(p)[1:]
		u.Counters = append(u.Counters, sink.Counter{Path: p, Words: words, ExitCode: 0, Count: uint64(100 + i)})
		if i < 6 {
			u.Counters = append(u.Counters, sink.Counter{Path: p, Words: words, ExitCode: 1, Count: uint64(3 + i)})
		}
	}
	return u
}

// BenchmarkEncode is the Graphite store's work per typical upload: its 20
// series as carbon plaintext.
func BenchmarkEncode(b *testing.B) {
	u := typicalUpload()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Plaintext(Convert(u, 3600)); err != nil {
			b.Fatal(err)
		}
	}
}
