package payload

import (
	"reflect"
	"strings"
	"testing"
)

func TestDecodeRoundTrip(t *testing.T) {
	p := Payload{
		MetricPoints: map[string]map[int]Point{
			"pace version":     {0: {17}, 255: {MaxCount}},
			"pace list tables": {1: {0}},
		},
		CLIVersion:      "v1.16.0",
		OperatingSystem: "linux",
		ID:              "36be4c46-4e1b-431d-b9db-1b315f537a85",
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, p) {
		t.Fatalf("got %+v, want %+v", *got, p)
	}
	if err := got.Validate(); err != nil {
		t.Fatal(err)
	}
	// Any key order and whitespace.
	got, err = Decode([]byte(" \n{ \"id\" : \"36be4c46-4e1b-431d-b9db-1b315f537a85\", \"operating_system\":\"linux\",\"cli_version\":\"v1.16.0\",\t\"metric_points\":{} }\n"))
	if err != nil || got.ID == "" || len(got.MetricPoints) != 0 || got.MetricPoints == nil {
		t.Fatalf("got %+v, %v", got, err)
	}
}

func TestDecodeErrorsNameTheField(t *testing.T) {
	tests := map[string]string{
		`{"metric_points":{"pace":{"0":{"cumulative_count":1}}},"cli_version":"v1.0.0","operating_system":"linux"}`: "id: missing",
		`{"metric_points":{},"cli_version":"v1.0.0","operating_system":"linux","id":"x","Id":"y"}`:                  `"Id": unknown field`,
		`{"metric_points":{"pace":{"0":{"cumulative_count":1,"cumulative_count":2}}}}`:                              `metric_points["pace"]["0"].cumulative_count: duplicate`,
		`{"metric_points":{"pace":{"0":{"cumulative_count":1}}`:                                                     `metric_points: unexpected end`,
		`{"metric_points" 1}`:                    `metric_points: malformed JSON`,
		`{"cli_version":"v1.0.0",}`:              `body: malformed JSON`,
		`{"` + strings.Repeat("x", 100) + `":1}`: `"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"...: unknown field`,
	}
	for in, want := range tests {
		_, err := Decode([]byte(in))
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Decode(%s) = %v, want prefix %q", in, err, want)
		}
	}
}

func TestValidVersion(t *testing.T) {
	for _, v := range []string{"v1.16.0", "v1.16.0-rc.1", "v0.0.0-dev", "v0.0.0-20261125044417-abcdef123456",
		"v0.0.0-20261125044417-abcdef123456+dirty", "v1.2.4-0.20261125044417-abcdef123456", "v10.20.30+build.001", "v1.0.0-alpha-a.b-c"} {
		if err := ValidVersion(v); err != nil {
			t.Errorf("ValidVersion(%q) = %v", v, err)
		}
	}
	for _, v := range []string{"", "1.16.0", "v1.16", "v1.16.0.1", "v01.2.3", "v1.2.3-", "v1.2.3-01", "v1.2.3-rc..1", "v1.2.3+",
		"v1.2.3-rc_1", "v1.2.3;id=x", "v1.2.3 4 5", "V1.2.3", "v1.2.3-é", "v1.2.3-" + strings.Repeat("a", 58)} {
		if err := ValidVersion(v); err == nil {
			t.Errorf("ValidVersion(%q) accepted it", v)
		}
	}
}

func TestValidOS(t *testing.T) {
	for _, os := range []string{"linux", "darwin", "windows", "aix", "wasip1"} {
		if err := ValidOS(os); err != nil {
			t.Errorf("ValidOS(%q) = %v", os, err)
		}
	}
	for _, os := range []string{"", "Linux", "macos", "win32", "linux;x=y", "zz"} {
		if ValidOS(os) == nil {
			t.Errorf("ValidOS(%q) accepted it", os)
		}
	}
	for i := 1; i < len(GOOSes); i++ {
		if GOOSes[i-1] >= GOOSes[i] {
			t.Fatalf("GOOSes must be sorted for binary search: %q", GOOSes)
		}
	}
}
