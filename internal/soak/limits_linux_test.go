package soak

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pace-cli/pace/function/servertest"
	"github.com/pace-cli/pace/internal/telemetry"
	"github.com/pace-cli/pace/internal/testenv"
)

// pgWant is what the files of installs hold, per "path/code", summed.
func pgWant(t *testing.T, ins ...*install) map[string]uint64 {
	out := map[string]uint64{}
	for _, in := range ins {
		p, err := (&telemetry.Store{Dir: in.dir}).Load()
		if err != nil {
			t.Fatal(err)
		}
		for path, codes := range p.MetricPoints {
			for code, pt := range codes {
				out[fmt.Sprintf("%s/%d", path, code)] += pt.CumulativeCount
			}
		}
	}
	return out
}

func status(t *testing.T, in *install, endpoint string) string {
	cmd := exec.Command(bin.daemon, "status", "--config-path", in.dir, "--endpoint", endpoint)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + in.dir}
	out, _ := cmd.CombinedOutput()
	return string(out)
}

// TestDaemonWaitsOutNewInstallsBound: a receiver that takes one new
// install per address a day answers the second install's daemon 429 with
// Retry-After until the next UTC day. The daemon then waits (it does not
// retry sooner, even restarted), its counts are kept, and status says why.
// When the retry time comes (the test moves it to now, and gives the
// receiver the new day's allowance) it delivers all it kept.
func TestDaemonWaitsOutNewInstallsBound(t *testing.T) {
	// The receiver's day is the real one: keep the test inside one.
	if left := time.Until(time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)); left < 3*time.Minute {
		time.Sleep(left + 2*time.Second)
	}
	pg := servertest.StartPostgres(t)
	addr := testenv.FreeAddr(t)
	base := []string{"PATH=" + os.Getenv("PATH")}
	receiver := func(newPerSource string) *proc {
		p := &proc{name: "receiver", addr: addr, args: []string{bin.receiver}, env: append(base, "PORT="+strings.Split(addr, ":")[1],
			"TELEMETRY_SINK="+pg.DSN("postgres"), "TELEMETRY_ID_KEY=limits-key-0123456789abcdef", "TELEMETRY_PG_NEW_INSTALLS_PER_SOURCE="+newPerSource)}
		p.start(t)
		p.ready(t)
		t.Cleanup(func() { p.signal(syscall.SIGKILL) })
		return p
	}
	rec := receiver("1")
	endpoint := "http://" + addr + "/"
	daemon := func(in *install) *proc {
		p := &proc{name: "daemon", env: base, args: []string{bin.daemon, "run", "--config-path", in.dir, "--endpoint", endpoint,
			"--debounce=0", "--backoff-base=50ms", "--backoff-max=300ms", "--timeout=2s", "--telemetry-upload-interval-seconds=1"}}
		p.start(t)
		t.Cleanup(func() { p.signal(syscall.SIGKILL) })
		return p
	}
	a, b := &install{dir: t.TempDir()}, &install{dir: t.TempDir()}
	runPace(a, "version")
	runPace(b, "version")
	runPace(b, "lsit")
	daemon(a)
	c := connect(t, pg.DSN("postgres"))
	testenv.Eventually(t, "the first install to arrive", func() bool { return equal(pgSums(t, c), pgWant(t, a)) })
	db := daemon(b)
	testenv.Eventually(t, "the second install's daemon to be told to wait", func() bool { return strings.Contains(db.log.String(), "429") })
	log := db.log.String()
	m := regexp.MustCompile(`retrying at (\S+)`).FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("daemon log:\n%s", log)
	}
	at, err := time.Parse(time.RFC3339, m[1])
	midnight := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	if err != nil || at.Before(midnight.Add(-time.Second)) || at.After(midnight.Add(11*time.Minute)) {
		t.Fatalf("the daemon retries at %s, want the next UTC day (%s) plus at most 10 minutes of jitter", m[1], midnight)
	}
	st := status(t, b, endpoint)
	t.Logf("pace-telemetryd status while told to wait:\n%s", st)
	for _, want := range []string{"429", "too many uploads from this address (new_installs)", "1 failures in a row"} {
		if !strings.Contains(st, want) {
			t.Errorf("status lacks %q", want)
		}
	}
	// More runs, a restart: it still waits, and sends nothing meanwhile.
	runPace(b, "version")
	db.signal(syscall.SIGKILL)
	db = daemon(b)
	time.Sleep(3 * time.Second)
	if strings.Contains(db.log.String(), "upload failed") || strings.Contains(db.log.String(), "uploaded to") {
		t.Fatalf("restarted, the daemon did not wait:\n%s", db.log.String())
	}
	if got := pgSums(t, c); !equal(got, pgWant(t, a)) {
		t.Fatalf("the store has %v, want only the first install's %v", got, pgWant(t, a))
	}

	// The next day, as far as both sides can tell: the receiver admits the
	// address's second new install (the day's allowance of one, anew), and
	// the daemon's retry time is now. It retries and delivers everything,
	// the runs made while it waited included.
	db.signal(syscall.SIGKILL)
	rec.signal(syscall.SIGKILL)
	receiver("2")
	statePath := filepath.Join(b.dir, "telemetry-upload.json")
	raw, err := os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}
	var state map[string]any
	if err := json.Unmarshal(raw, &state); err != nil || state["retry_at"] == nil {
		t.Fatalf("the daemon's state has no retry time (%v): %s", err, raw)
	}
	state["retry_at"] = time.Now().UTC().Format(time.RFC3339Nano)
	if raw, err = json.Marshal(state); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(statePath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	db = daemon(b)
	testenv.Eventually(t, "the waiting install to arrive once its retry time came", func() bool { return equal(pgSums(t, c), pgWant(t, a, b)) })
	if st := status(t, b, endpoint); !regexp.MustCompile(`last error:\s+none`).MatchString(st) || !regexp.MustCompile(`pending:\s+no:`).MatchString(st) || regexp.MustCompile(`last upload:\s+never`).MatchString(st) {
		t.Errorf("status after the delivery:\n%s", st)
	}
}

// TestDaemonsRetryAfter429: a receiver whose per-address bucket takes one
// upload every 3 s; four daemons behind one address start at once. The
// refused ones are told Retry-After, wait it out, and all arrive, exactly.
func TestDaemonsRetryAfter429(t *testing.T) {
	pg := servertest.StartPostgres(t)
	addr := testenv.FreeAddr(t)
	base := []string{"PATH=" + os.Getenv("PATH")}
	rec := &proc{name: "receiver", addr: addr, args: []string{bin.receiver}, env: append(base, "PORT="+strings.Split(addr, ":")[1],
		"TELEMETRY_SINK="+pg.DSN("postgres"), "TELEMETRY_ID_KEY=limits-key-0123456789abcdef", "TELEMETRY_SOURCE_RATE=0.34", "TELEMETRY_SOURCE_BURST=1")}
	rec.start(t)
	rec.ready(t)
	t.Cleanup(func() { rec.signal(syscall.SIGKILL) })
	endpoint := "http://" + addr + "/"
	var ins []*install
	var ds []*proc
	for i := range 4 {
		in := &install{dir: t.TempDir()}
		for range 1 + i {
			runPace(in, "version")
		}
		runPace(in, "lsit")
		ins = append(ins, in)
	}
	for _, in := range ins {
		p := &proc{name: "daemon", env: base, args: []string{bin.daemon, "run", "--config-path", in.dir, "--endpoint", endpoint,
			"--debounce=0", "--backoff-base=50ms", "--backoff-max=300ms", "--timeout=2s"}}
		p.start(t)
		t.Cleanup(func() { p.signal(syscall.SIGKILL) })
		ds = append(ds, p)
	}
	c := connect(t, pg.DSN("postgres"))
	start := time.Now()
	testenv.Eventually(t, "every install to arrive", func() bool { return equal(pgSums(t, c), pgWant(t, ins...)) })
	told := 0
	for _, d := range ds {
		if strings.Contains(d.log.String(), "429 Too Many Requests") {
			told++
		}
	}
	if told < 2 {
		t.Fatalf("%d daemons were answered 429, want at least 2 (the bucket takes one upload per 3 s)", told)
	}
	var n int64
	c.QueryRow(t.Context(), `SELECT coalesce(sum(uploads), 0)::bigint FROM receiver_health WHERE outcome = 'rate_limited' AND reason = 'source_rate'`).Scan(&n)
	t.Logf("%d of 4 daemons answered 429 (%d times in all), all delivered after %.1f s", told, n, time.Since(start).Seconds())
	if n < int64(told) {
		t.Fatalf("receiver_health holds %d rate-limited uploads, want at least %d", n, told)
	}
}
