package receiver

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
)

// TestGrafanaSinkThroughHandler configures the receiver from its
// environment as deployed, against a fake Graphite HTTP API that first
// refuses the key: the client gets 503, then 200 once the API accepts, and
// the key appears in no log line or response.
func TestGrafanaSinkThroughHandler(t *testing.T) {
	const key = "glc_eyJvIjoiMTIzIn0-secret"
	var accept atomic.Bool
	var bodies atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, k, _ := r.BasicAuth(); !accept.Load() || k != key || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "authentication error: invalid token "+k, http.StatusUnauthorized)
			return
		}
		b, _ := io.ReadAll(r.Body)
		if !strings.HasPrefix(string(b), `[{"name":"pace.cli.invocations","interval":900,`) {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		bodies.Add(1)
		io.WriteString(w, `{"invalid":0,"published":3}`)
	}))
	defer api.Close()
	env := map[string]string{
		"TELEMETRY_SINK":     api.URL + "/graphite/metrics",
		"GRAPHITE_USER":      "123456",
		"GRAPHITE_API_KEY":   key,
		"TELEMETRY_INTERVAL": "900",
	}
	var logs bytes.Buffer
	cfg, err := LoadConfig(func(k string) string { return env[k] }, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(cfg, Options{Stdout: io.Discard, Logger: NewLogger(&logs), Commands: []string{"pace version", "pace list tables"}})
	if err != nil {
		t.Fatal(err)
	}
	post := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/", strings.NewReader(goodBody))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	w := post()
	if w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("refused key: got %d %s", w.Code, w.Body)
	}
	if strings.Contains(w.Body.String(), key) || strings.Contains(logs.String(), key) {
		t.Fatalf("the key leaked:\nresponse %s\nlogs %s", w.Body, logs.String())
	}
	if !strings.Contains(logs.String(), "401") {
		t.Errorf("log does not say why the sink failed:\n%s", logs.String())
	}
	accept.Store(true)
	if w := post(); w.Code != 200 || w.Body.String() != "OK" || bodies.Load() != 1 {
		t.Fatalf("accepted: got %d %q, %d bodies", w.Code, w.Body, bodies.Load())
	}
}
