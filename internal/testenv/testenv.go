// Package testenv holds the root module's test helpers, one set for all
// its tests: waiting for a condition, free loopback ports, tools a test
// needs (a skip with the reason, or a failure where CI or
// PACE_TEST_STRICT is set), and a fake receiver with queued answers.
// Only tests import it.
package testenv

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// Strict tells whether a test whose server or tool is missing must fail
// rather than skip: in CI, and under scripts/test.sh.
func Strict() bool { return os.Getenv("CI") != "" || os.Getenv("PACE_TEST_STRICT") != "" }

// Unavailable skips t with the reason, or fails it when Strict.
func Unavailable(t testing.TB, why string) {
	t.Helper()
	if Strict() {
		t.Fatalf("cannot run: %s (scripts/test.sh installs what the tests need)", why)
	}
	t.Skipf("cannot run: %s (scripts/test.sh installs what the tests need)", why)
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
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
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
