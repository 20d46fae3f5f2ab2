package upload

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pace-cli/pace/internal/config"
	"github.com/pace-cli/pace/internal/testenv"
)

const oldID = "11111111-2222-4333-8444-555555555555"

func fixedBackoff(int) time.Duration { return time.Minute }

func answerJSON(code int, body string, header ...string) testenv.Answer {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

func TestForgetURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://r.example/telemetry":        "https://r.example/telemetry/forget",
		"https://r.example/telemetry/":       "https://r.example/telemetry/forget",
		"https://r.example":                  "https://r.example/forget",
		"https://u:p@r.example/t?key=s#frag": "https://u:p@r.example/t/forget?key=s#frag",
	} {
		if got, err := forgetURL(in); err != nil || got != want {
			t.Errorf("%s: %s %v, want %s", in, got, err, want)
		}
	}
	if _, err := forgetURL("not a url"); err == nil {
		t.Error("no error for a bad endpoint")
	}
}

// Each answer's outcome: 5xx and 429 retry with backoff (or Retry-After),
// 501 and other 4xx stop, 2xx removes the request; nothing is sent for
// an id still in telemetry.yaml.
func TestSendForgets(t *testing.T) {
	cfg, r, store := setup(t,
		answerJSON(503, `{"error":"sink: unavailable"}`, "Retry-After", "600"),
		answerJSON(500, `boom`),
		answerJSON(200, `{"erased":{"install_state":1,"active_daily":4}}`),
	)
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	cfg.Now = func() time.Time { return now }
	p, _ := store.Load()
	// The request for the current id waits for the reset.
	if err := AddForget(cfg.Dir, p.ID, now); err != nil {
		t.Fatal(err)
	}
	if _, ok := ForgetDue(cfg.Dir); ok {
		t.Fatal("due while telemetry.yaml holds the id")
	}
	if !forgetting(cfg.Dir, p.ID) || Once(context.Background(), cfg, &State{}).Outcome != Nothing || len(got(r)) != 0 {
		t.Fatal("the counts of an id being forgotten were uploaded")
	}
	store.Reset()
	if at, ok := ForgetDue(cfg.Dir); !ok || !at.IsZero() {
		t.Fatalf("due %v %v after the reset", at, ok)
	}
	res := SendForgets(context.Background(), cfg, false, fixedBackoff)
	if res.Retry != 1 || !res.RetryAt.Equal(now.Add(10*time.Minute)) {
		t.Fatalf("503 with Retry-After: %+v", res)
	}
	req := got(r)[0]
	if req.URL.Path != ForgetPath || string(bodies(r)[0]) != `{"id":"`+p.ID+`"}` || req.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("request %s %s", req.URL, bodies(r)[0])
	}
	// Not due yet; forced (flush), it goes.
	if res := SendForgets(context.Background(), cfg, false, fixedBackoff); res.Retry != 0 || len(got(r)) != 1 {
		t.Fatalf("sent before its time: %+v", res)
	}
	if res := SendForgets(context.Background(), cfg, true, fixedBackoff); res.Retry != 1 || !res.RetryAt.Equal(now.Add(time.Minute)) {
		t.Fatalf("500: %+v", res)
	}
	lines, _ := ForgetStatus(cfg.Dir)
	if len(lines) != 1 || !strings.Contains(lines[0], "pending: 2 failed tries") || strings.Contains(lines[0], p.ID) {
		t.Fatalf("status %q", lines)
	}
	now = now.Add(time.Hour)
	res = SendForgets(context.Background(), cfg, false, fixedBackoff)
	if res.Confirmed != 1 || res.Erased[0] != "active_daily 4, install_state 1" {
		t.Fatalf("200: %+v", res)
	}
	if _, err := os.Stat(config.NewFolder(cfg.Dir).Forget()); !os.IsNotExist(err) {
		t.Fatalf("the request file stays after the confirmation: %v", err)
	}
	sent, _ := os.ReadFile(config.NewFolder(cfg.Dir).SentLog())
	if strings.Contains(string(sent), p.ID) || strings.Count(string(sent), "/forget") != 3 || !strings.Contains(string(sent), "HTTP 200: erased active_daily 4, install_state 1") {
		t.Fatalf("sent log:\n%s", sent)
	}
}

func TestSendForgetsStops(t *testing.T) {
	for _, c := range []struct {
		answer testenv.Answer
		want   string
	}{
		{answerJSON(501, `{"error":"erasure: remote write cannot delete; use delete_series"}`), "cannot erase from its store: erasure: remote write cannot delete; use delete_series"},
		{answerJSON(400, `{"error":"metric_points: missing"}`), "refused the request: receiver answered 400 Bad Request: {\"error\":\"metric_points: missing\"}"},
		{answerJSON(404, `not found`), "refused the request: receiver answered 404 Not Found"},
	} {
		cfg, r, _ := setup(t, c.answer)
		AddForget(cfg.Dir, oldID, time.Now())
		res := SendForgets(context.Background(), cfg, false, fixedBackoff)
		if res.Stopped != 1 || !strings.Contains(res.Err.Error(), c.want) {
			t.Fatalf("%s: %+v", c.want, res)
		}
		if _, ok := ForgetDue(cfg.Dir); ok {
			t.Fatal("a stopped request is still due")
		}
		if res := SendForgets(context.Background(), cfg, true, fixedBackoff); res.Stopped != 0 || len(got(r)) != 1 {
			t.Fatalf("a stopped request was sent again: %+v", res)
		}
		lines, _ := ForgetStatus(cfg.Dir)
		if len(lines) != 1 || !strings.Contains(lines[0], "stopped: the receiver "+c.want[:20]) {
			t.Fatalf("status %q", lines)
		}
		// Asking again starts it afresh.
		AddForget(cfg.Dir, oldID, time.Now())
		if _, ok := ForgetDue(cfg.Dir); !ok {
			t.Fatal("asking again does not resend")
		}
	}
}

func TestForgetFileDamaged(t *testing.T) {
	dir := t.TempDir()
	path := config.NewFolder(dir).Forget()
	os.WriteFile(path, []byte("{not json"), 0o600)
	if err := AddForget(dir, oldID, time.Now()); err == nil || !strings.Contains(err.Error(), "not valid JSON") || !strings.Contains(err.Error(), "pace telemetry forget") {
		t.Fatalf("damaged file: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "{not json" {
		t.Fatalf("the damaged file was changed: %q", b)
	}
	if _, err := ForgetStatus(dir); err == nil {
		t.Fatal("status hides a damaged request file")
	}
}
