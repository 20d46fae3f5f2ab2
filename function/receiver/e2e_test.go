package receiver

// End-to-end tests against real Graphite servers (Debian's graphite-carbon,
// python3-whisper and victoria-metrics), started on loopback with free ports
// and their data in t.TempDir(). Without a server they fail when CI is set
// and are skipped otherwise.

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pace-cli/pace/function/internal/graphite"
	"github.com/pace-cli/pace/function/servertest"
)

// e2eWait bounds every wait for a server.
const e2eWait = 60 * time.Second

func needBinaries(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			servertest.Unavailable(t, fmt.Sprintf("%s is not installed: %v", name, err))
		}
	}
}

// startServer starts a server in the foreground, logging to dir, and stops
// it when the test ends. It returns once addr accepts connections.
func startServer(t *testing.T, dir, addr string, name string, args ...string) {
	t.Helper()
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(e2eWait)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			t.Fatalf("%s exited before listening on %s:\n%s", name, addr, readFile(dir, name+".log"))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not listening on %s after %v:\n%s", name, addr, e2eWait, readFile(dir, name+".log"))
		}
	}
}

func readFile(dir, name string) string {
	b, _ := os.ReadFile(filepath.Join(dir, name))
	return string(b)
}

// e2eBody has two known paths and one unknown, which must not be stored.
const e2eBody = `{"metric_points":{"pace version":{"0":{"cumulative_count":17}},"pace":{"1":{"cumulative_count":3}},"pace not-a-command":{"0":{"cumulative_count":9}}},"cli_version":"v1.16.0-rc.1","operating_system":"darwin","id":"` + testID + `"}`

// e2eWant maps each stored series, as its sorted tags, to its value.
var e2eWant = map[string]float64{
	"cli_version=v1.16.0-rc.1;cmd1=version;command=version;exit_code=0;id=" + testID + ";operating_system=darwin": 17,
	"cli_version=v1.16.0-rc.1;command=pace;exit_code=1;id=" + testID + ";operating_system=darwin":                 3,
}

// serveFunction runs the receiver with a carbon sink on loopback.
func serveFunction(t *testing.T, sinkAddr string, now time.Time) string {
	return serveWith(t, HandlerConfig{Store: &graphite.Sink{W: &graphite.CarbonSink{Addr: sinkAddr}, Interval: time.Hour}, Now: func() time.Time { return now }})
}

// serveWith runs the receiver with cfg's sink and clock, the id tag on,
// and an allow-list of "pace" and "pace version", on loopback.
func serveWith(t *testing.T, cfg HandlerConfig) string {
	t.Helper()
	cfg.Logger = NewLogger(io.Discard)
	cfg.Commands = []string{"pace", "pace version"}
	h, err := NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func postJSON(t *testing.T, url, body string) *http.Response {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(strings.NewReader(string(b)))
	return resp
}

func expectOK(t *testing.T, resp *http.Response) {
	t.Helper()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "OK" || resp.Header.Get(DroppedHeader) != "1" {
		t.Fatalf("got %d %q dropped=%q, want 200 OK dropped=1", resp.StatusCode, b, resp.Header.Get(DroppedHeader))
	}
}

func expectSinkDown(t *testing.T, resp *http.Response) {
	t.Helper()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), `"error":"sink:`) {
		t.Fatalf("sink down: got %d %q Retry-After=%q, want 503 with Retry-After", resp.StatusCode, b, resp.Header.Get("Retry-After"))
	}
}

// writeCarbonConf writes carbon.conf and storage-schemas.conf in dir for a
// carbon-cache on loopback that keeps its whisper files, at retentions,
// under dir/storage; extra holds more [cache] settings. It returns the
// plaintext and cache-query ports.
func writeCarbonConf(t *testing.T, dir, retentions, extra string) (linePort, queryPort int) {
	t.Helper()
	linePort, picklePort, queryPort := servertest.FreePort(t), servertest.FreePort(t), servertest.FreePort(t)
	conf := fmt.Sprintf(`[cache]
STORAGE_DIR = %[1]s
LOCAL_DATA_DIR = %[1]s/whisper
WHITELISTS_DIR = %[1]s/lists
CONF_DIR = %[2]s
LOG_DIR = %[2]s/log
PID_DIR = %[2]s
USER =
ENABLE_TAGS = True
DATABASE = whisper
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = 100000
MAX_CREATES_PER_MINUTE = 100000
ENABLE_UDP_LISTENER = False
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = %[3]d
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = %[4]d
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = %[5]d
%[6]s`, filepath.Join(dir, "storage"), dir, linePort, picklePort, queryPort, extra)
	if err := os.WriteFile(filepath.Join(dir, "carbon.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	schemas := "[pace]\npattern = .*\nretentions = " + retentions + "\n"
	if err := os.WriteFile(filepath.Join(dir, "storage-schemas.conf"), []byte(schemas), 0o644); err != nil {
		t.Fatal(err)
	}
	return linePort, queryPort
}

func TestE2ECarbon(t *testing.T) {
	needBinaries(t, "carbon-cache", "whisper-fetch")
	dir := t.TempDir()
	storage := filepath.Join(dir, "storage")
	linePort, _ := writeCarbonConf(t, dir, "1s:2h", "WHISPER_AUTOFLUSH = True\n")
	lineAddr := fmt.Sprintf("127.0.0.1:%d", linePort)
	now := time.Now().Truncate(time.Second)
	fn := serveFunction(t, lineAddr, now)

	// Carbon not running yet: the client is told to retry and keeps its data.
	expectSinkDown(t, postJSON(t, fn, e2eBody))

	startServer(t, dir, lineAddr, "carbon-cache", "--config="+filepath.Join(dir, "carbon.conf"), "--debug", "start")
	expectOK(t, postJSON(t, fn, e2eBody))

	// Carbon stores a tagged series at _tagged/h[0:3]/h[3:6]/h.wsp, h the
	// SHA-256 of the name with its tags sorted, so finding the file proves
	// the exact tag set.
	for tags, want := range e2eWant {
		name := graphite.MetricName + ";" + tags
		sum := sha256.Sum256([]byte(name))
		h := hex.EncodeToString(sum[:])
		file := filepath.Join(storage, "whisper", "_tagged", h[0:3], h[3:6], h+".wsp")
		got, ok := pollWhisper(t, file, now.Unix())
		if !ok {
			var files []string
			filepath.Walk(storage, func(p string, _ os.FileInfo, _ error) error { files = append(files, p); return nil })
			t.Fatalf("%s: no value at %d in %s; files:\n%s\ncarbon log:\n%s", name, now.Unix(), file, strings.Join(files, "\n"), readFile(dir, "carbon-cache.log"))
		}
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	// The unknown path made no series: only the two above exist.
	n := 0
	filepath.Walk(filepath.Join(storage, "whisper"), func(p string, _ os.FileInfo, _ error) error {
		if strings.HasSuffix(p, ".wsp") {
			n++
		}
		return nil
	})
	if n != len(e2eWant) {
		t.Errorf("carbon holds %d series, want %d", n, len(e2eWant))
	}
}

// pollWhisper waits for file to hold a value at ts and returns it.
func pollWhisper(t *testing.T, file string, ts int64) (float64, bool) {
	t.Helper()
	deadline := time.Now().Add(e2eWait)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(file); err == nil {
			out, err := exec.Command("whisper-fetch", "--json", fmt.Sprintf("--from=%d", ts-5), fmt.Sprintf("--until=%d", ts+5), file).Output()
			if err != nil {
				t.Fatalf("whisper-fetch %s: %v", file, err)
			}
			var r struct {
				Start, Step int64
				Values      []*float64
			}
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatalf("whisper-fetch output: %v\n%s", err, out)
			}
			for i, v := range r.Values {
				if r.Start+int64(i)*r.Step == ts && v != nil {
					return *v, true
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return 0, false
}

func TestE2EVictoriaMetrics(t *testing.T) {
	needBinaries(t, "victoria-metrics")
	dir := t.TempDir()
	graphiteAddr := fmt.Sprintf("127.0.0.1:%d", servertest.FreePort(t))
	httpAddr := fmt.Sprintf("127.0.0.1:%d", servertest.FreePort(t))
	now := time.Now().Truncate(time.Second)
	fn := serveFunction(t, graphiteAddr, now)

	expectSinkDown(t, postJSON(t, fn, e2eBody))

	startServer(t, dir, httpAddr, "victoria-metrics",
		"-graphiteListenAddr="+graphiteAddr, "-httpListenAddr="+httpAddr,
		"-storageDataPath="+filepath.Join(dir, "data"), "-loggerLevel=WARN")
	// The Graphite listener may open after the HTTP one.
	servertest.WaitListening(t, graphiteAddr)
	expectOK(t, postJSON(t, fn, e2eBody))

	// Tags become labels; the name becomes __name__.
	want := map[string]float64{}
	for tags, v := range e2eWant {
		want[tags] = v
	}
	deadline := time.Now().Add(e2eWait)
	var got map[string]float64
	for {
		got = exportVM(t, httpAddr, now.Unix())
		if reflect.DeepEqual(got, want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("VictoriaMetrics holds\n%v\nwant\n%v", got, want)
	}
}

// exportVM returns every pace series in VictoriaMetrics as sorted
// "label=value;…" (without __name__) -> value at ts.
func exportVM(t *testing.T, addr string, ts int64) map[string]float64 {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	if resp, err := client.Get("http://" + addr + "/internal/force_flush"); err == nil {
		resp.Body.Close()
	}
	q := url.Values{"match[]": {`{__name__="` + graphite.MetricName + `"}`}}
	resp, err := client.Get("http://" + addr + "/api/v1/export?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("export: %s", resp.Status)
	}
	got := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			Metric     map[string]string
			Values     []float64
			Timestamps []int64
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		if line.Metric["__name__"] != graphite.MetricName {
			t.Fatalf("export: unexpected series %v", line.Metric)
		}
		var labels []string
		for k, v := range line.Metric {
			if k != "__name__" {
				labels = append(labels, k+"="+v)
			}
		}
		sort.Strings(labels)
		for i, tsMillis := range line.Timestamps {
			if tsMillis == ts*1000 {
				got[strings.Join(labels, ";")] = line.Values[i]
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}
