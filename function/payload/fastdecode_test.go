package payload

import (
	"reflect"
	"testing"
)

// decodeSeeds are bodies of the shape, and near it, for the fuzz tests.
var decodeSeeds = []string{
	`{"cli_version":"v1.16.0","id":"36be4c46-4e1b-431d-b9db-1b315f537a85","metric_points":{"pace list tables":{"0":{"cumulative_count":3},"1":{"cumulative_count":0}},"pace version":{"255":{"cumulative_count":4294967295}}},"operating_system":"linux"}`,
	" \n{ \"id\" : \"x\", \"operation_version\":\"linux\",\"cli_version\":\"v1\",\t\"metric_points\":{\"pace\":{}} }\n",
	`{"metric_points":{},"cli_version":"","operating_system":"","id":"","crash_sites":{"pace get":{"internal/cli.run:12 internal/cli.main:3":{"cumulative_count":1}},"pace":{}}}`,
	`{"metric_points":{"p\u00e9":{"0":{"cumulative_count":1}}},"cli_version":"v","operating_system":"o","id":"i"}`,
	`{"metric_points":{"pé":{"007":{"cumulative_count":1}}},"cli_version":"v","operating_system":"o","id":"i"}`,
	`{"metric_points":{"p":{"0":{"cumulative_count":01}}},"cli_version":"v","operating_system":"o","id":"i"}`,
	`{"metric_points":{"p":{"0":{"cumulative_count":4294967296}}},"cli_version":"v","operating_system":"o","id":"i"}`,
	`{"metric_points":{"p":{"0":{"cumulative_count":1,"cumulative_count":2}}},"cli_version":"v","operating_system":"o","id":"i"}`,
	`{"metric_points":{"p":{"0":{"cumulative_count":1}},"p":{}},"cli_version":"v","operating_system":"o","id":"i","id":"j"}`,
	`{"metric_points":{},"cli_version":"v","operating_system":"o","operation_version":"o","id":"i"} x`,
	`{"metric_points":{},"cli_version":"v","operating_system":"o","id":"i",}`,
	`{"metric_points":null,"cli_version":"v","operating_system":"o","id":"i"}`,
	"{\"metric_points\":{},\"cli_version\":\"\xff\",\"operating_system\":\"o\",\"id\":\"i\"}",
	`{"metric_points":{"p":{"1":{"cumulative_count":1.0}}},"cli_version":"v","operating_system":"o","id":"i"}`,
}

// decodeFast takes only what decodeTokens takes, and reads it the same.
func FuzzDecodeFast(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := decodeFast(data)
		slow, err := decodeTokens(data)
		if !ok {
			return // Decode answers with decodeTokens
		}
		if err != nil {
			t.Fatalf("decodeFast took %q, decodeTokens refused it: %v", data, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: decodeFast read %+v, decodeTokens %+v", data, fast, slow)
		}
	})
}

// The seeds of the shape are read by decodeFast, not handed to
// decodeTokens; and Decode answers as decodeTokens on every seed.
func TestDecodeFastTakesTheShape(t *testing.T) {
	for i, s := range decodeSeeds {
		_, ok := decodeFast([]byte(s))
		if want := i < 3; ok != want {
			t.Errorf("seed %d: decodeFast took it: %v, want %v", i, ok, want)
		}
		p, err := Decode([]byte(s))
		q, err2 := decodeTokens([]byte(s))
		if !reflect.DeepEqual(p, q) || (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Errorf("seed %d: Decode %+v, %v; decodeTokens %+v, %v", i, p, err, q, err2)
		}
	}
}

// typicalBody is the receiver's BenchmarkHandler body: 20 series over 14
// command paths.
func typicalBody(tb testing.TB) []byte {
	p := Payload{MetricPoints: map[string]map[int]Point{}, CLIVersion: "v1.16.0", OperatingSystem: "linux", ID: "36be4c46-4e1b-431d-b9db-1b315f537a85"}
	for i, path := range []string{"pace", "pace version", "pace help", "pace list tables", "pace list schemas", "pace list catalogs",
		"pace get data-policy", "pace upsert data-policy", "pace evaluate data-policy", "pace list data-policies",
		"pace telemetry status", "pace completion bash", "pace list groups", "pace get processing-platform"} {
		p.MetricPoints[path] = map[int]Point{0: {uint64(100 + i)}}
		if i < 6 {
			p.MetricPoints[path][1] = Point{uint64(3 + i)}
		}
	}
	b, err := p.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// Decode of a typical 20-series body allocates only what the Payload
// holds (35 allocations; encoding/json's tokens took 581).
func TestDecodeAllocations(t *testing.T) {
	b := typicalBody(t)
	if n := testing.AllocsPerRun(20, func() {
		if _, err := Decode(b); err != nil {
			t.Fatal(err)
		}
	}); n > 50 {
		t.Fatalf("Decode of 20 series: %v allocations", n)
	}
}

// BenchmarkDecode decodes the typical 20-series body: decodeFast, and
// decodeTokens (what Decode did before) for comparison.
func BenchmarkDecode(b *testing.B) {
	body := typicalBody(b)
	for _, d := range []struct {
		name string
		f    func([]byte) (*Payload, error)
	}{{"fast", Decode}, {"tokens", decodeTokens}} {
		b.Run(d.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := d.f(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
