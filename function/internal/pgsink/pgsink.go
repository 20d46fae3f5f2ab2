// Package pgsink is the receiver's PostgreSQL store: it keeps each
// install's last cumulative counts, under a keyed hash of its id, and
// writes only exact increments into daily aggregates whose size does not
// grow with the number of installs.
//
// Uploads are applied in batches, one transaction each (group.go,
// setbatch.go): each install's state row is locked until commit (SELECT
// … FOR UPDATE, or the INSERT of a new one), so parallel uploads of one
// install, on any number of receiver instances, are applied one after the
// other and never double count. The statements are in queries.sql.
//
// How an upload's counts are compared with the stored ones:
//   - every counter ≥ stored: the increments are the differences; a resent
//     identical upload thus adds nothing.
//   - every counter ≤ stored and one smaller (dominated): an older upload
//     arriving late, or a resend overtaken by a newer one. It adds nothing
//     and changes nothing.
//   - some counter smaller and another larger (or new): the file was
//     reset (or replaced) between uploads; a smaller counter's increment is
//     its new count, a larger one's the difference, and the stored counts
//     become exactly the upload's.
//
// A reset that leaves every counter at or below the stored counts is
// indistinguishable from a late older upload: it adds nothing until some
// counter passes its stored value. PACE's reset gives the install a new
// id, so this only happens to a telemetry.yaml restored from a backup.
//
// What one install may add in a day, and how many new installs one source
// address may bring, is bounded (bounds.go); the receiver's own figures go
// to receiver_health.
//
// Privacy (docs/privacy.md): Erase deletes an install's rows in every
// table with an install_key column; TELEMETRY_ID_KEY_PREVIOUS lets the key
// rotate, each install's rows moving on its first upload after it; and
// per-install activity is kept TELEMETRY_PG_ACTIVITY_DAYS, after it is
// rolled up into tables without install keys.
package pgsink

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pace-cli/pace/function/internal/sink"
	"github.com/pace-cli/pace/function/payload"
)

// Defaults of Config.
const (
	DefaultRetentionDays = 400 // a year and a month of aggregates: year-over-year panels
	DefaultIdleDays      = 90
	DefaultActivityDays  = 35 // per-install activity: MAU's 30 days, and a margin
	MinActivityDays      = 30 // the longest exact panel, monthly active installs, reads 30 days
	MinIDKeyBytes        = 16
)

// IsSpec reports whether TELEMETRY_SINK names PostgreSQL.
func IsSpec(spec string) bool {
	return strings.HasPrefix(spec, "postgres://") || strings.HasPrefix(spec, "postgresql://")
}

// Config is what a Sink is opened with.
type Config struct {
	DSN           string // postgres://user@host:port/db?…; a password in it is used but never shown
	Password      string // overrides the DSN's and PGPASSWORD
	IDKey         []byte // HMAC-SHA256 key for install ids; required
	PreviousIDKey []byte // the key before a rotation, during the transition; state found under it moves to IDKey's
	RetentionDays int    // aggregates and activity kept; default DefaultRetentionDays
	IdleDays      int    // per-install state dropped after; default DefaultIdleDays
	ActivityDays  int    // per-install activity kept (then rolled up); default DefaultActivityDays, at least MinActivityDays
	MaxConns      int32  // pool size; default pgxpool's, and at least Writers+2
	// Writers is the number of group-commit writers (group.go), each
	// applying a batch of queued uploads in one transaction on a
	// connection of its own; default DefaultWriters.
	Writers int
	// Commands is the receiver's allow-list, written into command_path at
	// Open for the "Unused commands" panel; nil leaves the table as it is.
	Commands []string
	// Bounds (bounds.go): runs one install may add in a day, and new
	// installs one source address may bring in a day; 0 takes the
	// default, a negative value sets no bound (benchmarks of one address).
	MaxDailyRuns         int
	NewInstallsPerSource int
	// Logger gets what fails in the background (the daily prune); nil
	// discards it.
	Logger *slog.Logger
}

// ConfigFromEnv reads the sink's settings:
//
//	TELEMETRY_SINK                the DSN, postgres://USER@HOST:PORT/DB?sslmode=…
//	TELEMETRY_PG_PASSWORD_FILE    a file holding the password (a mounted secret), or
//	TELEMETRY_PG_PASSWORD         the password; else PGPASSWORD, else the DSN's
//	TELEMETRY_ID_KEY              the secret key install ids are hashed with (≥ 16 bytes)
//	TELEMETRY_ID_KEY_PREVIOUS     the key before a rotation, kept during the transition
//	TELEMETRY_PG_RETENTION_DAYS   days aggregates are kept (default 400)
//	TELEMETRY_PG_IDLE_DAYS        days an idle install's state is kept (default 90)
//	TELEMETRY_PG_MAX_DAILY_RUNS   runs one install may add in a UTC day (default 5000)
//	TELEMETRY_PG_NEW_INSTALLS_PER_SOURCE  new installs one address may bring in a UTC day (default 250)
//	TELEMETRY_PG_ACTIVITY_DAYS    days per-install activity is kept, then only its rollups (default 35, at least 30)
func ConfigFromEnv(spec string, getenv func(string) string, readFile func(string) ([]byte, error)) (Config, error) {
	cfg := Config{DSN: spec, IDKey: []byte(getenv("TELEMETRY_ID_KEY"))}
	if len(cfg.IDKey) == 0 {
		return Config{}, errors.New("TELEMETRY_ID_KEY is not set: the PostgreSQL sink stores installs under HMAC-SHA256(key, id), never the id; " +
			"set it to a random secret of at least 16 bytes (e.g. `openssl rand -hex 32`, from Secret Manager) and keep it: changing it makes every install new")
	}
	cfg.PreviousIDKey = []byte(getenv("TELEMETRY_ID_KEY_PREVIOUS"))
	if len(cfg.PreviousIDKey) > 0 && string(cfg.PreviousIDKey) == string(cfg.IDKey) {
		return Config{}, errors.New("TELEMETRY_ID_KEY_PREVIOUS is the same as TELEMETRY_ID_KEY: to rotate, set TELEMETRY_ID_KEY to a new secret and TELEMETRY_ID_KEY_PREVIOUS to the old one; otherwise unset TELEMETRY_ID_KEY_PREVIOUS")
	}
	if f := getenv("TELEMETRY_PG_PASSWORD_FILE"); f != "" {
		b, err := readFile(f)
		if err != nil {
			return Config{}, fmt.Errorf("TELEMETRY_PG_PASSWORD_FILE: %v", err)
		}
		cfg.Password = strings.TrimRight(string(b), "\r\n")
	} else if p := getenv("TELEMETRY_PG_PASSWORD"); p != "" {
		cfg.Password = p
	} else if p := getenv("PGPASSWORD"); p != "" {
		cfg.Password = p
	}
	for _, s := range []struct {
		name string
		to   *int
		what string
	}{{"TELEMETRY_PG_RETENTION_DAYS", &cfg.RetentionDays, "days"}, {"TELEMETRY_PG_IDLE_DAYS", &cfg.IdleDays, "days"},
		{"TELEMETRY_PG_MAX_DAILY_RUNS", &cfg.MaxDailyRuns, "runs"}, {"TELEMETRY_PG_NEW_INSTALLS_PER_SOURCE", &cfg.NewInstallsPerSource, "installs"},
		{"TELEMETRY_PG_ACTIVITY_DAYS", &cfg.ActivityDays, "days"}} {
		if v := getenv(s.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return Config{}, fmt.Errorf("%s %q: want a positive number of %s", s.name, v, s.what)
			}
			*s.to = n
		}
	}
	if err := checkDays(cfg); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// checkDays refuses per-install data kept too briefly for the exact
// panels: monthly active installs read 30 days of activity, and count the
// installs of a day not yet rolled up from their state (install_state's
// last_day), so neither may go sooner.
func checkDays(cfg Config) error {
	if n := cfg.ActivityDays; n != 0 && n < MinActivityDays {
		return fmt.Errorf("TELEMETRY_PG_ACTIVITY_DAYS=%d is too short for the dashboard: monthly active installs read %d days of per-install activity; set at least %d (default %d)",
			n, MinActivityDays, MinActivityDays, DefaultActivityDays)
	}
	if n := cfg.IdleDays; n != 0 && n < MinActivityDays {
		return fmt.Errorf("TELEMETRY_PG_IDLE_DAYS=%d is too short for the dashboard: monthly active installs count the installs uploading in %d days from their state; set at least %d (default %d)",
			n, MinActivityDays, MinActivityDays, DefaultIdleDays)
	}
	return nil
}

// Redact returns dsn with any password replaced, for messages.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://(unparsable DSN)"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Sink writes uploads into PostgreSQL.
type Sink struct {
	pool      *pgxpool.Pool
	key       []byte
	retention int
	idle      int
	activity  int
	macs      sync.Pool

	pruneMu   sync.Mutex
	prunedDay time.Time

	maxDaily     int // < 0: no bound
	newPerSource int // < 0: no bound
	saltMu       sync.Mutex
	saltDay      time.Time
	salt         []byte
	prevKey      []byte   // TELEMETRY_ID_KEY_PREVIOUS; nil outside a rotation
	keyed        []string // tables with an install_key column, install_state last
	state        []string // install_state's columns other than install_key
	log          *slog.Logger

	// Group commit (group.go).
	queue     chan *item
	stopped   chan struct{}
	closeOnce sync.Once
	writers   sync.WaitGroup
	// batchHook, for tests, runs at the end of each transaction of a
	// batch of n items, before its commit; an error aborts the
	// transaction.
	batchHook func(ctx context.Context, tx pgx.Tx, attempt, n int) error
	// oneByOne, for tests, applies every batch one upload at a time
	// under savepoints (the fallback path).
	oneByOne bool
}

var _ sink.Store = (*Sink)(nil)

// Check reports whether Open would accept cfg, without any I/O: the
// receiver checks its configuration at start with it.
func (cfg Config) Check() error {
	_, err := cfg.poolConfig()
	return err
}

// poolConfig checks cfg and returns the pool's configuration.
func (cfg Config) poolConfig() (*pgxpool.Config, error) {
	if len(cfg.IDKey) < MinIDKeyBytes {
		return nil, fmt.Errorf("TELEMETRY_ID_KEY is %d bytes: want a random secret of at least %d", len(cfg.IDKey), MinIDKeyBytes)
	}
	if n := len(cfg.PreviousIDKey); n > 0 && n < MinIDKeyBytes {
		return nil, fmt.Errorf("TELEMETRY_ID_KEY_PREVIOUS is %d bytes: it must be the previous TELEMETRY_ID_KEY, of at least %d", n, MinIDKeyBytes)
	}
	pc, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("TELEMETRY_SINK %s: not a valid PostgreSQL URL: want postgres://USER@HOST:PORT/DB?sslmode=…", Redact(cfg.DSN))
	}
	if cfg.Password != "" {
		pc.ConnConfig.Password = cfg.Password
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	// Each writer holds a connection through its batch; the address
	// salts, readiness probes and erasures need some more.
	pc.MaxConns = max(pc.MaxConns, int32(cfg.writers())+2)
	// A statement is planned for its arguments each time. pgx prepares
	// each once per connection, and PostgreSQL would otherwise switch to
	// a generic plan after five runs, made for the tables as they were:
	// on a new database, sequential scans of tables then empty, kept as
	// they grew to millions of rows (3.8 ms a batch at 100,000). Planning
	// costs tens of microseconds a statement, a few per batch.
	pc.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	if err := checkDays(cfg); err != nil {
		return nil, err
	}
	return pc, nil
}

func (cfg Config) writers() int {
	if cfg.Writers > 0 {
		return cfg.Writers
	}
	return DefaultWriters
}

// Open connects, migrates the schema, and returns the sink. During a key
// rotation it logs how many installs are still under the previous key.
func Open(ctx context.Context, cfg Config) (*Sink, error) {
	pc, err := cfg.poolConfig()
	if err != nil {
		return nil, err
	}
	shown := Redact(cfg.DSN)
	s := &Sink{key: cfg.IDKey, prevKey: cfg.PreviousIDKey, retention: cfg.RetentionDays, idle: cfg.IdleDays, activity: cfg.ActivityDays,
		maxDaily: cfg.MaxDailyRuns, newPerSource: cfg.NewInstallsPerSource, log: cfg.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.activity <= 0 {
		s.activity = DefaultActivityDays
	}
	if s.maxDaily == 0 {
		s.maxDaily = DefaultMaxDailyRuns
	}
	if s.newPerSource == 0 {
		s.newPerSource = DefaultNewInstallsPerSource
	}
	if len(s.prevKey) == 0 {
		s.prevKey = nil // no rotation: no second lookup per upload
	}
	if s.retention <= 0 {
		s.retention = DefaultRetentionDays
	}
	if s.idle <= 0 {
		s.idle = DefaultIdleDays
	}
	s.macs.New = func() any { return hmac.New(sha256.New, s.key) }
	if s.pool, err = pgxpool.NewWithConfig(ctx, pc); err != nil {
		return nil, fmt.Errorf("PostgreSQL %s: %v", shown, err)
	}
	if err := migrate(ctx, s.pool); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("PostgreSQL %s: %v", shown, err)
	}
	if err := s.readKeyed(ctx); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("PostgreSQL %s: %v", shown, err)
	}
	if err := writeCommands(ctx, s.pool, cfg.Commands); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("PostgreSQL %s: writing the allow-list: %v", shown, err)
	}
	s.logKeyRotation(ctx)
	s.startWriters(cfg.writers())
	return s, nil
}

// writeCommands makes command_path hold exactly the allow-list: during a
// deploy, the receiver that started last wins.
func writeCommands(ctx context.Context, pool *pgxpool.Pool, paths []string) error {
	if paths == nil {
		return nil
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, query("advisory_xact_lock"), int64(migrationLock)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, query("keep_commands"), paths); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, query("add_commands"), paths)
		return err
	})
}

// Close implements sink.Store: it lets the writers apply what is queued,
// then closes the pool.
func (s *Sink) Close() error {
	s.stopWriters()
	s.pool.Close()
	return nil
}

// Ready implements sink.Store: the database answers.
func (s *Sink) Ready(ctx context.Context) error { return s.pool.Ping(ctx) }

// InstallKey is the HMAC-SHA256 of id under the sink's key: what the
// tables hold instead of the id.
func (s *Sink) InstallKey(id string) []byte {
	m := s.macs.Get().(interface {
		Write([]byte) (int, error)
		Sum([]byte) []byte
		Reset()
	})
	m.Reset()
	m.Write([]byte(id))
	k := m.Sum(nil)
	s.macs.Put(m)
	return k
}

// Write applies one upload, in the transaction of its batch (group.go),
// and returns when that has committed; a batch whose transaction fails is
// applied again a few times before its uploads are answered 503.
func (s *Sink) Write(ctx context.Context, u *sink.Upload) error {
	if len(u.Counters) == 0 {
		// A new install's first upload: nothing counted, not active (as
		// the other stores), but accepted.
		s.Count(ctx, u.Received, sink.Accepted, "")
		return nil
	}
	key := s.InstallKey(u.ID)
	day := u.Received.UTC().Truncate(24 * time.Hour)
	// The address's hash, before the transaction: its salt may take a
	// query of its own.
	src, err := s.sourceKey(ctx, day, u.Source)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if err := s.enqueue(ctx, &item{u: u, key: key, src: src, day: day}); err != nil {
		return err
	}
	s.maybePrune(ctx, day)
	return nil
}

// ExitPanic is the exit code pace counts a crashed run under (its
// internal/cli.ExitPanic, EX_SOFTWARE).
const ExitPanic = payload.ExitPanic

// commandDailySQL writes rows of command_daily, from arrays of days,
// paths, versions and install keys: rows that ran without failing
// (failed false) only where none is (DO NOTHING takes no row lock and
// writes nothing: an install's later uploads of the day mostly find their
// rows there), rows with a failed run (failed true) setting the flag
// where it is not set yet.
func commandDailySQL(failed bool) string {
	if failed {
		return query("command_rows_failed")
	}
	return query("command_rows_ran")
}

// maybePrune drops, once a day per instance, aggregates past the retention
// and the state of installs idle past the idle time. Several instances
// pruning at once only repeat idempotent deletes.
func (s *Sink) maybePrune(ctx context.Context, day time.Time) {
	s.pruneMu.Lock()
	due := day.After(s.prunedDay)
	if due {
		s.prunedDay = day
	}
	s.pruneMu.Unlock()
	if due {
		// In the background, so that no upload waits for the deletes; best
		// effort: the next day tries again.
		go func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
			defer cancel()
			if err := s.Prune(ctx, day); err != nil {
				// Until a prune succeeds, per-install rows outlive their
				// days: say so, for the operator to fix.
				s.log.Error("daily prune failed; per-install rows past their retention stay until one succeeds (the next upload of a later day retries)", "error", err.Error())
			}
		}()
	}
}

// Prune, as of today, drops the bounds' state of past days, then rolls up
// the complete days of activity not yet rolled up (see rollup), then
// deletes per-install activity older than
// the activity days, aggregates and rollups older than the retention, and
// the state of installs whose last upload is older than the idle time. A
// pruned install that comes back is new to the sink: its whole cumulative
// counts are counted again, on the day it returns.
func (s *Sink) Prune(ctx context.Context, today time.Time) error {
	today = today.UTC().Truncate(24 * time.Hour)
	keep := today.AddDate(0, 0, -s.retention)
	idle := today.AddDate(0, 0, -s.idle)
	activity := today.AddDate(0, 0, -s.activity)
	// The bounds' state of past days and the salt of their address hashes
	// go first, on their own: nothing reads them after their day, and
	// their deletion must not wait on a rollup that fails.
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, q := range []string{"prune_install_day", "prune_source_day", "prune_source_salt"} {
			if _, err := tx.Exec(ctx, query(q), today); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("dropping the past days' bounds state: %w", err)
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// One pruner at a time, so that no activity is deleted that a
		// rollup running elsewhere still reads.
		if _, err := tx.Exec(ctx, query("advisory_xact_lock"), int64(pruneLock)); err != nil {
			return err
		}
		if err := rollup(ctx, tx, today); err != nil {
			return fmt.Errorf("rollup: %w", err)
		}
		for _, q := range []struct {
			name   string
			before time.Time
		}{
			{"prune_active_daily", activity},
			{"prune_command_daily", activity},
			{"prune_state_commands", activity},
			{"prune_crash_daily", activity},
			{"prune_crash_rollup", keep},
			{"prune_usage_daily", keep},
			{"prune_activity_rollup", keep},
			{"prune_installs_rollup", keep},
			{"prune_command_rollup", keep},
			{"prune_retention_rollup", keep},
			{"prune_install_state", idle},
			{"prune_receiver_health", keep},
		} {
			if _, err := tx.Exec(ctx, query(q.name), q.before); err != nil {
				return err
			}
		}
		return nil
	})
}

// nonZero drops the increments a clamp cut to 0, in place.
func nonZero(paths []string, codes []int32, incs []int64) ([]string, []int32, []int64) {
	k := 0
	for i := range incs {
		if incs[i] > 0 {
			paths[k], codes[k], incs[k] = paths[i], codes[i], incs[i]
			k++
		}
	}
	return paths[:k], codes[:k], incs[:k]
}
