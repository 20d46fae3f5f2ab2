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

	"github.com/pace-cli/pace/internal/daemon"
	"github.com/pace-cli/pace/internal/telemetry"
)

// askTimeout bounds how long status waits for pace-telemetryd.
const askTimeout = 3 * time.Second

// uploaderStatus is the status of the uploader of the config folder dir,
// in the shape pace-telemetryd prints (daemon.Status): its own `status -o
// json`, so that the daemon stays the one authority on its service and
// settings. Without a pace-telemetryd that answers, pace gathers the same
// status itself (daemon.Gather), with the service unknown or not
// installed.
func (e *env) uploaderStatus(dir string) daemon.Status {
	prog := e.findDaemon()
	local := func(service daemon.ServiceStatus, whyNot string) daemon.Status {
		u := daemon.Gather(daemon.Config{Dir: dir, Getenv: e.getenv}, service, "")
		u.Program = prog
		// Nothing uploads without an uploader that runs.
		u.Uploads, u.UploadsOff = false, whyNot
		return u
	}
	if prog == "" {
		return local(daemon.ServiceStatus{State: "not installed", Detail: "pace-telemetryd is neither next to pace nor on PATH"}, "pace-telemetryd is not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), askTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, "status", "-o", "json", "--config-path", dir)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return local(daemon.ServiceStatus{State: "unknown", Detail: "pace-telemetryd status failed: " + firstLine(errOut.String(), err.Error())}, "pace-telemetryd did not answer")
	}
	var u daemon.Status
	if err := json.Unmarshal(out.Bytes(), &u); err != nil || u.Service.State == "" {
		return local(daemon.ServiceStatus{State: "unknown", Detail: "pace-telemetryd status gave no service state (an older pace-telemetryd?)"}, "pace-telemetryd did not answer")
	}
	u.Program = prog
	return u
}

// uploadsLine says, when counts are kept for upload but nothing will
// upload them (no uploader running, or its settings let it upload
// nothing), why and what to do.
func (r telemetryStatus) uploadsLine(w io.Writer) {
	u := r.Uploader
	if r.Mode != telemetry.On || u.Uploads && u.Service.Running() {
		return
	}
	var why []string
	switch {
	case u.Program == "":
	case u.Service.State == "not installed":
		why = append(why, "the uploader is not installed as a service")
	case !u.Service.Running():
		why = append(why, "the uploader is "+u.Service.State+": 'pace-telemetryd start' starts it")
	}
	if !u.Uploads {
		why = append(why, u.UploadsOff)
	}
	fmt.Fprintf(w, "uploads:\tnone: the counts are kept, but nothing will upload them (%s); 'pace telemetry enable --upload' sets up the uploader\n", strings.Join(why, "; "))
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
