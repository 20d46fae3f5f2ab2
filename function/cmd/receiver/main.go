// Command receiver serves the telemetry receiver on 127.0.0.1:$PORT
// (default 8080), for self-hosting behind a reverse proxy, development,
// tests and load runs. It reads the same environment as the deployed
// function (docs/configuration.md) and serves the same receiver: uploads
// at every path, erasure at <path>/forget, and the probes /healthz and
// /readyz.
//
// Unlike Cloud Functions, nothing in front of it bounds what clients do, so
// it does: a header must arrive within ReadHeaderTimeout and fit in
// MaxHeaderBytes, a request within its read timeout, an idle keep-alive
// connection is closed after IdleTimeout, and at most
// TELEMETRY_MAX_CONNECTIONS (default receiver.DefaultMaxConnections)
// connections are served at once; the others wait in the kernel's accept
// queue. Together they bound its memory, and let real uploads through
// while clients hold connections open (docs/deploy.md). The source address
// of the bounds per address is the TCP peer unless TELEMETRY_SOURCE says
// otherwise.
//
// On SIGTERM or SIGINT it stops accepting, lets the requests in flight
// finish (http.Server.Shutdown), then closes the store.
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
	"syscall"
	"time"

	"golang.org/x/net/netutil"

	"github.com/pace-cli/pace/function/receiver"
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
)

func main() {
	receiver.TuneGC(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Getenv, os.Stdout, os.Stderr))
}

// run serves until ctx is done, then lets requests in flight finish and
// closes the store.
func run(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "pace telemetry receiver: %v\n", err)
		return 1
	}
	// Nothing in front of it appends X-Forwarded-For, so by default the
	// source address is the peer's; behind a proxy, set TELEMETRY_SOURCE.
	env := func(k string) string {
		if v := getenv(k); v != "" || k != "TELEMETRY_SOURCE" {
			return v
		}
		return string(receiver.SourcePeer)
	}
	cfg, err := receiver.LoadConfig(env, os.ReadFile)
	if err != nil {
		return fail(err)
	}
	rcv, err := receiver.New(cfg, receiver.Options{Stdout: stdout, Logger: receiver.NewLogger(stderr)})
	if err != nil {
		return fail(err)
	}
	defer rcv.Close()
	srv := &http.Server{
		Handler:           rcv,
		ReadHeaderTimeout: ReadHeaderTimeout,
		// The handler gives the body TELEMETRY_TIMEOUT from when it
		// starts; this bounds the whole request where it does not.
		ReadTimeout:    ReadHeaderTimeout + cfg.Timeout,
		WriteTimeout:   ReadHeaderTimeout + 2*cfg.Timeout,
		IdleTimeout:    IdleTimeout,
		MaxHeaderBytes: MaxHeaderBytes,
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", cfg.Port))
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(stderr, "pace telemetry receiver on http://%s/ (at most %d connections)\n", ln.Addr(), cfg.MaxConnections)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(netutil.LimitListener(ln, cfg.MaxConnections)) }()
	select {
	case err := <-done:
		return fail(err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fail(err)
	}
	if err := rcv.Close(); err != nil {
		return fail(fmt.Errorf("closing the store: %v", err))
	}
	return 0
}
