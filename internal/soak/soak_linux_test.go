package soak

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pace-cli/pace/function/payload"
	"github.com/pace-cli/pace/function/servertest"
	"github.com/pace-cli/pace/internal/telemetry"
	"github.com/pace-cli/pace/internal/testenv"
)

var bin struct{ pace, daemon, receiver string }

func TestMain(m *testing.M) {
	bin.pace, bin.daemon, bin.receiver = servertest.MustBuild("../../cmd/pace"), servertest.MustBuild("../../cmd/pace-telemetryd"), servertest.MustBuild("../../function/cmd/receiver")
	os.Exit(servertest.Run(m))
}

// proc is a program the test starts, kills and starts again.
type proc struct {
	name string
	args []string
	env  []string
	addr string // for a server: wait until it listens here
	log  *servertest.SyncBuffer

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// start starts p. A server that exits before it listens (a receiver
// whose PostgreSQL is down exits at start) is started again, as its
// platform would, until it listens.
func (p *proc) start(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		done := p.launch(t)
		if p.addr == "" {
			return
		}
		for {
			c, err := net.Dial("tcp", p.addr)
			if err == nil {
				c.Close()
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%s not listening after 60 s:\n%s", p.name, tail(p.log.String(), 2000))
				return
			}
			select {
			case <-done:
			case <-time.After(20 * time.Millisecond):
				continue
			}
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ready waits until the receiver p answers its readiness probe: it opens
// its store on the first request that needs it, and tests that read the
// store's tables before any upload need them there.
func (p *proc) ready(t *testing.T) {
	t.Helper()
	testenv.EventuallyWithin(t, 60*time.Second, p.name+" to be ready", func() bool {
		resp, err := http.Get("http://" + p.addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func (p *proc) launch(t *testing.T) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.log == nil {
		p.log = &servertest.SyncBuffer{Max: 1 << 20} // keep the tail only
	}
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = p.log, p.log
	done := make(chan struct{})
	if err := cmd.Start(); err != nil {
		t.Error(err)
		close(done)
		return done
	}
	go func() { cmd.Wait(); close(done) }()
	p.cmd, p.done = cmd, done
	return done
}

// signal sends sig; SIGKILL and SIGTERM also wait for the exit.
func (p *proc) signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(sig)
	if sig == syscall.SIGKILL || sig == syscall.SIGTERM {
		<-p.done
		p.cmd = nil
	}
}

// install is one machine: its config folder, its endpoint and daemon.
type install struct {
	dir    string
	daemon *proc
	runs   atomic.Int64
}

// TestFaultSoak: 24 installs run pace and a daemon each; 16 upload
// through a balancer to two receivers on one PostgreSQL, 8 to a receiver
// on VictoriaMetrics. For a minute, receivers are killed -9 and restarted,
// PostgreSQL is crash-restarted, daemons are killed -9 or stopped and
// resumed. Then, with the daemons left to themselves, the stores must come
// to equal the installs' own files exactly; a final flush (SIGTERM) is
// checked after.
func TestFaultSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("a fault soak of about 80 s; not in -short")
	}
	vmBin := testenv.NeedTool(t, "victoria-metrics")
	pg := servertest.StartPostgres(t)
	dsn := pg.DSN("postgres")
	base := []string{"PATH=" + os.Getenv("PATH")}
	const idKey = "soak-key-0123456789abcdef"
	key := "TELEMETRY_ID_KEY=" + idKey

	vmAddr := testenv.FreeAddr(t)
	vm := &proc{name: "victoria-metrics", addr: vmAddr, env: base,
		args: []string{vmBin, "-httpListenAddr=" + vmAddr, "-storageDataPath=" + filepath.Join(t.TempDir(), "vm"), "-loggerLevel=WARN"}}
	vm.start(t)
	t.Cleanup(func() { vm.signal(syscall.SIGKILL) })

	receiver := func(name, sinkSpec string, extra ...string) *proc {
		addr := testenv.FreeAddr(t)
		p := &proc{name: name, addr: addr, args: []string{bin.receiver},
			env: append(append(base, "PORT="+strings.Split(addr, ":")[1], "TELEMETRY_SINK="+sinkSpec, "TELEMETRY_TIMEOUT=3"), extra...)}
		p.start(t)
		p.ready(t)
		t.Cleanup(func() { p.signal(syscall.SIGKILL) })
		return p
	}
	pg1 := receiver("receiver pg1", dsn, key)
	pg2 := receiver("receiver pg2", dsn, key)
	vmr := receiver("receiver vm", "prometheus+http://"+vmAddr+"/api/v1/write")

	// The balancer in front of the two PostgreSQL receivers: round robin,
	// a dead one answered 502, as a load balancer does.
	var turn atomic.Int64
	targets := []*url.URL{{Scheme: "http", Host: pg1.addr}, {Scheme: "http", Host: pg2.addr}}
	lb := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(targets[turn.Add(1)%2]) },
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "bad gateway", http.StatusBadGateway)
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: lb}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	const nPG, nVM = 16, 8
	var installs []*install
	for i := range nPG + nVM {
		in := &install{dir: t.TempDir()}
		endpoint := "http://" + ln.Addr().String() + "/"
		if i >= nPG {
			endpoint = "http://" + vmr.addr + "/"
		}
		in.daemon = &proc{name: fmt.Sprintf("daemon %d", i), env: base, args: []string{bin.daemon, "run", "--config-path", in.dir, "--endpoint", endpoint,
			"--debounce=0", "--backoff-base=100ms", "--backoff-max=1s", "--timeout=2s", "--telemetry-upload-interval-seconds=1"}}
		// A first run before the daemon starts, so that it has an id.
		runPace(in, "version")
		in.daemon.start(t)
		t.Cleanup(func() { in.daemon.signal(syscall.SIGKILL) })
		installs = append(installs, in)
	}

	// The runs: each install runs pace every 100-400 ms until stopped.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	commands := [][]string{{"version"}, {"telemetry", "status"}, {"lsit"}, {"version", "--help"}}
	for i, in := range installs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 21))
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Duration(100+rng.IntN(300)) * time.Millisecond):
				}
				runPace(in, commands[rng.IntN(len(commands))]...)
			}
		}()
	}

	// The faults, in turn, for about a minute.
	type fault struct {
		after time.Duration
		what  string
		do    func()
	}
	restart := func(p *proc, down time.Duration) func() {
		return func() { p.signal(syscall.SIGKILL); time.Sleep(down); p.start(t) }
	}
	pause := func(p *proc, d time.Duration) func() {
		return func() { p.signal(syscall.SIGSTOP); time.Sleep(d); p.signal(syscall.SIGCONT) }
	}
	crashPG := func(down time.Duration) func() {
		return func() {
			if err := pg.Crash(); err != nil {
				t.Error(err)
			}
			time.Sleep(down)
			if err := pg.Restart(); err != nil {
				t.Error(err)
			}
		}
	}
	both := func(fs ...func()) func() {
		return func() {
			var w sync.WaitGroup
			for _, f := range fs {
				w.Add(1)
				go func() { defer w.Done(); f() }()
			}
			w.Wait()
		}
	}
	faults := []fault{
		{4 * time.Second, "kill -9 receiver pg1", restart(pg1, time.Second)},
		{4 * time.Second, "SIGSTOP daemon 0 for 4 s", pause(installs[0].daemon, 4*time.Second)},
		{3 * time.Second, "PostgreSQL crash (immediate stop), 2 s down", crashPG(2 * time.Second)},
		{4 * time.Second, "kill -9 receiver vm", restart(vmr, time.Second)},
		{3 * time.Second, "kill -9 daemons 1, 2 and 17", both(restart(installs[1].daemon, time.Second), restart(installs[2].daemon, 2*time.Second), restart(installs[17].daemon, time.Second))},
		{4 * time.Second, "kill -9 both PostgreSQL receivers", both(restart(pg1, 1500*time.Millisecond), restart(pg2, time.Second))},
		{3 * time.Second, "PostgreSQL crash, and receiver pg2 killed while it is down", both(crashPG(3*time.Second), restart(pg2, 2*time.Second))},
		{4 * time.Second, "SIGSTOP daemons 3 and 20 for 5 s", both(pause(installs[3].daemon, 5*time.Second), pause(installs[20].daemon, 5*time.Second))},
		{3 * time.Second, "kill -9 receiver vm and daemon 4", both(restart(vmr, 2*time.Second), restart(installs[4].daemon, time.Second))},
		{4 * time.Second, "PostgreSQL crash, 1 s down, and kill -9 receiver pg1", both(crashPG(time.Second), restart(pg1, time.Second))},
		{3 * time.Second, "SIGSTOP daemon 5 for 3 s, kill -9 daemon 6", both(pause(installs[5].daemon, 3*time.Second), restart(installs[6].daemon, time.Second))},
	}
	began := time.Now()
	for _, f := range faults {
		time.Sleep(f.after)
		t.Logf("%5.1fs %s", time.Since(began).Seconds(), f.what)
		f.do()
	}
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()
	ranFor := time.Since(began)
	total := int64(0)
	for _, in := range installs {
		total += in.runs.Load()
	}

	// Left to themselves, the daemons deliver everything.
	c := connect(t, dsn)
	// PostgreSQL: the sums, and each install's own counts under its keyed
	// hash, computed here from the id and the key.
	pgWant, pgEach, vmWant := map[string]uint64{}, map[string]uint64{}, map[string]uint64{}
	for i, in := range installs {
		p, err := (&telemetry.Store{Dir: in.dir}).Load()
		if err != nil {
			t.Fatal(err)
		}
		for path, codes := range p.MetricPoints {
			for code, pt := range codes {
				if i < nPG {
					pgWant[fmt.Sprintf("%s/%d", path, code)] += pt.CumulativeCount
					m := hmac.New(sha256.New, []byte(idKey))
					m.Write([]byte(p.ID))
					pgEach[fmt.Sprintf("%x|%s/%d", m.Sum(nil), path, code)] = pt.CumulativeCount
				} else {
					vmWant[fmt.Sprintf("%s|%s|%s", p.ID, vmCommand(path), payload.ExitCodeTag(code))] = pt.CumulativeCount
				}
			}
		}
	}
	var pgGot, pgEachGot, vmGot map[string]uint64
	settled := time.Now()
	deadline := settled.Add(45 * time.Second)
	for {
		pgGot, pgEachGot, vmGot = pgSums(t, c), pgPerInstall(t, c), vmLast(t, vmAddr)
		if equal(pgGot, pgWant) && equal(pgEachGot, pgEach) && equal(vmGot, vmWant) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	byThemselves := time.Since(settled)
	t.Logf("%d installs, %d pace runs in %.0f s under %d faults; by themselves the daemons delivered %d of %d runs to PostgreSQL and %d of %d counters to VictoriaMetrics exactly, %.1f s after the runs stopped",
		len(installs), total, ranFor.Seconds(), len(faults), sum(pgGot), sum(pgWant), matching(vmGot, vmWant), len(vmWant), byThemselves.Seconds())
	if !equal(pgGot, pgWant) || !equal(vmGot, vmWant) {
		t.Errorf("the daemons did not deliver everything by themselves:\nPostgreSQL got %v\nwant %v\nVictoriaMetrics got %v\nwant %v", pgGot, pgWant, vmGot, vmWant)
	}
	if !equal(pgEachGot, pgEach) {
		t.Errorf("PostgreSQL's per-install counts (install_state) are not each install's own:\ngot  %v\nwant %v", pgEachGot, pgEach)
	}
	// The final flush changes nothing then, and the stores stay exact.
	for _, in := range installs {
		in.daemon.signal(syscall.SIGTERM)
	}
	if got := pgSums(t, c); !equal(got, pgWant) {
		t.Errorf("after the final flush PostgreSQL has %v, want %v", got, pgWant)
	}
	if got := pgPerInstall(t, c); !equal(got, pgEach) {
		t.Errorf("after the final flush PostgreSQL's per-install counts are %v, want %v", got, pgEach)
	}
	if got := vmLast(t, vmAddr); !equal(got, vmWant) {
		t.Errorf("after the final flush VictoriaMetrics has %v, want %v", got, vmWant)
	}
	if t.Failed() {
		for _, p := range []*proc{pg1, pg2, vmr, installs[0].daemon} {
			t.Logf("%s log (tail):\n%s", p.name, tail(p.log.String(), 3000))
		}
	}
}

func runPace(in *install, args ...string) {
	cmd := exec.Command(bin.pace, args...)
	cmd.Env = []string{"PACE_CONFIG_PATH=" + in.dir, "PACE_TELEMETRY_NOTICE=off"}
	cmd.Run() // exit codes are counted too
	in.runs.Add(1)
}

// vmCommand is the command label of a path (promwrite.Command).
func vmCommand(path string) string {
	if path == "pace" {
		return "pace"
	}
	return strings.TrimPrefix(path, "pace ")
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// pgSums is the runs of usage_daily per "path/code".
func pgSums(t *testing.T, c *pgx.Conn) map[string]uint64 {
	rows, err := c.Query(context.Background(), `SELECT path, exit_code, sum(runs)::bigint FROM usage_daily GROUP BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	var p string
	var code int32
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&p, &code, &n}, func() error { out[fmt.Sprintf("%s/%d", p, code)] = uint64(n); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// pgPerInstall is the installs' stored counts, "hex key|path/code" -> count.
func pgPerInstall(t *testing.T, c *pgx.Conn) map[string]uint64 {
	rows, err := c.Query(context.Background(), `SELECT install_key, t.* FROM install_state, unnest(counter_paths, counter_codes, counter_counts) AS t`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	var k []byte
	var p string
	var code int32
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&k, &p, &code, &n}, func() error { out[fmt.Sprintf("%x|%s/%d", k, p, code)] = uint64(n); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// vmLast is the last sample of every usage series, by its raw export,
// "id|command|exit_code".
func vmLast(t *testing.T, addr string) map[string]uint64 {
	client := &http.Client{Timeout: 10 * time.Second}
	if resp, err := client.Get("http://" + addr + "/internal/force_flush"); err == nil {
		resp.Body.Close()
	}
	resp, err := client.Get("http://" + addr + "/api/v1/export?match[]=pace_cli_invocations_total")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]uint64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var line struct {
			Metric     map[string]string `json:"metric"`
			Values     []float64         `json:"values"`
			Timestamps []int64           `json:"timestamps"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		last, at := 0.0, int64(-1)
		for i, ts := range line.Timestamps {
			if ts >= at {
				last, at = line.Values[i], ts
			}
		}
		m := line.Metric
		out[m["id"]+"|"+m["command"]+"|"+m["exit_code"]] = uint64(last)
	}
	return out
}

func equal(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func sum(m map[string]uint64) (n uint64) {
	for _, v := range m {
		n += v
	}
	return n
}

func matching(got, want map[string]uint64) (n int) {
	for k, v := range want {
		if g, ok := got[k]; ok && g == v {
			n++
		}
	}
	return n
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
