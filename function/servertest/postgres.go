package servertest

import (
	"context"
	"fmt"
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

// Postgres is a running PostgreSQL: on 127.0.0.1, on a free port, in a
// temporary folder (its Unix socket there too), with trust
// authentication. PostgreSQL refuses to run as root, so as root it runs
// as the postgres user (Debian's package makes it) in a folder that user
// owns.
type Postgres struct {
	Port int
	dir  string
	bin  string
	opts string
}

// PostgresOption is a setting of a server of the caller's own.
type PostgresOption func(*[]string)

// Setting sets a server parameter (postgres -c name=value) over the
// defaults: fsync and full_page_writes off (a test's server need not
// survive a power cut; a crash of the server itself loses nothing) and
// max_connections 200.
func Setting(name, value string) PostgresOption {
	return func(s *[]string) { *s = append(*s, name+"="+value) }
}

var defaultSettings = []string{"fsync=off", "full_page_writes=off", "max_connections=200"}

// DSN connects as the superuser postgres to database db.
func (s *Postgres) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, db)
}

var (
	pgMu      sync.Mutex
	shared    *Postgres
	sharedErr error
	dbs       atomic.Int64
)

// SharedPostgres returns the test binary's server, started on first use
// and stopped by Run. Without PostgreSQL the test is skipped, except
// where Strict, where it fails.
func SharedPostgres(t testing.TB) *Postgres {
	t.Helper()
	pgMu.Lock()
	defer pgMu.Unlock()
	if shared == nil && sharedErr == nil {
		shared, sharedErr = NewPostgres()
	}
	if sharedErr != nil {
		failOrSkip(t, sharedErr)
	}
	return shared
}

// NewDatabase creates a fresh database on the shared server and returns
// its DSN.
func NewDatabase(t testing.TB) string {
	t.Helper()
	s := SharedPostgres(t)
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

// stopSharedPostgres stops the shared server, if one was started.
func stopSharedPostgres() {
	pgMu.Lock()
	defer pgMu.Unlock()
	if shared != nil {
		shared.Stop()
		shared = nil
	}
}

// StartPostgres starts a server of the test's own, which it may crash
// and restart; it is stopped and removed when the test ends.
func StartPostgres(t testing.TB, opts ...PostgresOption) *Postgres {
	t.Helper()
	s, err := NewPostgres(opts...)
	if err != nil {
		failOrSkip(t, err)
	}
	t.Cleanup(s.Stop)
	return s
}

func failOrSkip(t testing.TB, err error) {
	t.Helper()
	if strings.Contains(err.Error(), "not installed") {
		Unavailable(t, err.Error())
	}
	t.Fatal(err)
}

// NewPostgres starts a server of the caller's own, for a program such as
// a benchmark; the caller stops it with its Stop.
func NewPostgres(opts ...PostgresOption) (*Postgres, error) {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(found) == 0 {
		return nil, fmt.Errorf("PostgreSQL is not installed (Debian package postgresql; scripts/test.sh installs it)")
	}
	sort.Strings(found)
	s := &Postgres{bin: filepath.Dir(found[len(found)-1])}
	dir, err := os.MkdirTemp("", "pace-pg-")
	if err != nil {
		return nil, err
	}
	s.dir = dir
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root, PostgreSQL needs the postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.Port = port
	data := filepath.Join(dir, "data")
	if out, err := s.run("initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	settings := append([]string{}, defaultSettings...)
	for _, o := range opts {
		o(&settings)
	}
	s.opts = fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s", s.Port, dir)
	for _, kv := range settings {
		s.opts += " -c " + kv
	}
	if err := s.Restart(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// Crash stops the server at once, as a power cut would: no checkpoint,
// connections cut (pg_ctl stop -m immediate).
func (s *Postgres) Crash() error {
	if out, err := s.run("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-w", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}

// Restart starts the server (again) on its port; after a crash it
// recovers from its write-ahead log first.
func (s *Postgres) Restart() error {
	if out, err := s.run("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-o", s.opts, "-l", filepath.Join(s.dir, "log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
		return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	return nil
}

// Stop stops the server and removes its folder.
func (s *Postgres) Stop() {
	s.run("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-w", "stop")
	os.RemoveAll(s.dir)
}

// run runs one of PostgreSQL's programs, as the postgres user when root.
func (s *Postgres) run(tool string, args ...string) ([]byte, error) {
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
