// Package pgserver starts a real PostgreSQL for the receiver's tests: on
// 127.0.0.1, on a free port, in a temporary folder, with trust
// authentication. As root it runs as the postgres user, which Debian's
// package creates, since PostgreSQL refuses to run as root. (The root
// module's internal/pgtest does the same; a module cannot import
// another's internal packages.)
package pgserver

import (
	"context"
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
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Server is a running PostgreSQL.
type Server struct {
	Port int
	dir  string
	bin  string
}

// DSN connects as the superuser postgres to database db.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, db)
}

var (
	mu      sync.Mutex
	shared  *Server
	lastErr error
	dbs     atomic.Int64
)

// Shared returns the package's server, starting it on first use; call
// Stop from TestMain. Without PostgreSQL the test is skipped, except
// under CI or PACE_TEST_STRICT, where it fails.
func Shared(t testing.TB) *Server {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
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

// NewDB creates a fresh database on the shared server and returns its DSN.
func NewDB(t testing.TB) string {
	t.Helper()
	s := Shared(t)
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbs.Add(1))
	conn, err := pgx.Connect(context.Background(), s.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return s.DSN(name)
}

// Stop stops the shared server, if one was started.
func Stop() {
	mu.Lock()
	defer mu.Unlock()
	if shared != nil {
		shared.Stop()
		shared = nil
	}
}

// Start starts a server of the caller's own, for a program such as a
// benchmark; the caller stops it with its Stop.
func Start() (*Server, error) { return start() }

// Stop stops s and removes its folder.
func (s *Server) Stop() {
	s.run("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-w", "stop")
	os.RemoveAll(s.dir)
}

func start() (*Server, error) {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(found) == 0 {
		return nil, fmt.Errorf("PostgreSQL is not installed (Debian package postgresql; scripts/test.sh installs it)")
	}
	sort.Strings(found)
	s := &Server{bin: filepath.Dir(found[len(found)-1])}
	dir, err := os.MkdirTemp("", "pace-fn-pg-")
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
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c full_page_writes=off -c max_connections=200", s.Port, dir)
	if out, err := s.run("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		return nil, fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	return s, nil
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
