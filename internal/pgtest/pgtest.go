// Package pgtest starts a real PostgreSQL server for tests: on 127.0.0.1,
// on a free port, in a temporary folder, with trust authentication.
//
// PostgreSQL refuses to run as root, so as root it runs as the postgres
// user (Debian's package makes it) in a folder that user owns.
package pgtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Server is a running PostgreSQL.
type Server struct {
	Port int
	dir  string
	bin  string
	opts string
}

// DSN connects as the superuser postgres to database db.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, db)
}

var (
	once    sync.Mutex
	shared  *Server
	lastErr error
)

// Shared returns the package's server, starting it on first use. Call
// Stop from TestMain after m.Run. Without PostgreSQL installed the test
// fails under CI (which installs it) and is skipped elsewhere.
func Shared(t testing.TB) *Server {
	t.Helper()
	once.Lock()
	defer once.Unlock()
	if shared == nil && lastErr == nil {
		shared, lastErr = start()
	}
	if lastErr != nil {
		if os.Getenv("CI") == "" && os.Getenv("PACE_TEST_STRICT") == "" && strings.Contains(lastErr.Error(), "not installed") {
			t.Skip(lastErr)
		}
		t.Fatal(lastErr)
	}
	return shared
}

// Stop stops the shared server, if one was started.
func Stop() {
	once.Lock()
	defer once.Unlock()
	if shared != nil {
		shared.stop()
		shared = nil
	}
}

func start() (*Server, error) {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(found) == 0 {
		return nil, fmt.Errorf("PostgreSQL is not installed (Debian package postgresql; .ci/run installs it)")
	}
	sort.Strings(found)
	s := &Server{bin: filepath.Dir(found[len(found)-1])}
	dir, err := os.MkdirTemp("", "pace-pg-")
	if err != nil {
		return nil, err
	}
	s.dir = dir
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root, PostgreSQL needs the postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.Port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	data := filepath.Join(dir, "data")
	if out, err := s.run("initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	s.opts = fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c full_page_writes=off", s.Port, dir)
	if err := s.Restart(); err != nil {
		return nil, err
	}
	return s, nil
}

// Start starts a server of the test's own, which it may crash and
// restart; it is removed when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := start()
	if err != nil {
		if os.Getenv("CI") == "" && os.Getenv("PACE_TEST_STRICT") == "" && strings.Contains(err.Error(), "not installed") {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

// Crash stops the server at once, as a power cut would: no checkpoint,
// connections cut (pg_ctl stop -m immediate).
func (s *Server) Crash() error {
	if out, err := s.run("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-w", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}

// Restart starts the server (again) on its port; after a crash it
// recovers from its write-ahead log first.
func (s *Server) Restart() error {
	if out, err := s.run("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-o", s.opts, "-l", filepath.Join(s.dir, "log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
		return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	return nil
}

func (s *Server) run(tool string, args ...string) ([]byte, error) {
	path := filepath.Join(s.bin, tool)
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = s.dir
	return cmd.CombinedOutput()
}

func (s *Server) stop() {
	s.run("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-w", "stop")
	os.RemoveAll(s.dir)
}
