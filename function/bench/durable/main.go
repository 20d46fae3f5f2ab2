// Command durable measures the exact store as production runs it:
// PostgreSQL with its durable defaults (fsync, synchronous_commit and
// full_page_writes on), the receiver's real HTTP server (one or more
// builds of function/cmd/receiver, run as processes), and a fleet of
// installs each re-uploading its growing counts (20 counters) from its
// own address (X-Forwarded-For, the receiver run with
// TELEMETRY_SOURCE=xff-last), one upload of an install at a time.
//
// For each number of clients it runs every receiver in turn, each on a
// fresh database of the same server, and prints uploads/s, p50 and p99
// latency, and the CPU time of the receiver and of PostgreSQL per upload;
// then it checks that the store counted exactly the runs of the uploads
// it acknowledged (sum of usage_daily.runs). With two receivers it prints
// the ratio of the first to the second. bench/durable.sh drives it.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pace-cli/pace/function/receiver"
	"github.com/pace-cli/pace/function/servertest"
)

const counters = 20

func main() {
	receivers := flag.String("receivers", "", "name=path of receiver binaries, comma separated (the first is compared with the second)")
	clientList := flag.String("clients", "8,32,128", "numbers of concurrent clients")
	installs := flag.Int("installs", 5000, "installs in the fleet, each with its own address")
	warm := flag.Bool("warm", true, "store every install (its first upload) before the clock starts, so that what is timed is the fleet re-uploading")
	dur := flag.Duration("duration", 10*time.Second, "length of one run")
	rounds := flag.Int("rounds", 1, "runs of each receiver at each number of clients (the median is printed)")
	poolConns := flag.Int("pool", 0, "pool_max_conns of the receiver's DSN (0: the receiver's default)")
	flag.Parse()
	// The load shares the cores with what it measures: as the receiver
	// does (receiver.TuneGC), it collects less often.
	debug.SetGCPercent(receiver.GCPercent)
	var bins [][2]string
	for _, kv := range strings.Split(*receivers, ",") {
		name, path, ok := strings.Cut(kv, "=")
		if !ok {
			fail(fmt.Errorf("-receivers %q: want name=path", kv))
		}
		bins = append(bins, [2]string{name, path})
	}
	pg, err := servertest.NewPostgres(servertest.Setting("fsync", "on"), servertest.Setting("full_page_writes", "on"),
		servertest.Setting("synchronous_commit", "on"))
	if err != nil {
		fail(err)
	}
	defer pg.Stop()
	paths := receiver.Commands()[:counters]
	runN := 0
	for _, cs := range strings.Split(*clientList, ",") {
		clients, err := strconv.Atoi(cs)
		if err != nil {
			fail(err)
		}
		results := make([][]result, len(bins))
		for r := 0; r < *rounds; r++ {
			for i, b := range bins { // interleaved: each receiver under the same load of the machine
				runN++
				res, err := run(pg, fmt.Sprintf("bench%d", runN), b[1], clients, *installs, *warm, *dur, *poolConns, paths)
				if err != nil {
					pg.Stop()
					fail(fmt.Errorf("%s at %d clients: %v", b[0], clients, err))
				}
				results[i] = append(results[i], res)
			}
		}
		var meds []result
		for i, b := range bins {
			m := median(results[i])
			meds = append(meds, m)
			fmt.Printf("%-10s clients=%-4d uploads/s=%7.0f p50=%6.1fms p99=%6.1fms cpu/upload=%5.0fµs (receiver %4.0f, postgres %4.0f; load %4.0f) uploads=%d exact=yes\n",
				b[0], clients, m.rate, ms(m.p50), ms(m.p99), m.cpuRcv+m.cpuPG, m.cpuRcv, m.cpuPG, m.cpuLoad, m.n)
		}
		if len(meds) >= 2 {
			fmt.Printf("%-10s clients=%-4d %s/%s uploads/s ×%.2f, p99 ×%.2f, cpu/upload ×%.2f\n", "ratio", clients, bins[0][0], bins[1][0],
				meds[0].rate/meds[1].rate, float64(meds[0].p99)/float64(meds[1].p99), (meds[0].cpuRcv+meds[0].cpuPG)/(meds[1].cpuRcv+meds[1].cpuPG))
		}
	}
}

type result struct {
	rate          float64
	p50, p99      time.Duration
	cpuRcv, cpuPG float64 // µs per upload
	cpuLoad       float64 // µs per upload of this load generator
	n             int
}

func median(rs []result) result {
	slices.SortFunc(rs, func(a, b result) int {
		if a.rate < b.rate {
			return -1
		}
		if a.rate > b.rate {
			return 1
		}
		return 0
	})
	return rs[len(rs)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fail(err error) {
	fmt.Fprintf(os.Stderr, "durable: %v\n", err)
	os.Exit(1)
}

// run starts bin on a fresh database db and loads it for dur.
func run(pg *servertest.Postgres, db, bin string, clients, installs int, warm bool, dur time.Duration, poolConns int, paths []string) (result, error) {
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, pg.DSN("postgres"))
	if err != nil {
		return result{}, err
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		return result{}, err
	}
	var backend int
	if err := admin.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		return result{}, err
	}
	postmaster := parentOf(backend)
	dsn := pg.DSN(db)
	if poolConns > 0 {
		dsn += "&pool_max_conns=" + strconv.Itoa(poolConns)
	}
	port, err := freePort()
	if err != nil {
		return result{}, err
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "TELEMETRY_SINK="+dsn, "TELEMETRY_ID_KEY=durable-benchmark-key-0123456789",
		"TELEMETRY_SOURCE=xff-last")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &logs
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	if err := waitReady(url + "readyz"); err != nil {
		return result{}, fmt.Errorf("%v\n%s", err, logs.String())
	}

	// The fleet: an install is taken from the queue, uploads its next
	// round, and goes back; so one upload of an install at a time.
	queue := make(chan int, installs)
	for i := 0; i < installs; i++ {
		queue <- i
	}
	acked := make([]int64, installs) // rounds acknowledged per install
	addrs := make([]string, installs)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if warm {
		// Each install's first upload, untimed, by as many clients.
		first := make(chan int, installs)
		for i := range installs {
			first <- i
		}
		close(first)
		errs := make(chan error, clients)
		for range clients {
			go func() {
				c := &client{addr: addr}
				defer c.close()
				for i := range first {
					if err := c.post(addrs[i], appendUpload(nil, i, 1, paths)); err != nil {
						errs <- fmt.Errorf("warming up: %v", err)
						return
					}
					acked[i] = 1
				}
				errs <- nil
			}()
		}
		for range clients {
			if err := <-errs; err != nil {
				return result{}, err
			}
		}
	}
	lat := make([][]time.Duration, clients)
	var failed atomic.Int64
	var firstErr atomic.Value
	cpu0r, cpu0p, cpu0l := procCPU(cmd.Process.Pid), pgCPU(postmaster), procCPU(os.Getpid())
	start := time.Now()
	deadline := start.Add(dur)
	var wg sync.WaitGroup
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := &client{addr: addr}
			defer c.close()
			var body []byte
			for time.Now().Before(deadline) {
				i := <-queue
				round := acked[i] + 1
				body = appendUpload(body[:0], i, round, paths)
				t0 := time.Now()
				err := c.post(addrs[i], body)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				} else {
					lat[w] = append(lat[w], time.Since(t0))
					acked[i] = round
				}
				queue <- i
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpuR, cpuP, cpuL := procCPU(cmd.Process.Pid)-cpu0r, pgCPU(postmaster)-cpu0p, procCPU(os.Getpid())-cpu0l
	if failed.Load() > 0 {
		return result{}, fmt.Errorf("%d uploads failed, the first: %v", failed.Load(), firstErr.Load())
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return result{}, fmt.Errorf("no upload acknowledged")
	}
	var sent int64
	for _, r := range acked {
		sent += r * counters // each round adds one run to each counter
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return result{}, err
	}
	defer conn.Close(ctx)
	var stored int64
	if err := conn.QueryRow(ctx, `SELECT coalesce(sum(runs), 0)::bigint FROM usage_daily`).Scan(&stored); err != nil {
		return result{}, err
	}
	if stored != sent {
		return result{}, fmt.Errorf("the store counted %d runs, the acknowledged uploads carried %d", stored, sent)
	}
	n := len(all)
	pct := func(p float64) time.Duration { return all[min(n-1, int(p*float64(n)))] }
	return result{rate: float64(n) / elapsed.Seconds(), p50: pct(0.50), p99: pct(0.99),
		cpuRcv: cpuR.Seconds() * 1e6 / float64(n), cpuPG: cpuP.Seconds() * 1e6 / float64(n), cpuLoad: cpuL.Seconds() * 1e6 / float64(n), n: n}, nil
}

// client is one load client's keep-alive connection to the receiver. It
// writes each request's bytes itself and reads the answer with
// http.ReadResponse: net/http's client (a transport, its goroutines and
// channels per request) cost as much CPU per upload as the server, on
// the cores it measures.
type client struct {
	addr string
	conn net.Conn
	br   *bufio.Reader
	req  []byte
}

// post sends body as install from's upload and reads the answer: nil
// for a 200.
func (c *client) post(from string, body []byte) error {
	if c.conn == nil {
		conn, err := net.Dial("tcp", c.addr)
		if err != nil {
			return err
		}
		c.conn, c.br = conn, bufio.NewReader(conn)
	}
	c.req = append(c.req[:0], "POST / HTTP/1.1\r\nHost: "...)
	c.req = append(c.req, c.addr...)
	c.req = append(c.req, "\r\nContent-Type: application/json\r\nX-Forwarded-For: "...)
	c.req = append(c.req, from...)
	c.req = append(c.req, "\r\nContent-Length: "...)
	c.req = strconv.AppendInt(c.req, int64(len(body)), 10)
	c.req = append(c.req, "\r\n\r\n"...)
	c.req = append(c.req, body...)
	c.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.conn.Write(c.req); err != nil {
		c.close()
		return err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.close()
		return err
	}
	msg, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.Close {
		c.close()
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("answered %d: %s", resp.StatusCode, msg)
	}
	return err
}

func (c *client) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// appendUpload appends install i's upload of its given round, every
// counter at round, as payload.Payload.Marshal writes it (TestUploadShape),
// without its maps: the load shares the cores with what it measures.
func appendUpload(b []byte, i int, round int64, paths []string) []byte {
	b = append(b, `{"metric_points":{`...)
	for k, path := range paths {
		if k > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, path)
		b = append(b, `:{"0":{"cumulative_count":`...)
		b = strconv.AppendInt(b, round, 10)
		b = append(b, "}}"...)
	}
	b = append(b, `},"cli_version":"v1.25.0","operating_system":"linux","id":"00000000-0000-4000-8000-`...)
	id := strconv.AppendInt(nil, int64(i), 10)
	for range 12 - len(id) {
		b = append(b, '0')
	}
	b = append(b, id...)
	return append(b, `"}`...)
}

func waitReady(url string) error {
	for i := 0; i < 300; i++ {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the receiver at %s did not become ready", url)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

const tick = 100 // USER_HZ on Linux

// procCPU is a process's user and system time, its reaped children's
// included.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	var t int64
	for _, k := range []int{11, 12, 13, 14} { // utime stime cutime cstime
		v, _ := strconv.ParseInt(f[k], 10, 64)
		t += v
	}
	return time.Duration(t) * time.Second / tick
}

func parentOf(pid int) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	p, _ := strconv.Atoi(f[1])
	return p
}

// pgCPU is the CPU time of the postmaster and its processes.
func pgCPU(postmaster int) time.Duration {
	t := procCPU(postmaster)
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join("/proc", e.Name())); err == nil && parentOf(pid) == postmaster {
			t += procCPU(pid)
		}
	}
	return t
}
