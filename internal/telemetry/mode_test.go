package telemetry

import (
	"errors"
	"strings"
	"testing"

	"github.com/pace-cli/pace/internal/config"
	"github.com/pace-cli/pace/internal/machinepolicy"
)

func TestDecide(t *testing.T) {
	minus1, hour := -1, 3600
	cases := []struct {
		name     string
		env      map[string]string
		settings config.Settings
		err      error
		want     Mode
		reason   string
	}{
		{"default", nil, config.Settings{}, nil, On, "default"},
		{"enabled", nil, config.Settings{TelemetryMode: "on"}, nil, On, "telemetry-mode: on"},
		{"local", nil, config.Settings{TelemetryMode: "local"}, nil, Local, "telemetry-mode: local"},
		{"disabled", nil, config.Settings{TelemetryMode: "OFF"}, nil, Off, "telemetry-mode: off"},
		{"DO_NOT_TRACK", map[string]string{"DO_NOT_TRACK": "1"}, config.Settings{TelemetryMode: "on"}, nil, Off, "DO_NOT_TRACK"},
		{"DO_NOT_TRACK=true", map[string]string{"DO_NOT_TRACK": "true"}, config.Settings{}, nil, Off, "DO_NOT_TRACK"},
		{"DO_NOT_TRACK=yes", map[string]string{"DO_NOT_TRACK": "yes"}, config.Settings{}, nil, Off, "DO_NOT_TRACK"},
		{"DO_NOT_TRACK=0", map[string]string{"DO_NOT_TRACK": "0"}, config.Settings{}, nil, On, "default"},
		{"DO_NOT_TRACK=false", map[string]string{"DO_NOT_TRACK": "false"}, config.Settings{}, nil, On, "default"},
		// The convention defines only 1; no value but 0 and false is read as consent.
		{"DO_NOT_TRACK=f", map[string]string{"DO_NOT_TRACK": "f"}, config.Settings{}, nil, Off, "DO_NOT_TRACK"},
		{"DO_NOT_TRACK=F", map[string]string{"DO_NOT_TRACK": "F"}, config.Settings{}, nil, Off, "DO_NOT_TRACK"},
		{"DO_NOT_TRACK=no", map[string]string{"DO_NOT_TRACK": "no"}, config.Settings{}, nil, Off, "DO_NOT_TRACK"},
		{"DO_NOT_TRACK=2", map[string]string{"DO_NOT_TRACK": "2"}, config.Settings{}, nil, Off, "DO_NOT_TRACK"},
		{"DO_NOT_TRACK=FALSE", map[string]string{"DO_NOT_TRACK": "FALSE"}, config.Settings{}, nil, On, "default"},
		{"DO_NOT_TRACK=space", map[string]string{"DO_NOT_TRACK": " "}, config.Settings{}, nil, On, "default"},
		{"PACE_TELEMETRY_DISABLED=f", map[string]string{"PACE_TELEMETRY_DISABLED": "f"}, config.Settings{}, nil, Off, "PACE_TELEMETRY_DISABLED"},
		{"PACE_TELEMETRY_DISABLED", map[string]string{"PACE_TELEMETRY_DISABLED": "1"}, config.Settings{TelemetryMode: "on"}, nil, Off, "PACE_TELEMETRY_DISABLED"},
		{"PACE_TELEMETRY_DISABLED=0", map[string]string{"PACE_TELEMETRY_DISABLED": "0"}, config.Settings{}, nil, On, "default"},
		{"interval -1 env", map[string]string{"PACE_TELEMETRY_UPLOAD_INTERVAL_SECONDS": "-1"}, config.Settings{TelemetryMode: "on"}, nil, Local, "PACE_TELEMETRY_UPLOAD_INTERVAL_SECONDS"},
		{"interval -1 env as viper reads it", map[string]string{"PACE_TELEMETRY_UPLOAD_INTERVAL_SECONDS": " -1.0"}, config.Settings{}, nil, Local, "PACE_TELEMETRY_UPLOAD_INTERVAL_SECONDS is -1"},
		{"interval -5 env", map[string]string{"PACE_TELEMETRY_UPLOAD_INTERVAL_SECONDS": "-5"}, config.Settings{}, nil, Local, "PACE_TELEMETRY_UPLOAD_INTERVAL_SECONDS is -5"},
		{"interval not a number", map[string]string{"PACE_TELEMETRY_UPLOAD_INTERVAL_SECONDS": "never"}, config.Settings{}, nil, On, "default"},
		{"unsafe folder", nil, config.Settings{}, &config.UnsafeFolderError{Dir: "/tmp/pace", Why: "others may write to it (mode 0777)", Fix: "chmod"}, Off, "/tmp/pace is not safe to use: others may write to it (mode 0777); chmod; pace counts nothing there"},
		{"interval -1 config", nil, config.Settings{UploadIntervalSeconds: &minus1}, nil, Local, "telemetry-upload-interval-seconds: -1"},
		{"interval 3600", nil, config.Settings{UploadIntervalSeconds: &hour}, nil, On, "default"},
		{"off beats interval", nil, config.Settings{TelemetryMode: "off", UploadIntervalSeconds: &minus1}, nil, Off, "telemetry-mode: off"},
		{"bad config.yaml", nil, config.Settings{}, errors.New("boom"), Off, "config.yaml cannot be read"},
		{"unknown mode", nil, config.Settings{TelemetryMode: "maybe"}, nil, Off, "not one of on, local, off"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Decide(func(k string) string { return c.env[k] }, c.settings, c.err)
			if d.Mode != c.want || !strings.Contains(d.Reason, c.reason) {
				t.Fatalf("Decide = %+v, want %s because of %q", d, c.want, c.reason)
			}
		})
	}
}

// PACE's persistent flag on one run: negative makes that run local, and
// nothing else it says can undo another opt-out.
func TestDecideRunFlag(t *testing.T) {
	minus1, zero, hour := -1, 0, 3600
	env := func(m map[string]string) config.Getenv { return func(k string) string { return m[k] } }
	if d := DecideRun(env(nil), config.Settings{TelemetryMode: "on"}, nil, &minus1); d.Mode != Local || !strings.Contains(d.Reason, "--telemetry-upload-interval-seconds -1 on this run") {
		t.Errorf("flag -1: %+v", d)
	}
	if d := DecideRun(env(nil), config.Settings{UploadIntervalSeconds: &minus1}, nil, &hour); d.Mode != Local {
		t.Errorf("flag 3600 over config.yaml's -1: %+v", d)
	}
	if d := DecideRun(env(map[string]string{"PACE_TELEMETRY_UPLOAD_INTERVAL_SECONDS": "-1"}), config.Settings{}, nil, &zero); d.Mode != Local {
		t.Errorf("flag 0 over the environment's -1: %+v", d)
	}
	if d := DecideRun(env(map[string]string{"DO_NOT_TRACK": "1"}), config.Settings{}, nil, &hour); d.Mode != Off {
		t.Errorf("flag 3600 under DO_NOT_TRACK: %+v", d)
	}
	if d := DecideRun(env(nil), config.Settings{}, nil, &hour); d.Mode != On {
		t.Errorf("flag 3600 alone: %+v", d)
	}
}

// The machine's policy only restricts: off beats local beats on, the
// user's off stays, and an ignored policy changes nothing.
func TestRestrict(t *testing.T) {
	on, local, off := Decision{On, "default"}, Decision{Local, "user local"}, Decision{Off, "DO_NOT_TRACK is set"}
	pol := func(tel string) machinepolicy.Policy {
		return machinepolicy.Policy{Source: "/etc/pace/policy.yaml", Found: true, Telemetry: tel}
	}
	for _, c := range []struct {
		d    Decision
		p    machinepolicy.Policy
		want Mode
		why  string
	}{
		{on, machinepolicy.Policy{Source: "/etc/pace/policy.yaml"}, On, "default"},
		{on, pol(""), On, "default"},
		{on, pol("off"), Off, "sets telemetry: off"},
		{on, pol("local"), Local, "sets telemetry: local"},
		{local, pol("off"), Off, "sets telemetry: off"},
		{local, pol("local"), Local, "user local"},
		{off, pol("local"), Off, "DO_NOT_TRACK is set"},
		{off, pol("off"), Off, "DO_NOT_TRACK is set"},
		{on, machinepolicy.Policy{Source: "p", Found: true, Telemetry: "off", Err: errors.New("bad")}, Off, "cannot be read, so it counts as off: bad"},
		{on, machinepolicy.Policy{Source: "p", Found: true, Telemetry: "off", Ignored: "mode 0666"}, On, "default"},
	} {
		if d := Restrict(c.d, c.p); d.Mode != c.want || !strings.Contains(d.Reason, c.why) {
			t.Errorf("%+v under %+v: %+v, want %s (%s)", c.d, c.p, d, c.want, c.why)
		}
	}
}
