package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pace-cli/pace/function/servertest"
)

func TestMain(m *testing.M) { os.Exit(servertest.Run(m)) }

const uploadBody = `{"metric_points":{"pace version":{"0":{"cumulative_count":3}}},"cli_version":"1.25.0","operating_system":"linux","id":"36be4c46-4e1b-431d-b9db-1b315f537a85"}`

func TestRunRefusesBadSettings(t *testing.T) {
	for _, tc := range []struct{ env, want string }{
		{"TELEMETRY_MAX_CONNECTIONS=0", `TELEMETRY_MAX_CONNECTIONS "0": want a positive number`},
		{"TELEMETRY_MAX_CONNECTIONS=many", `TELEMETRY_MAX_CONNECTIONS "many": want a positive number`},
		{"TELEMETRY_TIMEOUT=-1", `TELEMETRY_TIMEOUT "-1"`},
		{"TELEMETRY_SINK=ftp://x", "TELEMETRY_SINK"},
		{"PORT=notaport", "listen tcp"},
	} {
		k, v, _ := strings.Cut(tc.env, "=")
		var stderr bytes.Buffer
		code := run(context.Background(), func(name string) string {
			if name == k {
				return v
			}
			return ""
		}, io.Discard, &stderr)
		if code != 1 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want 1 and %q", tc.env, code, stderr.String(), tc.want)
		}
	}
}

// The server answers an upload, refuses oversized headers with 431, and
// stops when its context ends.
func TestRunServesAndStops(t *testing.T) {
	port := strconv.Itoa(servertest.FreePort(t))
	addr := "127.0.0.1:" + port
	ctx, cancel := context.WithCancel(context.Background())
	var stdout bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, func(name string) string {
			if name == "PORT" {
				return port
			}
			return ""
		}, &stdout, io.Discard)
	}()
	servertest.WaitListening(t, addr)

	resp, err := http.Post("http://"+addr+"/", "application/json", strings.NewReader(uploadBody))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "OK" {
		t.Fatalf("upload: %d %q", resp.StatusCode, b)
	}

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, "POST / HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("b", MaxHeaderBytes+8192)+"\r\n\r\n")
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(line, " 431 ") {
		t.Fatalf("oversized header: %q, %v; want 431", line, err)
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d after the context ended", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
}
