// Command local serves the telemetry receiver on 127.0.0.1:$PORT (default
// 8080), for self-hosting behind a reverse proxy, development, tests and
// load runs. It reads the same environment as the deployed function
// (TELEMETRY_SINK and the rest), and serves the same handler at every path,
// as Cloud Functions does.
//
// Unlike Cloud Functions, nothing in front of it bounds what clients do, so
// it does: a header must arrive within ReadHeaderTimeout and fit in
// MaxHeaderBytes, a request within its read timeout, an idle keep-alive
// connection is closed after IdleTimeout, and at most
// TELEMETRY_MAX_CONNECTIONS (default DefaultMaxConnections) connections are
// served at once; the others wait in the kernel's accept queue. Together
// they bound its memory, and let real uploads through while clients hold
// connections open (docs/deploy.md). The source address of the bounds per
// address is the TCP peer unless TELEMETRY_SOURCE says otherwise.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/net/netutil"

	"github.com/pace-cli/pace/function"
)

// Limits of the server.
const (
	// ReadHeaderTimeout: a pace client sends its few headers at once.
	ReadHeaderTimeout = 5 * time.Second
	// IdleTimeout closes keep-alive connections a client stopped using;
	// the daemon uploads at most once a minute.
	IdleTimeout = 30 * time.Second
	// MaxHeaderBytes: a pace upload's headers are about 200 bytes.
	MaxHeaderBytes = 8 << 10
	// DefaultMaxConnections: each costs a goroutine and buffers (about
	// 10 KiB idle, a 64 KiB body buffer while a request is read), and one
	// file descriptor; 512 stays under the common limit of 1024.
	DefaultMaxConnections = 512
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Getenv, os.Stdout, os.Stderr))
}

// run serves until ctx is done, then lets requests in flight finish.
func run(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "pace telemetry receiver: %v\n", err)
		return 1
	}
	port := getenv("PORT")
	if port == "" {
		port = "8080"
	}
	maxConns := DefaultMaxConnections
	if v := getenv("TELEMETRY_MAX_CONNECTIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return fail(fmt.Errorf("TELEMETRY_MAX_CONNECTIONS %q: want a positive number", v))
		}
		maxConns = n
	}
	// Nothing in front of it appends X-Forwarded-For, so by default the
	// source address is the peer's; behind a proxy, set TELEMETRY_SOURCE.
	env := func(k string) string {
		if v := getenv(k); v != "" || k != "TELEMETRY_SOURCE" {
			return v
		}
		return string(function.SourcePeer)
	}
	cfg, err := function.ConfigFromEnv(env, stdout, stderr)
	if err != nil {
		return fail(err)
	}
	h, err := function.New(cfg)
	if err != nil {
		return fail(err)
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = function.DefaultTimeout
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		// The handler gives the body TELEMETRY_TIMEOUT from when it
		// starts; this bounds the whole request where it does not.
		ReadTimeout:    ReadHeaderTimeout + timeout,
		WriteTimeout:   ReadHeaderTimeout + 2*timeout,
		IdleTimeout:    IdleTimeout,
		MaxHeaderBytes: MaxHeaderBytes,
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(stderr, "pace telemetry receiver on http://%s/ (at most %d connections)\n", ln.Addr(), maxConns)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(netutil.LimitListener(ln, maxConns)) }()
	select {
	case err := <-done:
		return fail(err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fail(err)
	}
	return 0
}
