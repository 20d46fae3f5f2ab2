//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"github.com/pace-cli/pace/internal/testenv"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRealSystemd runs this build's pace and pace-telemetryd under a real
// systemd: a throw-away container booted with systemd-nspawn over an
// overlay of this machine's root on a tmpfs, in a private mount namespace
// (nothing reaches the disk), with host networking so that the receiver on
// the host's loopback is reachable. It needs root and Debian's systemd,
// systemd-container and dbus-user-session (scripts/test.sh installs them).
func TestRealSystemd(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a container; not with -short")
	}
	c := bootContainer(t)
	r := startReceiver(t)

	const user = "pacetest"
	c.must(t, "useradd", "--create-home", "--shell", "/bin/bash", user)
	c.must(t, "loginctl", "enable-linger", user)
	uid := strings.TrimSpace(c.must(t, "id", "-u", user))
	eventuallyFor(t, 30*time.Second, "the user's manager to run", func() bool {
		_, out := c.as(user, uid, "systemctl", "--user", "is-system-running")
		return strings.TrimSpace(out) == "running" || strings.TrimSpace(out) == "degraded"
	})
	home := "/home/" + user
	folder := home + "/.config/pace"
	// A percent-encoded query: systemd reads % as a specifier unless escaped.
	endpoint := r.url + "?key=a%2Fb%25c"

	pace := func(args ...string) { c.as(user, uid, append([]string{c.bin + "/pace"}, args...)...) }
	daemon := func(args ...string) (int, string) {
		return c.as(user, uid, append([]string{c.bin + "/pace-telemetryd"}, args...)...)
	}
	// delivered compares what the receiver holds with the user's file.
	delivered := func() bool { return equal(r.counts(t), c.want(t, folder+"/telemetry.yaml")) }
	show := func(prop string) string {
		_, out := c.as(user, uid, "systemctl", "--user", "show", "-p", prop, "--value", "pace-telemetryd.service")
		return strings.TrimSpace(out)
	}

	t.Run("user", func(t *testing.T) {
		pace("version")
		pace("version")
		// Install: enabled for default.target, not started.
		if code, out := daemon("install", "--endpoint", endpoint, "--debounce=30s", "--telemetry-upload-interval-seconds=0"); code != 0 || !strings.Contains(out, "install: done") {
			t.Fatalf("install: %d %s", code, out)
		}
		link := filepath.Join(home, ".config/systemd/user/default.target.wants/pace-telemetryd.service")
		if code, _ := c.run("test", "-L", link); code != 0 {
			t.Fatalf("no enablement link %s", link)
		}
		if _, out := c.run("stat", "-c", "%a", home+"/.config/systemd/user/pace-telemetryd.service"); strings.TrimSpace(out) != "600" {
			t.Fatalf("the unit, which holds the endpoint, has mode %s", out)
		}
		if got := show("ActiveState"); got != "inactive" {
			t.Fatalf("installed unit is %s, want inactive (not started)", got)
		}
		if code, out := daemon("install", "--endpoint", endpoint); code != 1 || !strings.Contains(out, "already installed") {
			t.Fatalf("second install: %d %s", code, out)
		}
		if code, out := daemon("start"); code != 0 {
			t.Fatalf("start: %d %s", code, out)
		}
		eventually(t, "the counts at start", delivered)
		// status reads the installed unit, not its own (absent) flags.
		_, out := daemon("status")
		for _, want := range []string{"running (systemd --user)", "endpoint:       " + r.url + "?… (--endpoint)", "upload every change", "config folder:  " + folder, "pending:        no"} {
			if !strings.Contains(out, want) {
				t.Fatalf("status lacks %q:\n%s", want, out)
			}
		}

		// kill -9, counts made while it is down: restarted, nothing lost.
		pid := show("MainPID")
		c.as(user, uid, "systemctl", "--user", "kill", "--signal=KILL", "pace-telemetryd.service")
		pace("version")
		pace("lsit")
		// Between the kill and the restart (RestartSec=5) it is not "running".
		if _, out := daemon("status"); !strings.Contains(out, "restarting after a failure") {
			t.Fatalf("status of a unit waiting to restart:\n%s", out)
		}
		eventuallyFor(t, 20*time.Second, "a restart after kill -9", func() bool {
			p := show("MainPID")
			return p != pid && p != "0" && show("SubState") == "running"
		})
		eventually(t, "the counts after the restart", delivered)

		if code, out := daemon("restart"); code != 0 {
			t.Fatalf("restart: %d %s", code, out)
		}
		// Stop: the count waiting for its 30 s debounce goes in the last
		// flush, before stop returns.
		pace("telemetry", "status")
		if code, out := daemon("stop"); code != 0 {
			t.Fatalf("stop: %d %s", code, out)
		}
		if !delivered() {
			t.Fatalf("stop did not flush: receiver %v, file %v", r.counts(t), c.want(t, folder+"/telemetry.yaml"))
		}
		if code, out := daemon("restart"); code != 0 || show("SubState") != "running" {
			t.Fatalf("restart of a stopped service: %d %s", code, out)
		}

		// Exit 3 (another daemon holds the folder) fails the unit at once,
		// with no restart loop, and the journal has it at error priority.
		daemon("stop")
		holder := c.start(user, uid, c.bin+"/pace-telemetryd", "run", "--endpoint", endpoint)
		eventually(t, "the foreground daemon to hold the folder", func() bool {
			code, _ := c.run("test", "-e", folder+"/telemetryd.lock")
			return code == 0
		})
		time.Sleep(200 * time.Millisecond)
		daemon("start")
		eventually(t, "the unit to fail", func() bool { return show("ActiveState") == "failed" })
		if n := show("NRestarts"); n != "0" {
			t.Fatalf("restarted %s times after exit 3", n)
		}
		if _, out := daemon("status"); !strings.Contains(out, "failed") || !strings.Contains(out, "exit status 3") {
			t.Fatalf("status of a failed unit:\n%s", out)
		}
		_, journal := c.run("journalctl", "--no-pager", "-p", "err", "_UID="+uid, "SYSLOG_IDENTIFIER=pace-telemetryd")
		if !strings.Contains(journal, "already running") {
			t.Fatalf("journalctl -p err lacks the failure:\n%s", journal)
		}
		c.run("kill", "-TERM", holder)
		eventually(t, "the foreground daemon to exit", func() bool { code, _ := c.run("kill", "-0", holder); return code != 0 })

		// Uninstall a running service: stopped, unit and link gone.
		if code, out := daemon("start"); code != 0 {
			_, j := c.run("journalctl", "--no-pager", "-n", "30", "_UID="+uid)
			_, ps := c.run("ps", "aux")
			t.Fatalf("start: %d %s\n%s\n%s", code, out, j, ps)
		}
		eventually(t, "the unit to run", func() bool { return show("SubState") == "running" })
		if code, out := daemon("uninstall"); code != 0 {
			t.Fatalf("uninstall: %d %s", code, out)
		}
		if code, out := c.run("pgrep", "-u", user, "-f", "pace-telemetryd run"); code == 0 {
			t.Fatalf("a daemon runs after uninstall: %s", out)
		}
		for _, f := range []string{link, home + "/.config/systemd/user/pace-telemetryd.service"} {
			if code, _ := c.run("test", "-e", f); code == 0 {
				t.Fatalf("uninstall left %s", f)
			}
		}
		if _, out := daemon("status"); !strings.Contains(out, "not installed") {
			t.Fatalf("status after uninstall:\n%s", out)
		}
	})

	t.Run("system", func(t *testing.T) {
		if code, out := daemon("install", "--system"); code != 1 || !strings.Contains(out, "needs root") {
			t.Fatalf("--system as a user: %d %s", code, out)
		}
		// As root, on the user's folder: the service runs as the user.
		code, out := c.run(c.bin+"/pace-telemetryd", "install", "--system", "--config-path", folder, "--endpoint", endpoint, "--debounce=0", "--telemetry-upload-interval-seconds=0")
		if code != 0 || !strings.Contains(out, "runs as "+user) {
			t.Fatalf("install --system: %d %s", code, out)
		}
		if code, out := c.run(c.bin+"/pace-telemetryd", "start", "--system"); code != 0 {
			t.Fatalf("start --system: %d %s", code, out)
		}
		pace("version")
		eventually(t, "the counts from the system service", delivered)
		if _, out := c.run("ps", "-o", "user=", "-C", "pace-telemetryd"); strings.TrimSpace(out) != user {
			t.Fatalf("the system service runs as %q, want %s", out, user)
		}
		if _, out := c.run("stat", "-c", "%U", folder+"/telemetry-upload.json"); strings.TrimSpace(out) != user {
			t.Fatalf("state file owned by %q", out)
		}
		if _, out := c.as(user, uid, c.bin+"/pace", "telemetry", "status"); !strings.Contains(out, "last upload:") || strings.Contains(out, "unknown") {
			t.Fatalf("the user cannot read the service's state:\n%s", out)
		}
		if _, out := c.run(c.bin+"/pace-telemetryd", "status", "--system"); !strings.Contains(out, "running (systemd)") || !strings.Contains(out, r.url+"?…") {
			t.Fatalf("status --system:\n%s", out)
		}
		pace("version")
		if code, out := c.run(c.bin+"/pace-telemetryd", "uninstall", "--system"); code != 0 {
			t.Fatalf("uninstall --system: %d %s", code, out)
		}
		if !delivered() {
			t.Fatal("uninstall did not flush the last count")
		}
		if code, _ := c.run("pgrep", "-f", "pace-telemetryd run"); code == 0 {
			t.Fatal("a daemon runs after uninstall --system")
		}
		for _, f := range []string{"/etc/systemd/system/pace-telemetryd.service", "/etc/systemd/system/multi-user.target.wants/pace-telemetryd.service"} {
			if code, _ := c.run("test", "-e", f); code == 0 {
				t.Fatalf("uninstall left %s", f)
			}
		}
	})
}

// container is a booted systemd-nspawn container.
type container struct {
	pid  string // its init, for nsenter
	root string // /proc/<pid>/root: its file system, seen from here
	bin  string // this build's binaries, bound in
}

func bootContainer(t *testing.T) *container {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "needs root (to mount an overlay and boot a container)"
	}
	for _, tool := range []string{"systemd-nspawn", "unshare", "nsenter", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil && why == "" {
			why = tool + " is missing (Debian: systemd-container, util-linux)"
		}
	}
	for _, f := range []string{"/lib/systemd/systemd", "/usr/bin/dbus-daemon", "/usr/lib/systemd/user/dbus.socket"} {
		if _, err := os.Stat(f); err != nil && why == "" {
			why = f + " is missing (Debian: systemd, dbus-user-session)"
		}
	}
	if why != "" {
		testenv.Unavailable(t, "the real-systemd test "+why)
	}
	binDir := filepath.Dir(bin.daemon)
	if err := os.Chmod(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	// Every unit this machine enables is masked: the container runs
	// systemd and nothing else of ours.
	var masks []string
	for _, pattern := range []string{"/etc/systemd/system/*.wants/*"} {
		links, _ := filepath.Glob(pattern)
		for _, l := range links {
			name := filepath.Base(l)
			if !strings.HasSuffix(name, ".target") && !strings.HasPrefix(name, "systemd-") {
				masks = append(masks, "systemd.mask="+name)
			}
		}
	}
	script := `set -e
T="$1"; B="$2"; shift 2
mount -t tmpfs tmpfs "$T"
mkdir "$T/upper" "$T/work" "$T/root"
mount -t overlay overlay -o lowerdir=/,upperdir="$T/upper",workdir="$T/work" "$T/root"
rm -f "$T/root/.dockerenv"   # the service library takes it for a container without a manager
exec systemd-nspawn -q -D "$T/root" --register=no --keep-unit -M pace-systemd-test --console=passive --bind-ro="$B:/opt/pace-test" -b -- "$@"`
	cmd := exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "bash", "-c", script, "boot", tmp, binDir}, masks...)...)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	c := &container{bin: "/opt/pace-test"}
	t.Cleanup(func() {
		if c.pid != "" {
			c.run("systemctl", "poweroff")
		}
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	self := fmt.Sprint(cmd.Process.Pid)
	eventuallyFor(t, 30*time.Second, "the container's systemd to start", func() bool {
		select {
		case <-done:
			t.Fatalf("the container exited:\n%s", log.String())
		default:
		}
		kids, _ := os.ReadFile("/proc/" + self + "/task/" + self + "/children")
		for _, k := range strings.Fields(string(kids)) {
			if comm, _ := os.ReadFile("/proc/" + k + "/comm"); strings.TrimSpace(string(comm)) == "systemd" {
				c.pid, c.root = k, "/proc/"+k+"/root"
				return true
			}
		}
		return false
	})
	state := ""
	eventuallyFor(t, 60*time.Second, "the container's systemd to finish booting", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, _ := exec.CommandContext(ctx, "nsenter", "-t", c.pid, "-a", "systemctl", "is-system-running", "--wait").CombinedOutput()
		state = strings.TrimSpace(string(out))
		return state == "running" || state == "degraded"
	})
	return c
}

// run runs a command as root in the container.
func (c *container) run(args ...string) (int, string) {
	cmd := exec.Command("nsenter", append([]string{"-t", c.pid, "-a", "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"}, args...)...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		return -1, err.Error()
	}
	return 0, string(out)
}

func (c *container) must(t *testing.T, args ...string) string {
	t.Helper()
	code, out := c.run(args...)
	if code != 0 {
		t.Fatalf("%s: %d %s", strings.Join(args, " "), code, out)
	}
	return out
}

func (c *container) userCmd(user, uid string, args ...string) []string {
	return append([]string{"setpriv", "--reuid=" + uid, "--regid=" + uid, "--init-groups",
		"env", "-i", "PATH=/usr/bin:/bin", "HOME=/home/" + user, "USER=" + user,
		"XDG_RUNTIME_DIR=/run/user/" + uid, "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/" + uid + "/bus"}, args...)
}

// as runs a command as user in the container, in a user session's
// environment.
func (c *container) as(user, uid string, args ...string) (int, string) {
	return c.run(c.userCmd(user, uid, args...)...)
}

// start starts a command as user in the background; it returns its pid.
func (c *container) start(user, uid string, args ...string) string {
	code, out := c.run(append([]string{"bash", "-c", `"$@" >/dev/null 2>&1 </dev/null & echo $!`, "bash"}, c.userCmd(user, uid, args...)...)...)
	if code != 0 {
		return ""
	}
	return strings.TrimSpace(out)
}

// want is what a telemetry.yaml in the container holds.
func (c *container) want(t *testing.T, path string) map[string]uint64 {
	t.Helper()
	data, err := os.ReadFile(c.root + path)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "telemetry.yaml"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	return want(t, dir)
}

var eventuallyFor = testenv.EventuallyWithin
