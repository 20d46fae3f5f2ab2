package config

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestDir(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"PACE_CONFIG_PATH": "/p", "XDG_CONFIG_HOME": "/x", "HOME": "/h"}, "/p"},
		// PACE never read XDG_CONFIG_HOME: a user's settings stay where it put them.
		{map[string]string{"XDG_CONFIG_HOME": "/x", "HOME": "/h"}, filepath.Join("/h", ".config", "pace")},
		{map[string]string{"HOME": "/h"}, filepath.Join("/h", ".config", "pace")},
		{map[string]string{"PACE_CONFIG_PATH": "~/pace-conf", "HOME": "/h"}, filepath.Join("/h", "pace-conf")},
		{map[string]string{"PACE_CONFIG_PATH": "~", "HOME": "/h"}, "/h"},
		{map[string]string{"PACE_CONFIG_PATH": "rel/~/x", "HOME": "/h"}, "rel/~/x"},
	}
	if runtime.GOOS == "windows" {
		cases = append(cases, struct {
			env  map[string]string
			want string
		}{map[string]string{"USERPROFILE": `C:\Users\ann`, "HOME": "/c/msys"}, filepath.Join(`C:\Users\ann`, ".config", "pace")})
	} else {
		cases = append(cases, struct {
			env  map[string]string
			want string
		}{map[string]string{"USERPROFILE": `C:\Users\ann`}, filepath.Join(`C:\Users\ann`, ".config", "pace")})
	}
	for _, c := range cases {
		got, err := Dir(func(k string) string { return c.env[k] })
		if err != nil || got != c.want {
			t.Errorf("Dir(%v) = %q, %v; want %q", c.env, got, err, c.want)
		}
	}
	if _, err := Dir(func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "set PACE_CONFIG_PATH") {
		t.Errorf("Dir with no variables: %v", err)
	}
	bad := map[string]map[string]string{
		"write the full path": {"PACE_CONFIG_PATH": "~ann/pace", "HOME": "/h"},
		"HOME is not set":     {"PACE_CONFIG_PATH": "~/pace"},
	}
	for want, env := range bad {
		if got, err := Dir(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Dir(%v) = %q, %v; want an error saying %q", env, got, err, want)
		}
	}
}

// config.yaml is read as PACE read it, through viper: keys in any case,
// numbers also as strings.
func TestLoadReadsWhatViperRead(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		file     string
		interval int // -999: not set
		mode     string
		endpoint string
	}{
		{"telemetry-upload-interval-seconds: -1\n", -1, "", ""},
		{"Telemetry-Upload-Interval-Seconds: -1\n", -1, "", ""},
		{"TELEMETRY-UPLOAD-INTERVAL-SECONDS: \"-1\"\n", -1, "", ""},
		{"telemetry-upload-interval-seconds: '-5'\n", -5, "", ""},
		{"telemetry-upload-interval-seconds: \"3600\"\n", 3600, "", ""},
		{"telemetry-upload-interval-seconds: \" 60 \"\n", 60, "", ""},
		{"telemetry-upload-interval-seconds: \"-1.0\"\n", -1, "", ""},
		{"telemetry-upload-interval-seconds: \"0x10\"\n", 16, "", ""},
		{"telemetry-upload-interval-seconds: -1.0\n", -1, "", ""},
		{"telemetry-upload-interval-seconds: 0x10\n", 16, "", ""},
		{"telemetry-upload-interval-seconds:\n", -999, "", ""},
		{"telemetry-upload-interval-seconds: 60\nTelemetry-Upload-Interval-Seconds: -1\n", -1, "", ""},
		{"Telemetry-Mode: LOCAL\nTelemetry-Endpoint: https://t.example/\n", -999, "LOCAL", "https://t.example/"},
		{"# only a comment\n", -999, "", ""},
		{"", -999, "", ""},
	}
	for _, c := range cases {
		if err := os.WriteFile(filepath.Join(dir, FileName), []byte(c.file), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Load(dir)
		if err != nil {
			t.Errorf("Load(%q): %v", c.file, err)
			continue
		}
		got := -999
		if s.UploadIntervalSeconds != nil {
			got = *s.UploadIntervalSeconds
		}
		if got != c.interval || s.TelemetryMode != c.mode || s.Endpoint != c.endpoint {
			t.Errorf("Load(%q) = interval %d, %+v; want %d, mode %q, endpoint %q", c.file, got, s, c.interval, c.mode, c.endpoint)
		}
	}
	// Platforms read with keys in any case too.
	os.WriteFile(filepath.Join(dir, FileName), []byte("Processing_Platforms:\n  - ID: pg\n    Type: postgres\n    DSN: postgres://x\n"), 0o600)
	if s, err := Load(dir); err != nil || len(s.Platforms) != 1 || s.Platforms[0].ID != "pg" || s.Platforms[0].DSN != "postgres://x" {
		t.Errorf("platforms in other case: %+v, %v", s, err)
	}
	for bad, want := range map[string]string{
		"telemetry-upload-interval-seconds: never\n": `"never" is not a number`,
		"telemetry-upload-interval-seconds: [1]\n":   "must be a number",
		"telemetry-upload-interval-seconds: 1e100\n": "out of range",
		"telemetry-mode: on\nTelemetry-Mode: off\n":  "already defined",
	} {
		os.WriteFile(filepath.Join(dir, FileName), []byte(bad), 0o600)
		if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "fix or remove it") {
			t.Errorf("Load(%q) = %v, want an error with %q", bad, err, want)
		}
	}
}

func TestParseInt(t *testing.T) {
	for in, want := range map[string]int{"-1": -1, " -1 ": -1, "0": 0, "3600": 3600, "3600.0": 3600, "0x10": 16, "-0b1": -1} {
		if got, err := ParseInt(in); err != nil || got != want {
			t.Errorf("ParseInt(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-", "one", "1.5", "99999999999"} {
		if got, err := ParseInt(in); err == nil {
			t.Errorf("ParseInt(%q) = %d, want an error", in, got)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if s, err := Load(dir); err != nil || s.TelemetryMode != "" || s.Endpoint != "" || s.Platforms != nil || s.UploadIntervalSeconds != nil {
		t.Fatalf("missing file: %+v, %v", s, err)
	}
	write := func(content string) {
		if err := os.WriteFile(filepath.Join(dir, FileName), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("telemetry-mode: local\ntelemetry-upload-interval-seconds: -1\ntelemetry-endpoint: https://t.example/\nother: 1\n")
	s, err := Load(dir)
	if err != nil || s.TelemetryMode != "local" || s.UploadIntervalSeconds == nil || *s.UploadIntervalSeconds != -1 || s.Endpoint != "https://t.example/" {
		t.Fatalf("Load = %+v, %v", s, err)
	}
	for _, bad := range []string{"telemetry-mode: [x\n", "telemetry-upload-interval-seconds: soon\n", "- a list\n"} {
		write(bad)
		if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "fix or remove it") {
			t.Errorf("Load(%q) = %v, want an error saying how to fix it", bad, err)
		}
	}
	write(strings.Repeat("# big\n", 200000))
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("Load(2 MiB) = %v", err)
	}
}

func TestSetKeepsTheRest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new")
	if err := Set(dir, KeyTelemetryMode, "off"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil || fi.Mode().Perm() != FilePerm {
		t.Fatalf("config.yaml: %v, %v", fi, err)
	}
	if s, _ := Load(dir); s.TelemetryMode != "off" {
		t.Fatalf("after Set: %+v", s)
	}
	path := filepath.Join(dir, FileName)
	os.WriteFile(path, []byte("# platforms\nprocessing_platforms:\n  - id: pg # main\n    type: postgres\ntelemetry-mode: off\n"), 0o600)
	if err := Set(dir, KeyTelemetryMode, "on"); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	for _, want := range []string{"# platforms", "id: pg # main", "type: postgres", `telemetry-mode: "on"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("config.yaml lost %q:\n%s", want, data)
		}
	}
	if err := Set(dir, KeyTelemetryMode, nil); err != nil {
		t.Fatal(err)
	}
	if s, _ := Load(dir); s.TelemetryMode != "" {
		t.Fatalf("key not removed: %+v", s)
	}
	os.WriteFile(path, []byte("- not\n- settings\n"), 0o600)
	if err := Set(dir, KeyTelemetryMode, "on"); err == nil || !strings.Contains(err.Error(), "must be a mapping") {
		t.Fatalf("Set on a list: %v", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "- not\n- settings\n" {
		t.Fatalf("a refused Set changed the file: %q", data)
	}
}

func TestPlatforms(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, FileName), []byte("processing_platforms:\n  - id: pg\n    type: postgres\n    dsn: postgres://pace@127.0.0.1:5432/app\n    password_env: PACE_PG_PASSWORD\n"), 0o600)
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := s.Platform("pg")
	if !ok || p.Type != "postgres" || p.PasswordEnv != "PACE_PG_PASSWORD" || p.DSN == "" {
		t.Fatalf("platform: %+v %v", p, ok)
	}
	if _, ok := s.Platform("nope"); ok {
		t.Fatal("found a platform that is not there")
	}
}
