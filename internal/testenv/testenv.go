// Package testenv holds the root module's own test helpers, one set for
// all its tests: waiting for a condition, tools a test needs (a skip with
// the reason, or a failure where CI or PACE_TEST_STRICT is set), pace's
// first-run notice as a terminal showed it, and a fake receiver with
// queued answers. What both modules' tests need (PostgreSQL, the
// programs built once, free ports, waiting for a listener, a
// synchronized buffer) is the receiver module's servertest; Strict,
// Unavailable and FreeAddr here are its.
// Only tests import it.
package testenv

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pace-cli/pace/function/servertest"
)

// Strict tells whether a test whose server or tool is missing must fail
// rather than skip: in CI, and under scripts/test.sh.
func Strict() bool { return servertest.Strict() }

// Unavailable skips t with the reason, or fails it when Strict.
func Unavailable(t testing.TB, why string) {
	t.Helper()
	servertest.Unavailable(t, why)
}

// NeedTool returns the path of a program the test needs.
func NeedTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Unavailable(t, name+" is not installed")
	}
	return p
}

// Eventually waits for cond, polling; the 30 s bound only keeps a bug
// from hanging the run.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	EventuallyWithin(t, 30*time.Second, what, cond)
}

// EventuallyWithin is Eventually with its own bound.
func EventuallyWithin(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// FreeAddr returns a loopback address nothing listens on (for now).
func FreeAddr(t testing.TB) string {
	t.Helper()
	return servertest.FreeAddr(t)
}

// Answer writes one answer of a fake receiver.
type Answer func(w http.ResponseWriter)

// Status answers code with header pairs (name, value, …) and a JSON error
// body as the receiver writes one.
func Status(code int, header ...string) Answer {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		io.WriteString(w, `{"error":"metric_points: no"}`)
	}
}

// Receiver is a fake receiver on loopback: it gives the queued answers in
// turn, then "OK" (200), and keeps every request and body.
type Receiver struct {
	URL    string
	Client *http.Client

	mu      sync.Mutex
	answers []Answer
	got     []*http.Request
	bodies  [][]byte
}

// NewReceiver starts a Receiver, closed when t ends.
func NewReceiver(t testing.TB, answers ...Answer) *Receiver {
	r := &Receiver{answers: answers}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	r.URL, r.Client = srv.URL, srv.Client()
	return r
}

func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.got = append(r.got, req)
	r.bodies = append(r.bodies, body)
	var answer Answer
	if len(r.answers) > 0 {
		answer, r.answers = r.answers[0], r.answers[1:]
	}
	r.mu.Unlock()
	if answer != nil {
		answer(w)
		return
	}
	io.WriteString(w, "OK")
}

// Queue adds answers after those still queued.
func (r *Receiver) Queue(answers ...Answer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answers = append(r.answers, answers...)
}

// Requests returns the requests so far, and their bodies.
func (r *Receiver) Requests() ([]*http.Request, [][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*http.Request{}, r.got...), append([][]byte{}, r.bodies...)
}

// ansiEscape matches the control sequences a console writes around text
// (wine's hides and shows the cursor).
var ansiEscape = regexp.MustCompile("\x1b\\[[0-9;?]*[A-Za-z]")

// CheckNotice checks pace's first-run notice as a terminal of cols
// columns showed it (captured by script(1)): wrapped to the width between
// words, and no word lost. Only a line holding the telemetry file's path
// (as pace printed it) may be longer: pace never breaks a path. (A console
// that breaks a line too long for it, as Windows' does, leaves pieces of
// the path: those are its own.)
func CheckNotice(t testing.TB, captured string, cols int, path string) {
	t.Helper()
	text := ansiEscape.ReplaceAllString(strings.ReplaceAll(captured, "\r", ""), "")
	if !strings.Contains(text, "pace counts the commands") {
		t.Fatalf("%d columns: no notice in %q", cols, captured)
	}
	lines := strings.Split(strings.TrimSpace(text), "\n")
	for _, line := range lines {
		if len(line) >= cols && line != path && !strings.HasSuffix(line, path+".") && !(len(line) == cols && strings.Contains(path, line)) {
			t.Errorf("%d columns: line of %d: %q", cols, len(line), line)
		}
	}
	if cols == 30 && len(lines) < 10 || cols == 200 && len(lines) > 4 {
		t.Errorf("%d columns: not wrapped to the width: %q", cols, lines)
	}
	if !strings.Contains(strings.Join(strings.Fields(text), " "), "hide this notice with PACE_TELEMETRY_NOTICE=off. This notice is shown once.") {
		t.Errorf("%d columns: words lost: %q", cols, text)
	}
}
