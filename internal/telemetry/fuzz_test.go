package telemetry

import (
	"reflect"
	"testing"

	"github.com/pace-cli/pace/function/payload"
)

// FuzzDecodeSplice feeds any bytes to the file readers: they must never
// panic, and whenever the fast path edits a file, the result must be what
// the slow path (decode, increment, encode) gives.
func FuzzDecodeSplice(f *testing.F) {
	f.Add([]byte(sample), "pace version", 0)
	f.Add([]byte(sample), "pace list tables", 3)
	f.Add([]byte(sample), "pace aaa", 0)
	f.Add(encode(payloadWith(12)), "pace verb1 noun1", 1)
	f.Add([]byte("metric_points:\n    \n        \n"), "pace version", 0)
	f.Add([]byte("metric_points:\n    pace version:\n        0:\n            cumulative_count: 010\ncli_version: v1\noperating_system: linux\nid: 36be4c46-4e1b-431d-b9db-1b315f537a85\n"), "pace version", 0)
	f.Add([]byte("metric_points:\n        0:\n            cumulative_count: 0\n"), "pace version", 0)
	f.Add([]byte("metric_points:\ncli_version: v1\noperating_system: linux\nid: 36be4c46-4e1b-431d-b9db-1b315f537a85\n"), "pace version", 0)
	f.Fuzz(func(t *testing.T, data []byte, path string, code int) {
		// What the fast reader accepts, yaml.v3 reads the same.
		if fast, err := decodeCanonical(data); err == nil {
			slow, err := decodeYAML(data)
			if err != nil {
				t.Fatalf("yaml.v3 refuses a file the fast reader takes (%v):\n%q", err, data)
			}
			if !reflect.DeepEqual(fast, slow) {
				t.Fatalf("the fast reader read %+v, yaml.v3 %+v:\n%q", fast, slow, data)
			}
		}
		decoded, decodeErr := decode(data)
		if payload.ValidCommandPath(path) != nil || code < 0 || code > 255 {
			return
		}
		out, ok := splice(data, path, code, "v1.16.0", "linux")
		if !ok {
			return
		}
		if decodeErr != nil {
			t.Fatalf("splice edited a file decode refuses (%v):\n%q", decodeErr, data)
		}
		codes := decoded.MetricPoints[path]
		if codes == nil {
			codes = map[int]payload.Point{}
			decoded.MetricPoints[path] = codes
		}
		codes[code] = payload.Point{CumulativeCount: min(codes[code].CumulativeCount+1, payload.MaxCount)}
		decoded.CLIVersion, decoded.OperatingSystem = "v1.16.0", "linux"
		if want := encode(decoded); string(out) != string(want) {
			t.Fatalf("splice:\n%s\nslow path:\n%s", out, want)
		}
		if _, err := decode(out); err != nil {
			t.Fatalf("splice wrote a file decode refuses: %v\n%s", err, out)
		}
	})
}
