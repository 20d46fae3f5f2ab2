package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/pace-cli/pace/internal/machinepolicy"
	"github.com/pace-cli/pace/internal/telemetry"
	"github.com/pace-cli/pace/internal/upload"
)

// Status is the uploader's status, in one shape: `pace-telemetryd status
// -o json` prints it, and `pace telemetry status -o json` prints the same
// as its "uploader" (docs/daemon.md). Fields are only ever added.
type Status struct {
	// Program is the pace-telemetryd this status is of; "" when pace
	// found none (pace then gathers the rest itself).
	Program      string        `json:"program" yaml:"program"`
	Service      ServiceStatus `json:"service" yaml:"service"`
	Installed    string        `json:"installed,omitempty" yaml:"installed,omitempty"` // the installed command, endpoint redacted
	ConfigFolder string        `json:"config_folder" yaml:"config_folder"`
	Endpoint     string        `json:"endpoint" yaml:"endpoint"` // redacted; "" when none
	EndpointFrom string        `json:"endpoint_from" yaml:"endpoint_from"`
	Mode         string        `json:"mode" yaml:"mode"`
	ModeReason   string        `json:"mode_reason" yaml:"mode_reason"`
	Interval     string        `json:"interval" yaml:"interval"`                 // in words
	IntervalSecs int64         `json:"interval_seconds" yaml:"interval_seconds"` // -1: never; 0: every change
	IntervalFrom string        `json:"interval_from" yaml:"interval_from"`
	// Uploads tells whether the settings let the uploader upload
	// (telemetry on, an endpoint, an interval other than -1);
	// UploadsOff says why not.
	Uploads     bool       `json:"uploads" yaml:"uploads"`
	UploadsOff  string     `json:"uploads_off_reason,omitempty" yaml:"uploads_off_reason,omitempty"`
	StateError  string     `json:"state_error,omitempty" yaml:"state_error,omitempty"`
	LastUpload  *time.Time `json:"last_upload" yaml:"last_upload"`
	LastAttempt *time.Time `json:"last_attempt" yaml:"last_attempt"`
	LastError   string     `json:"last_error" yaml:"last_error"`
	Failures    int        `json:"failures" yaml:"failures"`
	Pending     string     `json:"pending" yaml:"pending"`
	// Erasure describes each erasure request not yet confirmed.
	Erasure []string `json:"erasure_requests,omitempty" yaml:"erasure_requests,omitempty"`
	// Policy is the machine's policy, as it applies to the uploads.
	Policy machinepolicy.Report `json:"policy" yaml:"policy"`
}

// ServiceStatus is the OS service: State is running, stopped,
// restarting after a failure, failed, not installed or unknown; Manager
// the service manager (linux-systemd, …); Detail what it says (an exit
// status, an error).
type ServiceStatus struct {
	State   string `json:"state" yaml:"state"`
	Manager string `json:"manager" yaml:"manager"`
	Detail  string `json:"detail,omitempty" yaml:"detail,omitempty"`
}

// Running tells whether the service runs, or will run again at once.
func (s ServiceStatus) Running() bool {
	return s.State == "running" || s.State == "restarting after a failure"
}

// Gather builds the status of the uploader of c.Dir: the settings c
// resolves now (the machine's policy included), its state file, what is
// pending and the erasure requests. The service part, which only
// pace-telemetryd can ask the service manager, is given.
func Gather(c Config, service ServiceStatus, installed string) Status {
	s := c.Resolve()
	r := Status{Service: service, Installed: installed, ConfigFolder: c.Dir}
	r.Endpoint, r.EndpointFrom = upload.Redact(s.Endpoint), s.EndpointFrom
	if s.Endpoint == "" {
		r.Endpoint = ""
	}
	r.Mode, r.ModeReason = string(s.Decision.Mode), s.Decision.Reason
	r.Interval, r.IntervalFrom = s.Every(), s.IntervalFrom
	r.IntervalSecs = s.Interval.Seconds()
	r.Uploads, r.UploadsOff = s.Uploads()
	up, err := upload.LoadState(c.Dir)
	if err != nil {
		r.StateError = upload.Sanitize(err.Error(), upload.MaxAnswer)
	}
	r.LastUpload, r.LastAttempt = timeOrNil(up.LastSuccess), timeOrNil(up.LastAttempt)
	r.LastError, r.Failures = up.LastError, up.Failures
	r.Pending = pending(c.Dir, s.Endpoint, up)
	if r.Erasure, err = upload.ForgetStatus(c.Dir); err != nil {
		r.Erasure = []string{"unknown: " + upload.Sanitize(err.Error(), upload.MaxAnswer)}
	}
	r.Policy = s.Policy.Report(upload.Redact)
	return r
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// pending says whether the counts differ from what was last delivered.
func pending(dir, endpoint string, st upload.State) string {
	p, err := (&telemetry.Store{Dir: dir}).Load()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no counts recorded yet"
	case err != nil:
		return fmt.Sprintf("telemetry.yaml cannot be read (%v)", err)
	}
	body, _ := upload.Body(p)
	switch {
	case upload.Digest(body) == st.DeliveredDigest:
		return "no: the counts are as last delivered"
	case upload.RefusedKey(endpoint, body) == st.RejectedDigest:
		return "held: the receiver refused these counts; waiting for them to change"
	}
	if n := p.Counters(); n != 1 {
		return fmt.Sprintf("yes: %d counters not yet delivered as they are now", n)
	}
	return "yes: 1 counter not yet delivered as it is now"
}
