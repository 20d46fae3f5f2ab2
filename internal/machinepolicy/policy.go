// Package machinepolicy reads the machine-wide telemetry policy an
// administrator sets for every user of a machine: telemetry off, local
// (count, never upload), or uploads to the company's own receiver. It is
// read from each system's usual place for such policies:
//
//   - Linux and other Unix: /etc/pace/policy.yaml;
//   - macOS: the managed preferences of io.github.pace-cli.pace, as a
//     configuration profile installs them (/Library/Managed
//     Preferences/io.github.pace-cli.pace.plist), else /Library/Application
//     Support/pace/policy.yaml;
//   - Windows: the registry key HKLM\SOFTWARE\Policies\PACE\pace, where
//     Group Policy writes (the release ships an ADMX template for it).
//
// A policy can restrict or redirect, never turn telemetry on. A policy
// that cannot be read counts as off; one that a non-administrator could
// have written is ignored (Policy.Ignored says why). Nothing is read at
// import time, and when no policy exists Load costs one failed open.
package machinepolicy

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The settings, as written in policy.yaml, and as value names in the
// Windows registry and keys of the macOS managed preferences (where
// CamelCase is the custom). The ADMX template uses the registry names;
// a test checks that it does.
const (
	KeyTelemetry         = "telemetry"
	KeyTelemetryEndpoint = "telemetry-endpoint"

	ValueTelemetry         = "Telemetry"
	ValueTelemetryEndpoint = "TelemetryEndpoint"
)

// The values of the telemetry setting. A policy has no "on": it can only
// restrict what each user chooses.
const (
	Off   = "off"
	Local = "local"
)

// RegistryKey is the Windows registry key (under HKEY_LOCAL_MACHINE)
// that Group Policy writes, from the ADMX template shipped with pace
// (packaging/windows/pace.admx).
const RegistryKey = `SOFTWARE\Policies\PACE\pace`

// Domain is the reverse-DNS name of pace's macOS managed preferences, the
// one the launchd agent uses too.
const Domain = "io.github.pace-cli.pace"

// Policy is the machine's policy as read now.
type Policy struct {
	// Source is where the policy is: a file, or a registry key. When no
	// policy exists it is the place pace looked (the first, when there
	// are several), so that status can say where to put one.
	Source string
	// Found tells whether a policy exists at Source.
	Found bool
	// Telemetry is Off, Local or "" (each user decides). A policy that
	// cannot be read has Off here and Err set.
	Telemetry string
	// Endpoint is the receiver every upload goes to; "" leaves it to each
	// user's settings.
	Endpoint string
	// Err says why the policy cannot be read; it then counts as off.
	Err error
	// Ignored says why a policy found is not used at all: a file or folder
	// that someone other than an administrator could have written.
	Ignored string
}

// InEffect tells whether the policy applies: found, and not ignored.
func (p Policy) InEffect() bool { return p.Found && p.Ignored == "" }

// settings are the values read from any of the places, before checks.
type settings struct {
	telemetry, endpoint string
	// set tells which keys were present.
	telemetrySet, endpointSet bool
}

// build validates s, read from source, into a Policy. Every problem makes
// the policy unreadable, and so off: a misspelt value must not leave
// counting on when the administrator meant it off.
func build(source string, s settings) Policy {
	p := Policy{Source: source, Found: true}
	if s.telemetrySet {
		switch v := strings.ToLower(strings.TrimSpace(s.telemetry)); v {
		case Off, Local:
			p.Telemetry = v
		case "":
		case "on":
			return unreadable(source, fmt.Errorf("%s: on is not a policy: a policy can only restrict telemetry (off, local) or redirect it (%s); leave %s out to let each user decide", KeyTelemetry, KeyTelemetryEndpoint, KeyTelemetry))
		default:
			return unreadable(source, fmt.Errorf("%s: %q is not one of off, local (leave it out to let each user decide)", KeyTelemetry, s.telemetry))
		}
	}
	if s.endpointSet && strings.TrimSpace(s.endpoint) != "" {
		e := strings.TrimSpace(s.endpoint)
		if err := CheckEndpoint(e); err != nil {
			return unreadable(source, fmt.Errorf("%s: %v", KeyTelemetryEndpoint, err))
		}
		p.Endpoint = e
	}
	return p
}

// unreadable is a policy found at source that cannot be read: off.
func unreadable(source string, err error) Policy {
	return Policy{Source: source, Found: true, Telemetry: Off, Err: err}
}

// CheckEndpoint accepts an https URL, or an http one to a loopback
// address (a relay on the machine itself): counts sent in clear across a
// network could be read and changed on the way. It is parsed here without
// net/url: pace's recording path reads the policy, and links nothing of
// the network (a test checks it); the daemon's HTTP client parses it
// again in full.
func CheckEndpoint(s string) error {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return fmt.Errorf("%q is not a URL: write the receiver's full URL, such as https://telemetry.example.com/", s)
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	if strings.Contains(authority, "@") {
		return fmt.Errorf("the URL holds a user name or password, which would be sent with every upload and shown in status: remove it")
	}
	host, port := authority, ""
	if strings.HasPrefix(authority, "[") {
		end := strings.IndexByte(authority, ']')
		if end < 0 {
			return fmt.Errorf("%q: an IPv6 address must end with ]", s)
		}
		host, port = authority[1:end], authority[end+1:]
		if port != "" && port[0] != ':' {
			return fmt.Errorf("%q: after the IPv6 address comes :port or /", s)
		}
		port = strings.TrimPrefix(port, ":")
	} else if i := strings.LastIndexByte(authority, ':'); i >= 0 {
		host, port = authority[:i], authority[i+1:]
	}
	if host == "" {
		return fmt.Errorf("%q has no host: write the receiver's full URL, such as https://telemetry.example.com/", s)
	}
	if strings.Trim(port, "0123456789") != "" || len(port) > 5 {
		return fmt.Errorf("%q: the port %q is not a number", s, port)
	}
	if strings.Trim(strings.ToLower(host), "abcdefghijklmnopqrstuvwxyz0123456789.-:") != "" {
		return fmt.Errorf("%q: the host %q holds characters a host name cannot", s, host)
	}
	switch strings.ToLower(scheme) {
	case "https":
		return nil
	case "http":
		if loopback(host) {
			return nil
		}
		return fmt.Errorf("%q: http is allowed only to this machine (127.0.0.1, ::1, localhost); use https", s)
	}
	return fmt.Errorf("%q: the scheme must be https (or http to 127.0.0.1, ::1, localhost)", s)
}

// loopback tells whether host names this machine: localhost, 127.0.0.0/8
// or ::1.
func loopback(host string) bool {
	switch strings.ToLower(host) {
	case "localhost", "::1", "0:0:0:0:0:0:0:1":
		return true
	}
	parts := strings.Split(host, ".")
	if len(parts) != 4 || parts[0] != "127" {
		return false
	}
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 255 || p == "" || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

// Describe says in one line what the policy does, for status and logs.
func (p Policy) Describe() string {
	switch {
	case !p.Found:
		return "none (" + p.Source + " does not exist)"
	case p.Ignored != "":
		return "ignored: " + p.Ignored
	case p.Err != nil:
		return fmt.Sprintf("cannot be read, so it counts as off: %v", p.Err)
	}
	var what []string
	if p.Telemetry != "" {
		what = append(what, KeyTelemetry+": "+p.Telemetry)
	}
	if p.Endpoint != "" {
		what = append(what, KeyTelemetryEndpoint+": "+p.Endpoint)
	}
	if len(what) == 0 {
		return "sets nothing (each user decides)"
	}
	return strings.Join(what, ", ")
}

// Load reads the machine's policy from its place on this system. It never
// fails: a policy that cannot be read is returned with Err set and counts
// as off.
func Load() Policy { return load() }

// Report is the policy as status shows it (`pace telemetry status -o
// json`, `pace-telemetryd status -o json`); fields are only ever added.
type Report struct {
	// Source is the file or registry key holding the policy, or where
	// pace looked when there is none.
	Source string `json:"source" yaml:"source"`
	Found  bool   `json:"found" yaml:"found"`
	// InEffect: found and not ignored.
	InEffect  bool   `json:"in_effect" yaml:"in_effect"`
	Telemetry string `json:"telemetry" yaml:"telemetry"`                   // off, local, or "" (each user decides)
	Endpoint  string `json:"telemetry_endpoint" yaml:"telemetry_endpoint"` // redacted; "" when not set
	Error     string `json:"error,omitempty" yaml:"error,omitempty"`       // why it cannot be read (it counts as off)
	Ignored   string `json:"ignored,omitempty" yaml:"ignored,omitempty"`   // why it is not used (a warning)
	Summary   string `json:"summary" yaml:"summary"`                       // Describe, in one line
}

// Report gives the policy for status, with the endpoint passed through
// redact (which hides what a URL may hold of a secret).
func (p Policy) Report(redact func(string) string) Report {
	r := Report{Source: p.Source, Found: p.Found, InEffect: p.InEffect(), Ignored: p.Ignored}
	if r.InEffect {
		r.Telemetry = p.Telemetry
		if p.Endpoint != "" {
			r.Endpoint = redact(p.Endpoint)
		}
	}
	if p.Err != nil {
		r.Error = p.Err.Error()
	}
	q := p
	q.Endpoint = r.Endpoint
	r.Summary = q.Describe()
	return r
}

// Lines writes the policy as status text, for a tabwriter: one line, and
// a warning when a policy is ignored. pace telemetry status and
// pace-telemetryd status write the same lines.
func (r Report) Lines(w io.Writer) {
	switch {
	case !r.Found:
		fmt.Fprintf(w, "policy:\tnone (%s)\n", r.Source)
	case r.Ignored != "":
		fmt.Fprintf(w, "policy:\t%s: IGNORED\n", r.Source)
		fmt.Fprintf(w, "warning:\tthe machine's policy is ignored: %s\n", r.Ignored)
	case r.Error != "":
		fmt.Fprintf(w, "policy:\t%s: cannot be read, so telemetry is off: %s\n", r.Source, r.Error)
	default:
		fmt.Fprintf(w, "policy:\t%s: %s\n", r.Source, r.Summary)
	}
}
