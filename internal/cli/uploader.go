package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/pace-cli/pace/internal/telemetry"
	"github.com/pace-cli/pace/internal/upload"
)

// uploader is what `pace telemetry status` says of pace-telemetryd: the
// program, its service, and what it last did. Its JSON shape is part of
// `pace telemetry status -o json` (docs/telemetry.md).
type uploader struct {
	// Program is the pace-telemetryd found next to pace or on PATH; ""
	// when there is none.
	Program string `json:"program" yaml:"program"`
	// Service is the OS service's state as pace-telemetryd reports it:
	// running, stopped, not installed, or unknown (Detail says why).
	Service string `json:"service" yaml:"service"`
	Detail  string `json:"service_detail,omitempty" yaml:"service_detail,omitempty"`
	// LastUpload is the last delivered upload; null when never.
	LastUpload  *time.Time `json:"last_upload" yaml:"last_upload"`
	LastAttempt *time.Time `json:"last_attempt" yaml:"last_attempt"`
	LastError   string     `json:"last_error" yaml:"last_error"`
	Failures    int        `json:"failures" yaml:"failures"`
	// StateError says why the daemon's state file could not be read.
	StateError string `json:"state_error,omitempty" yaml:"state_error,omitempty"`
	// Uploads tells whether anything will upload the counts: the uploader
	// runs and its settings let it (telemetry on, an endpoint, an
	// interval other than -1); UploadsOff says why not.
	Uploads    bool   `json:"uploads" yaml:"uploads"`
	UploadsOff string `json:"uploads_off_reason,omitempty" yaml:"uploads_off_reason,omitempty"`
}

// askTimeout bounds how long status waits for pace-telemetryd.
const askTimeout = 3 * time.Second

// uploaderStatus looks at the uploader of the config folder dir. The
// program and its service come from `pace-telemetryd status -o json`, so
// the daemon stays the one authority on its service; the last upload from
// its state file.
func (e *env) uploaderStatus(dir string) uploader {
	u := uploader{Service: "unknown"}
	st, err := upload.LoadState(dir)
	if err != nil {
		u.StateError = err.Error()
	}
	if !st.LastSuccess.IsZero() {
		u.LastUpload = &st.LastSuccess
	}
	if !st.LastAttempt.IsZero() {
		u.LastAttempt = &st.LastAttempt
	}
	u.LastError, u.Failures = st.LastError, st.Failures

	u.Program = e.findDaemon()
	if u.Program == "" {
		u.Service, u.Detail = "not installed", "pace-telemetryd is neither next to pace nor on PATH"
		u.UploadsOff = "pace-telemetryd is not installed"
		return u
	}
	u.UploadsOff = "pace-telemetryd did not answer"
	ctx, cancel := context.WithTimeout(context.Background(), askTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, u.Program, "status", "-o", "json", "--config-path", dir)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		u.Detail = "pace-telemetryd status failed: " + firstLine(errOut.String(), err.Error())
		return u
	}
	var reply struct {
		Service struct {
			State   string `json:"state"`
			Manager string `json:"manager"`
			Detail  string `json:"detail"`
		} `json:"service"`
		Uploads    bool   `json:"uploads"`
		UploadsOff string `json:"uploads_off_reason"`
	}
	if err := json.Unmarshal(out.Bytes(), &reply); err != nil || reply.Service.State == "" {
		u.Detail = "pace-telemetryd status gave no service state (an older pace-telemetryd?)"
		return u
	}
	u.Service, u.Detail = reply.Service.State, reply.Service.Detail
	if u.Detail == "" {
		u.Detail = reply.Service.Manager
	}
	var why []string
	switch {
	case u.Service == "not installed":
		why = append(why, "the uploader is not installed as a service")
	case u.Service != "running" && !strings.HasPrefix(u.Service, "restarting"):
		why = append(why, "the uploader is "+u.Service+": 'pace-telemetryd start' starts it")
	}
	if !reply.Uploads {
		why = append(why, reply.UploadsOff)
	}
	u.Uploads, u.UploadsOff = len(why) == 0, strings.Join(why, "; ")
	return u
}

// uploadsLine says, when counts are kept for upload but nothing will
// upload them, why and what to do.
func (r telemetryStatus) uploadsLine(w io.Writer) {
	if r.Mode != telemetry.On || r.Uploader.Uploads {
		return
	}
	fmt.Fprintf(w, "uploads:	none: the counts are kept, but nothing will upload them (%s); 'pace telemetry enable --upload' sets up the uploader\n", r.Uploader.UploadsOff)
}

// findDaemon looks for pace-telemetryd beside the running pace (packages
// and archives ship both together), then on PATH.
func (e *env) findDaemon() string {
	name := "pace-telemetryd"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	var dirs []string
	if self, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(self))
	}
	dirs = append(dirs, filepath.SplitList(e.getenv("PATH"))...)
	for _, d := range dirs {
		if d == "" {
			continue
		}
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && (runtime.GOOS == "windows" || fi.Mode()&0o111 != 0) {
			return p
		}
	}
	return ""
}

func firstLine(s, fallback string) string {
	s = string(bytes.TrimSpace([]byte(s)))
	if i := bytes.IndexByte([]byte(s), '\n'); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		return fallback
	}
	return s
}
