package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDir(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"PACE_CONFIG_PATH": "/p", "XDG_CONFIG_HOME": "/x", "HOME": "/h"}, "/p"},
		{map[string]string{"XDG_CONFIG_HOME": "/x", "HOME": "/h"}, filepath.Join("/x", "pace")},
		{map[string]string{"HOME": "/h"}, filepath.Join("/h", ".config", "pace")},
		{map[string]string{"USERPROFILE": `C:\Users\ann`}, filepath.Join(`C:\Users\ann`, ".config", "pace")},
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
