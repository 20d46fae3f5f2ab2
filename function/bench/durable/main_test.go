package main

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/pace-cli/pace/function/payload"
	"github.com/pace-cli/pace/function/receiver"
)

// TestUploadShape holds the load's hand-built body to what the daemon's
// payload.Marshal writes.
func TestUploadShape(t *testing.T) {
	paths := receiver.Commands()[:counters]
	for _, c := range []struct {
		i     int
		round int64
	}{{0, 1}, {7, 12}, {123456, 9999999}} {
		p := payload.Payload{MetricPoints: map[string]map[int]payload.Point{}, CLIVersion: "v1.25.0", OperatingSystem: "linux",
			ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", c.i)}
		for _, path := range paths {
			p.MetricPoints[path] = map[int]payload.Point{0: {CumulativeCount: uint64(c.round)}}
		}
		want, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if got := appendUpload(nil, c.i, c.round, paths); !bytes.Equal(got, want) {
			t.Errorf("install %d round %d:\n got %s\nwant %s", c.i, c.round, got, want)
		}
	}
}
