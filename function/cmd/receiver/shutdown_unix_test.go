//go:build unix

package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pace-cli/pace/function/servertest"
)

// SIGTERM, as a platform stops a server: the request in flight finishes
// (its upload answered 200 OK), then the process exits 0.
func TestSIGTERMLetsRequestsInFlightFinish(t *testing.T) {
	port := strconv.Itoa(servertest.FreePort(t))
	addr := "127.0.0.1:" + port
	cmd := exec.Command(servertest.Program(t, "."))
	cmd.Env = append(os.Environ(), "PORT="+port, "TELEMETRY_SINK=stdout")
	var log servertest.SyncBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	servertest.WaitListening(t, addr)

	// A request whose body is only half sent when the signal comes.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	half := len(uploadBody) / 2
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(uploadBody), uploadBody[:half])
	time.Sleep(200 * time.Millisecond) // the handler is reading the body
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // shutting down: no new connection is taken
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("a new connection was accepted after SIGTERM")
	}
	if _, err := conn.Write([]byte(uploadBody[half:])); err != nil {
		t.Fatal(err)
	}
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(status, " 200 ") {
		t.Fatalf("the request in flight got %q, %v; want 200\n%s", status, err, log.String())
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, log.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("still running 15 s after SIGTERM\n%s", log.String())
	}
}
