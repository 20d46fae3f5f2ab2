package machinepolicy

import (
	"strings"
	"testing"

	"howett.net/plist"
)

func TestCheckEndpoint(t *testing.T) {
	for _, ok := range []string{
		"https://telemetry.corp.example/", "https://telemetry.corp.example:8443/ingest?x=1", "HTTPS://t.example",
		"http://127.0.0.1:8080/", "http://127.8.9.10/", "http://localhost:9000/x", "http://[::1]:8080/",
	} {
		if err := CheckEndpoint(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for bad, why := range map[string]string{
		"http://telemetry.corp.example/": "http is allowed only to this machine",
		"http://128.0.0.1/":              "http is allowed only to this machine",
		"http://127.0.0.1.evil.example/": "http is allowed only to this machine",
		"ftp://t.example/":               "the scheme must be https",
		"t.example":                      "is not a URL",
		"https:///x":                     "has no host",
		"https://u:p@t.example/":         "user name or password",
		"https://t.example:port/":        "is not a number",
		"https://t exa.example/":         "characters a host name cannot",
		"http://[::1/":                   "must end with ]",
	} {
		if err := CheckEndpoint(bad); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("%s: %v, want %q", bad, err, why)
		}
	}
}

func TestParseYAML(t *testing.T) {
	for in, want := range map[string]Policy{
		"":                   {Found: true},
		"# only a comment\n": {Found: true},
		"telemetry: off\n":   {Found: true, Telemetry: Off},
		"Telemetry: LOCAL\n": {Found: true, Telemetry: Local},
		"telemetry:\n":       {Found: true},
		"telemetry-endpoint: https://t.example/\n": {Found: true, Endpoint: "https://t.example/"},
	} {
		p := parseYAML("p.yaml", []byte(in))
		p.Source = ""
		if p.Err != nil || p != want {
			t.Errorf("%q: %+v, want %+v", in, p, want)
		}
	}
	for in, why := range map[string]string{
		"telemetry: [off\n":    "not valid YAML",
		"telemetry: yes: no\n": "not valid YAML",
		"[off]\n":              "must be a mapping",
		"telemetry: {a: b}\n":  "not a mapping",
		"telemetry: true\n":    "not a true/false (true); quote it",
		"telemetry: on\n":      "on is not a policy",
		"endpoint: x\n":        `unknown setting "endpoint"`,
	} {
		p := parseYAML("p.yaml", []byte(in))
		if p.Telemetry != Off || p.Err == nil || !strings.Contains(p.Err.Error(), why) || !p.InEffect() {
			t.Errorf("%q: %+v, want off with %q", in, p, why)
		}
	}
}

// The managed preferences a configuration profile installs, as XML and as
// binary plists: the contract of policy_darwin.go, checked on every
// system.
func TestParsePlist(t *testing.T) {
	xml := `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Telemetry</key>
	<string>local</string>
	<key>TelemetryEndpoint</key>
	<string>https://telemetry.corp.example/</string>
	<key>PayloadUUID</key>
	<string>5E3F8A3C-0000-4000-8000-000000000001</string>
</dict>
</plist>`
	want := Policy{Source: "m.plist", Found: true, Telemetry: Local, Endpoint: "https://telemetry.corp.example/"}
	if p := parsePlist("m.plist", []byte(xml)); p != want {
		t.Fatalf("XML: %+v", p)
	}
	bin, err := plist.Marshal(map[string]any{"Telemetry": "off"}, plist.BinaryFormat)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(bin), "bplist00") {
		t.Fatalf("not a binary plist: %q", bin[:8])
	}
	if p := parsePlist("m.plist", bin); p.Telemetry != Off || p.Err != nil {
		t.Fatalf("binary: %+v", p)
	}
	for name, c := range map[string]struct {
		v   any
		why string
	}{
		"a boolean":     {map[string]any{"Telemetry": false}, "Telemetry must be a string, not a boolean"},
		"unknown key":   {map[string]any{"Telemetri": "off"}, `unknown setting "Telemetri"`},
		"an array":      {[]any{"off"}, "must be a dictionary of settings"},
		"bad endpoint":  {map[string]any{"TelemetryEndpoint": "http://t.example/"}, "http is allowed only to this machine"},
		"unknown value": {map[string]any{"Telemetry": "none"}, `"none" is not one of off, local`},
	} {
		data, err := plist.Marshal(c.v, plist.BinaryFormat)
		if err != nil {
			t.Fatal(err)
		}
		if p := parsePlist("m.plist", data); p.Telemetry != Off || p.Err == nil || !strings.Contains(p.Err.Error(), c.why) {
			t.Errorf("%s: %+v, want off with %q", name, p, c.why)
		}
	}
	if p := parsePlist("m.plist", []byte("not a plist")); p.Err == nil || p.Telemetry != Off {
		t.Errorf("garbage: %+v", p)
	}
}
