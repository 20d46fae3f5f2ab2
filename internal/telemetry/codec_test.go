package telemetry

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/pace-cli/pace/function/payload"
)

// sample is the file shape the issue and PACE's original CLI define.
const sample = `metric_points:
    pace list tables:
        0:
            cumulative_count: 2
        1:
            cumulative_count: 1
    pace version:
        0:
            cumulative_count: 17
cli_version: v1.16.0
operating_system: linux
id: 36be4c46-4e1b-431d-b9db-1b315f537a85
`

func samplePayload() *payload.Payload {
	return &payload.Payload{
		MetricPoints: map[string]map[int]payload.Point{
			"pace list tables": {0: {CumulativeCount: 2}, 1: {CumulativeCount: 1}},
			"pace version":     {0: {CumulativeCount: 17}},
		},
		CLIVersion:      "v1.16.0",
		OperatingSystem: "linux",
		ID:              "36be4c46-4e1b-431d-b9db-1b315f537a85",
	}
}

func TestEncodeIsTheDocumentedShape(t *testing.T) {
	if got := string(encode(samplePayload())); got != sample {
		t.Fatalf("encode:\n%s\nwant:\n%s", got, sample)
	}
}

// The hand-written layout must be what yaml.v3 itself writes, so that the
// file stays ordinary YAML.
func TestEncodeMatchesYAMLLibrary(t *testing.T) {
	p := samplePayload()
	p.MetricPoints["pace telemetry show"] = map[int]payload.Point{2: {CumulativeCount: 5}, 10: {CumulativeCount: 1}, 0: {CumulativeCount: 0}}
	want, err := yaml.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := encode(p); string(got) != string(want) {
		t.Fatalf("encode:\n%s\nyaml.v3:\n%s", got, want)
	}
	empty := &payload.Payload{MetricPoints: map[string]map[int]payload.Point{}, CLIVersion: "v1.0.0", OperatingSystem: "windows", ID: p.ID}
	want, _ = yaml.Marshal(empty)
	if got := encode(empty); string(got) != string(want) {
		t.Fatalf("encode(empty):\n%s\nyaml.v3:\n%s", got, want)
	}
}

func TestDecodeCanonicalTakesTheFastPath(t *testing.T) {
	p, err := decodeCanonical([]byte(sample))
	if err != nil {
		t.Fatalf("fast path refused the canonical file: %v", err)
	}
	if !reflect.DeepEqual(p, samplePayload()) {
		t.Fatalf("got %+v", p)
	}
}

// A file a person edited (comments, other indents, quotes, flow style) is
// still read, through yaml.v3, and means the same.
func TestDecodeEditedFile(t *testing.T) {
	edited := `# my counts
metric_points:
  "pace list tables": {0: {cumulative_count: 2}, 1: {cumulative_count: 1}}
  pace version:
    0:
      cumulative_count: 17   # a lot
id: "36be4c46-4e1b-431d-b9db-1b315f537a85"
operating_system: 'linux'
cli_version: v1.16.0
`
	if _, err := decodeCanonical([]byte(edited)); err == nil {
		t.Fatal("fast path accepted a non-canonical file")
	}
	p, err := decode([]byte(edited))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, samplePayload()) {
		t.Fatalf("got %+v", p)
	}
}

func TestDecodeRejectsBadFiles(t *testing.T) {
	id := "id: 36be4c46-4e1b-431d-b9db-1b315f537a85\n"
	cases := map[string]struct{ file, want string }{
		"empty":            {"", "empty"},
		"blank":            {"\n  \n", "empty"},
		"not YAML":         {"metric_points: [unclosed\n", "not a telemetry file"},
		"binary":           {"\x00\x01\x02garbage", "not a telemetry file"},
		"a list":           {"- 1\n- 2\n", "not a telemetry file"},
		"count is a word":  {"metric_points:\n    pace version:\n        0:\n            cumulative_count: many\n" + id, "not a telemetry file"},
		"code is a word":   {"metric_points:\n    pace version:\n        zero:\n            cumulative_count: 1\n" + id, "not a telemetry file"},
		"points is a list": {"metric_points: [1, 2]\n" + id, "not a telemetry file"},
		"negative count":   {"metric_points:\n    pace version:\n        0:\n            cumulative_count: -3\n" + id, "negative count"},
		"missing count":    {"metric_points:\n    pace version:\n        0:\n" + id, "no cumulative_count"},
		"count too big":    {"metric_points:\n    pace version:\n        0:\n            cumulative_count: 4294967296\n" + id, "over the maximum"},
		"exit code 256":    {"metric_points:\n    pace version:\n        256:\n            cumulative_count: 1\n" + id, "exit codes are 0 to 255"},
		"exit code -1":     {"metric_points:\n    pace version:\n        -1:\n            cumulative_count: 1\n" + id, "exit codes are 0 to 255"},
		"no id":            {"metric_points: {}\ncli_version: v1\n", "must be a UUID"},
		"id not a UUID":    {"metric_points: {}\nid: ann@laptop\n", "must be a UUID"},
		"duplicate key":    {"metric_points: {}\n" + id + id, "not a telemetry file"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := decode([]byte(c.file))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("decode = %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// Counters of command paths pace never records are dropped on read, and
// the rest of the file is kept: the PACE CLI counted `pace __complete`.
func TestDecodeDropsPathsPaceNeverRecords(t *testing.T) {
	id := "id: 36be4c46-4e1b-431d-b9db-1b315f537a85\n"
	for _, bad := range []string{"pace __complete", "pace get /home/ann/x.yaml", "rm -rf", "pace list Tables"} {
		file := "metric_points:\n    " + bad + ":\n        0:\n            cumulative_count: 7\n        1:\n            cumulative_count: 2\n    pace version:\n        0:\n            cumulative_count: 3\n" + id
		p, dropped, err := decodeFile([]byte(file))
		if err != nil {
			t.Fatalf("%q: %v", bad, err)
		}
		if dropped != 2 || len(p.MetricPoints) != 1 || p.MetricPoints["pace version"][0].CumulativeCount != 3 || p.ID != "36be4c46-4e1b-431d-b9db-1b315f537a85" {
			t.Fatalf("%q: dropped %d, kept %+v", bad, dropped, p)
		}
	}
}

// A file cut short anywhere (a torn write on power loss) is never taken
// for a good one.
func TestDecodeRejectsEveryTruncation(t *testing.T) {
	for i := 0; i < len(sample)-1; i++ {
		if p, err := decode([]byte(sample[:i])); err == nil {
			t.Fatalf("decode(first %d bytes) = %+v, want an error", i, p)
		}
	}
}

func TestPlainScalars(t *testing.T) {
	for _, s := range []string{"v1.16.0", "linux", "v0.0.0-dev", "36be4c46-4e1b-431d-b9db-1b315f537a85", "v1.0.0+dirty"} {
		if !plain(s) {
			t.Errorf("plain(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"", "on", "No", "null", "1.16", "12", "0x1f", "1e3", "2026-11-25", "a: b", "#x", "-x", "a b", "\"q\"", "é", "infinity", "Infinity", "INF", "NaN", "1_000"} {
		if plain(s) {
			t.Errorf("plain(%q) = true, want false", s)
		}
	}
}

// Whatever strings end up in the fields, the file reads back the same,
// with both decoders.
func TestEncodeQuotesWhatNeedsQuoting(t *testing.T) {
	for _, v := range []string{"on", "1.16", "2026-11-25", "a: b # c", "tab\there", "é\u2028", "\"quoted\"", "-"} {
		p := samplePayload()
		p.CLIVersion = v
		data := encode(p)
		got, err := decode(data)
		if err != nil {
			t.Fatalf("cli_version %q: %v\n%s", v, err, data)
		}
		var viaLib yamlFile
		if err := yaml.Unmarshal(data, &viaLib); err != nil || viaLib.CLIVersion != v {
			t.Fatalf("cli_version %q: yaml.v3 reads %q (%v)", v, viaLib.CLIVersion, err)
		}
		if got.CLIVersion != v {
			t.Fatalf("cli_version %q read back as %q", v, got.CLIVersion)
		}
	}
}

func BenchmarkDecodeEncode300(b *testing.B) {
	data := encode(payloadWith(300))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		p, err := decode(data)
		if err != nil {
			b.Fatal(err)
		}
		encode(p)
	}
}

func BenchmarkYAMLLibraryDecodeEncode300(b *testing.B) {
	data := encode(payloadWith(300))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var p payload.Payload
		if err := yaml.Unmarshal(data, &p); err != nil {
			b.Fatal(err)
		}
		if _, err := yaml.Marshal(&p); err != nil {
			b.Fatal(err)
		}
	}
}

// payloadWith makes n counters over n/3 command paths.
func payloadWith(n int) *payload.Payload {
	p := samplePayload()
	p.MetricPoints = map[string]map[int]payload.Point{}
	for i := 0; i < n; i++ {
		path := fmt.Sprintf("pace verb%d noun%d", i/3%10, i/3)
		if p.MetricPoints[path] == nil {
			p.MetricPoints[path] = map[int]payload.Point{}
		}
		p.MetricPoints[path][i%3] = payload.Point{CumulativeCount: uint64(i * 7)}
	}
	return p
}

// splice must give exactly what a full decode, increment and encode give,
// for every kind of place the counter can be: an existing count, a new
// code before, between or after others, a new path first, between or last.
func TestSpliceEqualsDecodeIncrementEncode(t *testing.T) {
	base := payloadWith(30)
	data := encode(base)
	targets := []struct {
		path string
		code int
	}{
		{"pace verb0 noun0", 0}, {"pace verb0 noun0", 2}, {"pace verb0 noun0", 7}, {"pace verb0 noun0", 255},
		{"pace verb9 noun9", 1}, {"pace verb1 noun1", 1}, {"pace", 0}, {"pace aaa", 3}, {"pace zzz", 0},
		{"pace verb3 noun3", 0}, {"pace verb3 noun30", 0}, {"pace verb3 noun2", 0},
	}
	for _, tc := range targets {
		got, ok := splice(data, tc.path, tc.code, "v2.0.0", "darwin")
		if !ok {
			t.Fatalf("splice refused a canonical file for %q %d", tc.path, tc.code)
		}
		want, _ := decode(data)
		if want.MetricPoints[tc.path] == nil {
			want.MetricPoints[tc.path] = map[int]payload.Point{}
		}
		want.MetricPoints[tc.path][tc.code] = payload.Point{CumulativeCount: want.MetricPoints[tc.path][tc.code].CumulativeCount + 1}
		want.CLIVersion, want.OperatingSystem = "v2.0.0", "darwin"
		if string(got) != string(encode(want)) {
			t.Fatalf("splice %q %d:\n%s\nwant:\n%s", tc.path, tc.code, got, encode(want))
		}
	}
}

func TestSpliceRefusesWhatItCannotEditInPlace(t *testing.T) {
	unsorted := strings.Replace(sample, "pace list tables", "pace zzz", 1)
	cases := map[string]string{
		"empty map":         "metric_points: {}\ncli_version: v1\noperating_system: linux\nid: 36be4c46-4e1b-431d-b9db-1b315f537a85\n",
		"unsorted paths":    unsorted,
		"unsorted codes":    strings.Replace(sample, "        0:\n            cumulative_count: 2\n        1:", "        1:\n            cumulative_count: 2\n        0:", 1),
		"fields reordered":  strings.Replace(sample, "cli_version: v1.16.0\noperating_system: linux\n", "operating_system: linux\ncli_version: v1.16.0\n", 1),
		"comment":           "# hi\n" + sample,
		"bad id":            strings.Replace(sample, "36be4c46", "36BE4C46", 1),
		"no final newline":  strings.TrimSuffix(sample, "\n"),
		"path with no code": strings.Replace(sample, "    pace version:\n", "    pace telemetry:\n    pace version:\n", 1),
	}
	for name, data := range cases {
		if out, ok := splice([]byte(data), "pace version", 0, "v1", "linux"); ok {
			t.Errorf("%s: splice edited it:\n%s", name, out)
		}
	}
}

func BenchmarkSplice300(b *testing.B) {
	data := encode(payloadWith(300))
	for b.Loop() {
		if _, ok := splice(data, "pace verb1 noun1", 1, "v1.16.0", "linux"); !ok {
			b.Fatal("refused")
		}
	}
}

// Numbers are read as encode writes them and nothing else: a leading zero
// (octal to a YAML 1.1 reader), a sign, a space or a value over the limit
// sends the file to the slow path, which reads it as YAML.
func TestDecimal(t *testing.T) {
	for in, want := range map[string]struct {
		n  uint64
		ok bool
	}{
		"0": {0, true}, "7": {7, true}, "255": {255, true}, "4294967295": {4294967295, true},
		"": {}, "00": {}, "010": {}, "+1": {}, "-1": {}, " 1": {}, "1 ": {}, "1e3": {}, "0x1": {},
		"4294967296": {}, "99999999999999999999999": {},
	} {
		if n, ok := decimal([]byte(in), payload.MaxCount); n != want.n || ok != want.ok {
			t.Errorf("decimal(%q) = %d, %v; want %d, %v", in, n, ok, want.n, want.ok)
		}
	}
	if _, ok := decimal([]byte("256"), 255); ok {
		t.Error("decimal(256, 255) accepted a value over its limit")
	}
	file := "metric_points:\n    pace version:\n        0:\n            cumulative_count: 010\n" + "cli_version: v1\noperating_system: linux\nid: 36be4c46-4e1b-431d-b9db-1b315f537a85\n"
	if _, ok := splice([]byte(file), "pace version", 0, "v1", "linux"); ok {
		t.Error("splice edited a count written as octal")
	}
	// yaml.v3, like PACE's CLI that used it, reads 010 as octal.
	if p, err := decode([]byte(file)); err != nil || p.MetricPoints["pace version"][0].CumulativeCount != 8 {
		t.Errorf("the slow path read 010 as %+v, %v; want 8, as yaml.v3 does", p, err)
	}
}
