package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/pace-cli/pace/function/servertest"
	"github.com/pace-cli/pace/internal/telemetry"
	"github.com/pace-cli/pace/internal/testenv"
)

// These tests run the real binaries: pace, pace-telemetryd, and the
// receiver from function/ (function/cmd/receiver) with its stdout sink, all on
// loopback.

var bin struct{ pace, daemon, receiver string }

// binDirEnv names, in a re-run test process, the folder of the binaries.
const binDirEnv = "PACE_TEST_BIN_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(binDirEnv); dir != "" {
		// A test re-run in a private mount namespace (policy_linux_test.go)
		// uses the binaries its parent built, side by side in one folder.
		bin.pace, bin.daemon, bin.receiver = filepath.Join(dir, "pace"), filepath.Join(dir, "pace-telemetryd"), filepath.Join(dir, "receiver")
		os.Exit(m.Run())
	}
	bin.pace, bin.daemon, bin.receiver = servertest.MustBuild("../pace"), servertest.MustBuild("."), servertest.MustBuild("../../function/cmd/receiver")
	os.Exit(servertest.Run(m))
}

var (
	eventually = testenv.Eventually
	freePort   = testenv.FreeAddr
)

// receiver is the real receiver process with its stdout sink.
type receiver struct {
	url    string
	series string // file of carbon plaintext lines
}

func startReceiver(t *testing.T) *receiver {
	t.Helper()
	addr := freePort(t)
	r := &receiver{url: "http://" + addr + "/", series: filepath.Join(t.TempDir(), "series.txt")}
	out, err := os.Create(r.series)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin.receiver)
	cmd.Env = append(os.Environ(), "PORT="+strings.Split(addr, ":")[1], "TELEMETRY_SINK=stdout")
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); out.Close() })
	eventually(t, "the receiver to listen", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return r
}

// counts reads the latest value of each series the receiver wrote, keyed
// "command exit_code".
func (r *receiver) counts(t *testing.T) map[string]uint64 {
	data, err := os.ReadFile(r.series)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			continue
		}
		tags := map[string]string{}
		for _, kv := range strings.Split(fields[0], ";")[1:] {
			k, v, _ := strings.Cut(kv, "=")
			tags[k] = v
		}
		n, _ := strconv.ParseUint(fields[1], 10, 64)
		got[tags["command"]+" "+tags["exit_code"]] = n
	}
	return got
}

// want is what telemetry.yaml holds, in the receiver's terms.
func want(t *testing.T, dir string) map[string]uint64 {
	p, err := (&telemetry.Store{Dir: dir}).Load()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]uint64{}
	for path, codes := range p.MetricPoints {
		cmd := strings.ReplaceAll(strings.TrimPrefix(path, "pace "), " ", ".")
		if path == "pace" {
			cmd = "pace"
		}
		for code, pt := range codes {
			m[fmt.Sprintf("%s %d", cmd, code)] = pt.CumulativeCount
		}
	}
	return m
}

func equal(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func runPace(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin.pace, args...)
	cmd.Env = []string{"PACE_CONFIG_PATH=" + dir}
	cmd.Run() // exit codes are part of what is counted
}

// daemonCmd runs pace-telemetryd with env and returns its exit code and
// combined output.
func daemonCmd(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	return runProgram(t, env, bin.daemon, args...)
}

// runProgram runs prog with env and returns its exit code and combined
// output; a program that cannot be started fails the test.
func runProgram(t *testing.T, env []string, prog string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// daemon is a running pace-telemetryd.
type daemon struct {
	cmd *exec.Cmd
	log *servertest.SyncBuffer
}

var fastRetries = []string{"--debounce=0", "--backoff-base=50ms", "--backoff-max=300ms", "--timeout=500ms", "--telemetry-upload-interval-seconds=1"}

func startDaemon(t *testing.T, dir, endpoint string, args ...string) *daemon {
	t.Helper()
	d := &daemon{log: &servertest.SyncBuffer{}}
	d.cmd = exec.Command(bin.daemon, append([]string{"run", "--config-path", dir, "--endpoint", endpoint}, args...)...)
	d.cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	d.cmd.Stderr = d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.cmd.Process.Kill(); d.cmd.Wait() })
	return d
}

func TestCountsArrive(t *testing.T) {
	r := startReceiver(t)
	dir := t.TempDir()
	runPace(t, dir, "version")
	runPace(t, dir, "version")
	runPace(t, dir, "lsit", "tables")
	startDaemon(t, dir, r.url, fastRetries...)
	eventually(t, "the counts to arrive", func() bool { return equal(r.counts(t), want(t, dir)) })
	got := r.counts(t)
	if got["version 0"] != 2 || got["pace 2"] != 1 {
		t.Fatalf("receiver has %v", got)
	}
	// Later runs arrive too, without a restart.
	runPace(t, dir, "version")
	runPace(t, dir, "telemetry", "status")
	eventually(t, "later counts to arrive", func() bool { return equal(r.counts(t), want(t, dir)) })
	if got := r.counts(t); got["version 0"] != 3 || got["telemetry.status 0"] != 1 {
		t.Fatalf("receiver has %v", got)
	}
}

// faulty stands between the daemon and the receiver and fails on purpose.
type faulty struct {
	mu      sync.Mutex
	faults  []string // "500", "429", "hang", "" (pass), in turn; then pass
	seen    []string
	release chan struct{}
	proxy   *httputil.ReverseProxy
}

func newFaulty(t *testing.T, target string, faults ...string) *faulty {
	u, _ := url.Parse(target)
	return &faulty{faults: faults, proxy: httputil.NewSingleHostReverseProxy(u), release: make(chan struct{})}
}

func (f *faulty) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	fault := ""
	if len(f.faults) > 0 {
		fault, f.faults = f.faults[0], f.faults[1:]
	}
	f.seen = append(f.seen, fault)
	f.mu.Unlock()
	switch fault {
	case "500":
		http.Error(w, "boom", 500)
	case "429":
		w.Header().Set("Retry-After", "1")
		http.Error(w, "slow down", 429)
	case "hang":
		select {
		case <-r.Context().Done():
		case <-f.release:
		}
	default:
		f.proxy.ServeHTTP(w, r)
	}
}

func (f *faulty) done() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.faults) == 0
}

// Receiver down (connection refused), then answering 500, 429 with
// Retry-After, and hanging past the timeout, then well: everything
// arrives, with the values telemetry.yaml holds.
func TestFailuresThenRecovery(t *testing.T) {
	r := startReceiver(t)
	dir := t.TempDir()
	runPace(t, dir, "version")
	addr := freePort(t) // nothing listens here yet: connection refused
	d := startDaemon(t, dir, "http://"+addr+"/", fastRetries...)
	eventually(t, "a refused connection", func() bool { return strings.Contains(d.log.String(), "connection refused") })
	runPace(t, dir, "version")

	f := newFaulty(t, r.url, "500", "429", "hang", "500")
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: f}
	go srv.Serve(l)
	defer srv.Close()
	runPace(t, dir, "bogus")
	eventually(t, "every fault to be served", f.done)
	runPace(t, dir, "version")
	eventually(t, "the counts to arrive", func() bool { return equal(r.counts(t), want(t, dir)) })
	if got := r.counts(t); got["version 0"] != 3 || got["pace 2"] != 1 {
		t.Fatalf("receiver has %v", got)
	}
	eventually(t, "the daemon to log the delivery", func() bool { return strings.Contains(d.log.String(), "uploaded to") })
	log := d.log.String()
	for _, w := range []string{"connection refused", "500 Internal Server Error", "429 Too Many Requests", "Timeout"} {
		if !strings.Contains(log, w) {
			t.Errorf("daemon log lacks %q:\n%s", w, log)
		}
	}
	sent, _ := os.ReadFile(filepath.Join(dir, "telemetry-sent.log"))
	if !strings.Contains(string(sent), "HTTP 429") || !strings.Contains(string(sent), "HTTP 200: delivered") {
		t.Errorf("sent log:\n%s", sent)
	}
}

// SIGKILL while an upload hangs, start again: the data still arrives.
func TestKilledMidUploadThenRestarted(t *testing.T) {
	r := startReceiver(t)
	dir := t.TempDir()
	runPace(t, dir, "version")
	f := newFaulty(t, r.url, "hang")
	srv := &http.Server{Handler: f}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(l)
	defer srv.Close()
	endpoint := "http://" + l.Addr().String() + "/"
	d := startDaemon(t, dir, endpoint, "--debounce=0", "--timeout=1h")
	eventually(t, "the upload to hang", f.done)
	d.cmd.Process.Signal(syscall.SIGKILL)
	d.cmd.Wait()
	startDaemon(t, dir, endpoint, "--debounce=0")
	eventually(t, "the counts to arrive after the restart", func() bool { return equal(r.counts(t), want(t, dir)) })
}

func TestSecondDaemonRefuses(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir, "http://127.0.0.1:1/")
	eventually(t, "the first daemon to start", func() bool { return strings.Contains(d.log.String(), "watching") })
	cmd := exec.Command(bin.daemon, "run", "--config-path", dir, "--endpoint", "http://127.0.0.1:1/")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 || !strings.Contains(string(out), "already running") {
		t.Fatalf("second daemon: %v\n%s", err, out)
	}
	// Under launchd (whose KeepAlive would respawn any failure) the plist
	// asks for 0 instead.
	out, err = exec.Command(bin.daemon, "run", "--config-path", dir, "--endpoint", "http://127.0.0.1:1/", "--held-exit-code=0").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "already running") {
		t.Fatalf("second daemon with --held-exit-code=0: %v\n%s", err, out)
	}
}

// SIGTERM: one last bounded upload, then exit 0. A second signal while
// that upload hangs exits at once.
func TestSignals(t *testing.T) {
	r := startReceiver(t)
	dir := t.TempDir()
	runPace(t, dir, "version")
	d := startDaemon(t, dir, r.url, "--debounce=0", "--telemetry-upload-interval-seconds=3600")
	eventually(t, "the first upload", func() bool { return equal(r.counts(t), want(t, dir)) })
	runPace(t, dir, "version") // waits for the interval: pending at shutdown
	d.cmd.Process.Signal(syscall.SIGTERM)
	if err := d.cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, d.log)
	}
	if !equal(r.counts(t), want(t, dir)) {
		t.Fatalf("the last flush did not deliver: %v, want %v", r.counts(t), want(t, dir))
	}

	// The first signal cancels the hanging upload; the last one hangs too.
	f := newFaulty(t, r.url, "hang", "hang")
	srv := &http.Server{Handler: f}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(l)
	defer srv.Close()
	runPace(t, dir, "version")
	d = startDaemon(t, dir, "http://"+l.Addr().String()+"/", "--debounce=0", "--timeout=1h", "--telemetry-upload-interval-seconds=1")
	eventually(t, "the upload to hang", func() bool { f.mu.Lock(); defer f.mu.Unlock(); return len(f.seen) == 1 })
	d.cmd.Process.Signal(syscall.SIGTERM)
	eventually(t, "the last upload to hang", f.done)
	d.cmd.Process.Signal(syscall.SIGTERM)
	err := d.cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Fatalf("second signal: %v\n%s", err, d.log)
	}
}

func TestFlushExitCodes(t *testing.T) {
	r := startReceiver(t)
	dir := t.TempDir()
	flush := func(args ...string) (int, string) {
		return daemonCmd(t, []string{"PATH=" + os.Getenv("PATH")}, append([]string{"flush", "--config-path", dir}, args...)...)
	}
	if code, out := flush("--endpoint", r.url); code != 0 || !strings.Contains(out, "Nothing to send") {
		t.Fatalf("no counts: %d %s", code, out)
	}
	runPace(t, dir, "version")
	if code, out := flush(); code != 1 || !strings.Contains(out, "no endpoint is set") {
		t.Fatalf("no endpoint: %d %s", code, out)
	}
	if code, out := flush("--endpoint", r.url); code != 0 || !strings.Contains(out, "Delivered") {
		t.Fatalf("deliver: %d %s", code, out)
	}
	if code, out := flush("--endpoint", r.url); code != 0 || !strings.Contains(out, "Nothing to send") {
		t.Fatalf("unchanged: %d %s", code, out)
	}
	runPace(t, dir, "version")
	if code, out := flush("--endpoint", "http://"+freePort(t)+"/"); code != 1 || !strings.Contains(out, "refused") {
		t.Fatalf("receiver down: %d %s", code, out)
	}
	refuse := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"id: not a UUID"}`, 400)
	})}
	rl, _ := net.Listen("tcp", "127.0.0.1:0")
	go refuse.Serve(rl)
	defer refuse.Close()
	if code, out := flush("--endpoint", "http://"+rl.Addr().String()+"/"); code != 1 || !strings.Contains(out, "400 Bad Request") || !strings.Contains(out, "not a UUID") {
		t.Fatalf("receiver refusing: %d %s", code, out)
	}
	runPace(t, dir, "telemetry", "local")
	runPace(t, dir, "version")
	if code, out := flush("--endpoint", r.url); code != 0 || !strings.Contains(out, "telemetry is local") {
		t.Fatalf("local mode: %d %s", code, out)
	}
	if got := r.counts(t)["version 0"]; got != 1 {
		t.Fatalf("receiver has version=%d; only the first flush should have delivered", got)
	}
}
