// Package servertest holds what tests of both modules (the root module's
// and the receiver's) need to run real servers and programs, as
// net/http/httptest does for net/http: a PostgreSQL server (Postgres),
// the programs built once per test binary (Program), free loopback
// ports, waiting for a listener, and a buffer safe for a process's or a
// logger's goroutines. Only tests and test programs (benchmarks) import it.
//
// A test binary that uses the shared PostgreSQL or Program lets Run run
// its tests, so that the server is stopped and the programs removed at
// the end:
//
//	func TestMain(m *testing.M) { os.Exit(servertest.Run(m)) }
//
// A server or tool a test needs that is missing skips the test, saying
// why, except where Strict (CI, or PACE_TEST_STRICT as scripts/test.sh
// sets it): there it fails.
package servertest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
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

var running atomic.Bool

// Run runs the tests, then stops the shared PostgreSQL and removes the
// programs Program and MustBuild made; it returns m.Run's exit code.
func Run(m *testing.M) int {
	running.Store(true)
	code := m.Run()
	stopSharedPostgres()
	removePrograms()
	return code
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// FreePort returns a loopback port nothing listens on (for now).
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// FreeAddr returns a loopback address, 127.0.0.1:port, nothing listens
// on (for now).
func FreeAddr(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", FreePort(t))
}

// WaitListening waits until addr accepts a TCP connection; the 60 s bound
// only keeps a server that never comes up from hanging the run.
func WaitListening(t testing.TB, addr string) {
	t.Helper()
	const bound = 60 * time.Second
	deadline := time.Now().Add(bound)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listening on %s after %v: %v", addr, bound, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// SyncBuffer is a buffer that a process's or a logger's goroutines write
// while the test reads it. With Max set, it keeps only about the last Max
// bytes (a long run's log).
type SyncBuffer struct {
	Max int

	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Max > 0 && s.b.Len() > s.Max {
		s.b.Next(s.b.Len() / 2)
	}
	return s.b.Write(p)
}

// String returns what was written (its tail, with Max).
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
