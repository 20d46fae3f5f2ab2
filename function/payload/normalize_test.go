package payload

import (
	"reflect"
	"strings"
	"testing"
)

func TestNormalizeVersion(t *testing.T) {
	good := map[string]string{
		"1.25.0":                  "v1.25.0",
		"v1.25.0":                 "v1.25.0",
		"dev":                     DevVersion,
		"v0.0.0-dev":              DevVersion,
		"1.25.0+dirty":            "v1.25.0",
		"v1.26.0-rc.1":            "v1.26.0-rc.1",
		"1.26.0-rc.99":            "v1.26.0-rc.99",
		"v1.26.0-rc.100":          "v1.26.0-dev",
		"v1.26.0-rc":              "v1.26.0-rc",
		"v1.26.0-alpha.2":         "v1.26.0-alpha.2",
		"v1.26.0-beta":            "v1.26.0-beta",
		"v1.26.0-rc1":             "v1.26.0-dev",
		"v1.26.0-RC.1":            "v1.26.0-dev",
		"v1.26.0-rc.1.2":          "v1.26.0-dev",
		"1.25.1-SNAPSHOT-abc1234": "v1.25.1-dev",
		"v0.0.0-20261125044417-abcdef123456+dirty": DevVersion,
		"v1.2.4-0.20261125044417-abcdef123456":     "v1.2.4-dev",
		"v1.26.0-" + strings.Repeat("a", 55):       "v1.26.0-dev",
		"v1.26.0-" + strings.Repeat("1", 2):        "v1.26.0-dev",
		"v1.26.0-rc.0":                             "v1.26.0-rc.0",
		"v10.200.3000":                             "v10.200.3000",
		"0.0.0":                                    "v0.0.0",
		"v1.26.0-alpha.beta":                       "v1.26.0-dev",
		"v1.26.0-x-y.z+build.5":                    "v1.26.0-dev",
	}
	for in, want := range good {
		got, err := NormalizeVersion(in)
		if err != nil || got != want {
			t.Errorf("NormalizeVersion(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{
		"", "v", "vdev", "Dev", "DEV", "latest", "1.25", "v1.25", "1.25.0.1", "V1.25.0", "vv1.25.0",
		"01.2.3", "1.02.3", "v1.2.3-", "v1.2.3-rc.01", "v1.2.3+", "v1.2.3-rc..1", " 1.2.3", "1.2.3 ",
		"v1.2.3;id=x", "v1.2.3\n", "v1.2.3-é", "v1.26.0-" + strings.Repeat("a", 57),
	} {
		if got, err := NormalizeVersion(bad); err == nil {
			t.Errorf("NormalizeVersion(%q) = %q, want an error", bad, got)
		}
	}
}

// The stored spelling is a fixed point, and only safe bytes reach a tag.
func FuzzNormalizeVersion(f *testing.F) {
	for _, s := range []string{"1.25.0", "dev", "v1.2.3-rc.1+x", "v0.0.0-20261125044417-abcdef123456"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, err := NormalizeVersion(v)
		if err != nil {
			return
		}
		if again, err := NormalizeVersion(got); err != nil || again != got {
			t.Fatalf("%q -> %q -> %q, %v", v, got, again, err)
		}
		if strings.Trim(got, "v0123456789.-abcdelprt") != "" || len(got) > MaxVersionLen {
			t.Fatalf("%q -> %q has unexpected bytes", v, got)
		}
	})
}

func TestNormalize(t *testing.T) {
	p := &Payload{
		MetricPoints: map[string]map[int]Point{
			"pace version":    {0: {3}, 1: {1}, 5: {2}, 6: {10}, 7: {20}, 255: {MaxCount}},
			"pace __complete": {0: {9}, 131: {1}},
		},
		CLIVersion: "1.25.0",
		ID:         "36be4c46-4e1b-431d-b9db-1b315f537a85",
	}
	if err := p.Normalize(); err != nil {
		t.Fatal(err)
	}
	want := &Payload{
		MetricPoints: map[string]map[int]Point{
			// 10+20+MaxCount saturates.
			"pace version":    {0: {3}, 1: {1}, 5: {2}, OtherExitCode: {MaxCount}},
			"pace __complete": {0: {9}, OtherExitCode: {1}},
		},
		CLIVersion:      "v1.25.0",
		OperatingSystem: UnknownOS,
		ID:              "36be4c46-4e1b-431d-b9db-1b315f537a85",
	}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("got %+v\nwant %+v", p, want)
	}
	q := &Payload{MetricPoints: map[string]map[int]Point{"pace": {7: {2}, 9: {3}}}, CLIVersion: "dev", OperatingSystem: "windows", ID: want.ID}
	if err := q.Normalize(); err != nil || q.MetricPoints["pace"][OtherExitCode].CumulativeCount != 5 || len(q.MetricPoints["pace"]) != 1 || q.CLIVersion != DevVersion {
		t.Fatalf("got %+v, %v", q, err)
	}

	for _, tc := range []struct {
		p    Payload
		want string
	}{
		{Payload{CLIVersion: "1.0.0", OperatingSystem: "linux", ID: "root@host"}, "id: must be"},
		{Payload{CLIVersion: "1.0", OperatingSystem: "linux", ID: want.ID}, `cli_version: "1.0": must be a version like 1.25.0`},
		{Payload{CLIVersion: "1.0.0", OperatingSystem: "templeos", ID: want.ID}, `operating_system: "templeos": must be a GOOS value`},
		{Payload{CLIVersion: "1.0.0", OperatingSystem: "linux", ID: want.ID, MetricPoints: map[string]map[int]Point{"pace": {256: {1}}}}, `metric_points["pace"]["256"]: exit code`},
	} {
		err := tc.p.Normalize()
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.p, err, tc.want)
		} else if strings.Contains(err.Error(), "root") {
			t.Error("the id reached the error")
		}
	}
}

func TestExitCodeTag(t *testing.T) {
	for code, want := range map[int]string{0: "0", 1: "1", 5: "5", 6: "other", 255: "other"} {
		if got := ExitCodeTag(code); got != want {
			t.Errorf("ExitCodeTag(%d) = %q, want %q", code, got, want)
		}
	}
}

// A crash and the three signals that end a run stay distinct: the team reads
// them; any other code above 5 is still folded.
func TestNormalizeKeepsCrashAndSignalCodes(t *testing.T) {
	p := &Payload{MetricPoints: map[string]map[int]Point{"pace version": {70: {2}, 129: {1}, 130: {3}, 143: {4}, 131: {5}, 255: {6}}},
		CLIVersion: "v1.27.0", OperatingSystem: "linux", ID: "36be4c46-4e1b-431d-b9db-1b315f537a85"}
	if err := p.Normalize(); err != nil {
		t.Fatal(err)
	}
	want := map[int]Point{70: {2}, 129: {1}, 130: {3}, 143: {4}, OtherExitCode: {11}}
	if !reflect.DeepEqual(p.MetricPoints["pace version"], want) {
		t.Fatalf("got %v, want %v", p.MetricPoints["pace version"], want)
	}
	for code, tag := range map[int]string{0: "0", 5: "5", 70: "70", 130: "130", 143: "143", 129: "129", OtherExitCode: "other", 131: "other"} {
		if got := ExitCodeTag(code); got != tag {
			t.Errorf("ExitCodeTag(%d) = %q, want %q", code, got, tag)
		}
	}
}
