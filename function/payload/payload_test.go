package payload

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestMarshalMatchesOriginalBody(t *testing.T) {
	p := Payload{
		MetricPoints: map[string]map[int]Point{
			"pace version":     {0: {17}},
			"pace list tables": {1: {1}, 0: {2}},
		},
		CLIVersion:      "v1.16.0",
		OperatingSystem: "linux",
		ID:              "36be4c46-4e1b-431d-b9db-1b315f537a85",
	}
	got, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"metric_points":{"pace list tables":{"0":{"cumulative_count":2},"1":{"cumulative_count":1}},"pace version":{"0":{"cumulative_count":17}}},"cli_version":"v1.16.0","operating_system":"linux","id":"36be4c46-4e1b-431d-b9db-1b315f537a85"}`
	if string(got) != want {
		t.Fatalf("body\n got %s\nwant %s", got, want)
	}
	var back Payload
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, p) {
		t.Fatalf("round trip: got %+v, want %+v", back, p)
	}
	if p.Counters() != 3 {
		t.Fatalf("Counters() = %d, want 3", p.Counters())
	}
}

func TestMarshalEmptyIsObject(t *testing.T) {
	got, err := (&Payload{ID: "x"}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(got), `{"metric_points":{}`) {
		t.Fatalf("empty metric_points must be {}: %s", got)
	}
}

func TestValidCommandPath(t *testing.T) {
	good := []string{"pace", "pace version", "pace list tables", "pace get data-policy", "pace a b c d e"}
	for _, p := range good {
		if err := ValidCommandPath(p); err != nil {
			t.Errorf("ValidCommandPath(%q) = %v, want nil", p, err)
		}
	}
	bad := map[string]string{
		"":                        "must start",
		"kubectl get":             "must start",
		"pace  version":           "must match",
		"pace version ":           "must match",
		"pace List":               "must match",
		"pace -v":                 "must match",
		"pace get /etc/passwd":    "must match",
		"pace get me@example.com": "must match",
		"pace a b c d e f":        "at most 6",
		"pace version\n":          "must match",
		"pace;tag=x":              "must start",
		"pace list tables;exit=0": "must match",
		"pace \u00e9t\u00e9":      "must match",
	}
	for p, want := range bad {
		err := ValidCommandPath(p)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidCommandPath(%q) = %v, want error containing %q", p, err, want)
		}
	}
}

func TestValidID(t *testing.T) {
	if err := ValidID("36be4c46-4e1b-431d-b9db-1b315f537a85"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "36be4c46", "36BE4C46-4E1B-431D-B9DB-1B315F537A85", "36be4c46x4e1b-431d-b9db-1b315f537a85", "36be4c46-4e1b-431d-b9db-1b315f537a8g", "root@host-4e1b-431d-b9db-1b315f537a85"} {
		if err := ValidID(bad); err == nil {
			t.Errorf("ValidID(%q) = nil, want an error", bad)
		}
	}
}
