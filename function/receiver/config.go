package receiver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/pace-cli/pace/function/internal/graphite"
	"github.com/pace-cli/pace/function/internal/pgsink"
	"github.com/pace-cli/pace/function/internal/promwrite"
	"github.com/pace-cli/pace/function/internal/sink"
)

// Config is the receiver's whole configuration, as LoadConfig reads it
// from the environment: every variable is read there and nowhere else
// (docs/configuration.md is the table of them, which a test holds to
// this code). It holds settings only; the store is opened from it later
// (OpenStore), so reading it does no I/O beyond a password file.
type Config struct {
	// Sink is TELEMETRY_SINK as given: which store, and where.
	Sink string
	// Settings of the store Sink names; the others stay zero.
	GraphiteUser, GraphiteAPIKey string         // the Graphite HTTP API's basic auth
	Prometheus                   promwrite.Auth // the remote-write endpoint's
	Postgres                     pgsink.Config  // DSN, key, bounds, retention
	// Interval is how often a client uploads, told to the Graphite HTTP
	// API with each sample.
	Interval time.Duration
	Timeout  time.Duration // per request
	// Source says where a request's address is read; SourceRate and
	// SourceBurst set the per-address token bucket (a zero rate: none).
	Source      Source
	SourceRate  float64
	SourceBurst int
	// Port and MaxConnections are the self-hosted server's
	// (cmd/receiver); Cloud Functions chooses its own.
	Port           string
	MaxConnections int
}

// DefaultMaxConnections is how many connections the self-hosted server
// serves at once: each costs a goroutine and buffers (about 10 KiB idle,
// a 64 KiB body buffer while a request is read), and one file descriptor;
// 512 stays under the common limit of 1024.
const DefaultMaxConnections = 512

// LoadConfig reads and checks the configuration, without opening the
// store: a wrong setting fails here, naming the variable and what it
// wants, so that a bad deploy fails its start. getenv is os.Getenv in
// production; readFile (os.ReadFile) reads TELEMETRY_PG_PASSWORD_FILE, a
// mounted secret whose absence is also a bad deploy.
func LoadConfig(getenv func(string) string, readFile func(string) ([]byte, error)) (Config, error) {
	cfg := Config{Timeout: DefaultTimeout, Interval: DefaultInterval, Source: DefaultSource, SourceRate: DefaultSourceRate, SourceBurst: DefaultSourceBurst,
		Port: "8080", MaxConnections: DefaultMaxConnections}
	if v := getenv("TELEMETRY_SOURCE"); v != "" {
		src, err := parseSource(v)
		if err != nil {
			return Config{}, err
		}
		cfg.Source = src
	}
	if v := getenv("TELEMETRY_SOURCE_RATE"); v == "off" {
		cfg.SourceRate = 0
	} else if v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f > 0) || math.IsInf(f, 0) {
			return Config{}, fmt.Errorf("TELEMETRY_SOURCE_RATE %q: want a positive number of uploads per second, or off", v)
		}
		cfg.SourceRate = f
	}
	if v := getenv("TELEMETRY_SOURCE_BURST"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return Config{}, fmt.Errorf("TELEMETRY_SOURCE_BURST %q: want a positive number of uploads", v)
		}
		cfg.SourceBurst = n
	}
	if v := getenv("TELEMETRY_INTERVAL"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return Config{}, fmt.Errorf("TELEMETRY_INTERVAL %q: want a positive number of seconds", v)
		}
		cfg.Interval = time.Duration(n) * time.Second
	}
	if v := getenv("TELEMETRY_TIMEOUT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return Config{}, fmt.Errorf("TELEMETRY_TIMEOUT %q: want a positive number of seconds", v)
		}
		cfg.Timeout = time.Duration(n) * time.Second
	}
	// The id was always written unless this said off; "on" is accepted so
	// that deploys which spelled the default out keep starting.
	if v := getenv("TELEMETRY_ID_TAG"); v != "" && v != "on" {
		return Config{}, fmt.Errorf("TELEMETRY_ID_TAG=%q: %w", v, errIDTagOff)
	}
	if v := getenv("PORT"); v != "" {
		cfg.Port = v
	}
	if v := getenv("TELEMETRY_MAX_CONNECTIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return Config{}, fmt.Errorf("TELEMETRY_MAX_CONNECTIONS %q: want a positive number", v)
		}
		cfg.MaxConnections = n
	}
	cfg.Sink = getenv("TELEMETRY_SINK")
	kind := cfg.storeKind()
	if err := kind.load(&cfg, getenv, readFile); err != nil {
		return Config{}, err
	}
	if err := kind.check(cfg); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// errIDTagOff is why TELEMETRY_ID_TAG=off was removed.
var errIDTagOff = errors.New("the setting was removed: series without the installation id mix the cumulative counts of many installs, " +
	"which no stateless receiver can turn into correct figures; unset it (every series carries the id), " +
	"or, to store counts without ids, use the PostgreSQL sink (TELEMETRY_SINK=postgres://…), which keeps each install's last counts and stores only increments")

// A storeKind is one kind of store TELEMETRY_SINK can name: how its
// settings are read (load), checked without I/O (check) and how it is
// opened. Adding a store is one package implementing sink.Store and one
// entry in storeKinds (docs/configuration.md, "Adding a store").
type storeKind struct {
	name  string
	match func(spec string) bool
	load  func(cfg *Config, getenv func(string) string, readFile func(string) ([]byte, error)) error
	check func(cfg Config) error
	open  func(ctx context.Context, cfg Config, o Options) (sink.Store, error)
}

// storeKinds are the stores, tried in order; the last takes every spec
// the others do not match, and refuses those it does not know.
func storeKinds() []storeKind {
	return []storeKind{
		{
			name:  "postgres",
			match: pgsink.IsSpec,
			load: func(cfg *Config, getenv func(string) string, readFile func(string) ([]byte, error)) (err error) {
				cfg.Postgres, err = pgsink.ConfigFromEnv(cfg.Sink, getenv, readFile)
				return err
			},
			check: func(cfg Config) error { return cfg.Postgres.Check() },
			open: func(ctx context.Context, cfg Config, o Options) (sink.Store, error) {
				pc := cfg.Postgres
				pc.Commands = o.commands() // for the "Unused commands" panel
				pc.Logger = o.Logger
				return opened(pgsink.Open(ctx, pc))
			},
		},
		{
			name:  "prometheus",
			match: promwrite.IsSpec,
			load: func(cfg *Config, getenv func(string) string, _ func(string) ([]byte, error)) error {
				cfg.Prometheus = promwrite.Auth{User: getenv("PROMETHEUS_USER"), Password: getenv("PROMETHEUS_PASSWORD"), BearerToken: getenv("PROMETHEUS_BEARER_TOKEN")}
				return nil
			},
			check: func(cfg Config) error { return promwrite.Check(cfg.Sink, cfg.Prometheus) },
			open: func(_ context.Context, cfg Config, _ Options) (sink.Store, error) {
				s, err := promwrite.Open(cfg.Sink, cfg.Prometheus)
				if err != nil {
					return nil, err
				}
				s.Health = sink.NewHealthSeries(s)
				return s, nil
			},
		},
		{
			name:  "graphite",
			match: func(string) bool { return true },
			load: func(cfg *Config, getenv func(string) string, _ func(string) ([]byte, error)) error {
				cfg.GraphiteUser, cfg.GraphiteAPIKey = getenv("GRAPHITE_USER"), getenv("GRAPHITE_API_KEY")
				return nil
			},
			check: func(cfg Config) error { return graphite.Check(cfg.Sink, cfg.GraphiteUser, cfg.GraphiteAPIKey) },
			open: func(_ context.Context, cfg Config, o Options) (sink.Store, error) {
				s, err := graphite.Open(cfg.Sink, o.Stdout, cfg.GraphiteUser, cfg.GraphiteAPIKey, cfg.Interval)
				if err != nil {
					return nil, err
				}
				s.Health = sink.NewHealthSeries(s)
				return s, nil
			},
		},
	}
}

func (cfg Config) storeKind() storeKind {
	kinds := storeKinds()
	for _, k := range kinds {
		if k.match(cfg.Sink) {
			return k
		}
	}
	return kinds[len(kinds)-1]
}

// OpenStore opens the store cfg names: for PostgreSQL it connects and
// migrates the schema, within ctx. Receiver calls it on the first request
// that needs the store; tests and tools that want the store alone call it
// themselves, and Close it.
func (cfg Config) OpenStore(ctx context.Context, o Options) (sink.Store, error) {
	o = o.withDefaults()
	return cfg.storeKind().open(ctx, cfg, o)
}

// opened keeps a nil *T from becoming a non-nil Store.
func opened[T sink.Store](s T, err error) (sink.Store, error) {
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Options are what a Receiver gets from its process rather than from the
// environment.
type Options struct {
	Logger   *slog.Logger     // default: JSON on standard error
	Stdout   io.Writer        // where TELEMETRY_SINK=stdout writes; default standard output
	Now      func() time.Time // default time.Now
	Commands []string         // the allow-list; nil: the embedded commands.txt
	// OpenTimeout bounds one attempt to open the store; default
	// DefaultOpenTimeout.
	OpenTimeout time.Duration
}

// DefaultOpenTimeout bounds one attempt to open the store (connect and
// migrate PostgreSQL).
const DefaultOpenTimeout = 30 * time.Second

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = NewLogger(stderr())
	}
	if o.Stdout == nil {
		o.Stdout = stdout()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OpenTimeout <= 0 {
		o.OpenTimeout = DefaultOpenTimeout
	}
	return o
}

func (o Options) commands() []string {
	if o.Commands != nil {
		return o.Commands
	}
	return Commands()
}
