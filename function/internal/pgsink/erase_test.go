package pgsink_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pace-cli/pace/function/internal/pgsink"
	"github.com/pace-cli/pace/function/receiver"
)

const (
	id2       = "6c1f8d63-2a7b-4d2f-8e8f-3b2c4d5e6f70"
	id3       = "7d2a9e74-3b8c-4e3a-9f9a-4c3d5e6f7081"
	idUnknown = "8e3b0f85-4c9d-4f4b-8a0b-5d4e6f708192"
)

type cmap = map[string]map[int]uint64

// forget posts an erasure request as pace-telemetryd does and returns
// the status and the decoded answer.
func (r *rig) forget(t *testing.T, id string) (int, map[string]map[string]int64) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/telemetry/forget", strings.NewReader(`{"id":"`+id+`"}`))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	r.h.ServeHTTP(w, req)
	var ans map[string]map[string]int64
	if err := json.Unmarshal(w.Body.Bytes(), &ans); err != nil {
		t.Fatalf("answer %d %q: %v", w.Code, w.Body, err)
	}
	return w.Code, ans
}

// count is one query's single number.
func (r *rig) count(t *testing.T, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := r.conn(t).QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func TestEraseKnownAndUnknownID(t *testing.T) {
	r := newRig(t)
	day := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	r.at(day)
	r.post(t, body(id1, "v1.25.0", "linux", cmap{"pace list tables": {0: 3, 1: 1}, "pace version": {0: 1}}))
	r.post(t, body(id2, "v1.25.0", "darwin", cmap{"pace version": {0: 2}}))
	r.at(day.Add(24 * time.Hour))
	r.post(t, body(id1, "v1.26.0", "linux", cmap{"pace list tables": {0: 5, 1: 1}, "pace version": {0: 1}}))
	// The day's first upload started a prune in the background, which
	// drops the past day's bounds state (install_day); run it to the end
	// here, so that the erasure finds only today's row. Prunes take a
	// lock, so this one waits for the background one or makes it a no-op.
	if err := r.sink.Prune(context.Background(), day.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	runs := r.runs(t)

	code, known := r.forget(t, id1)
	want := map[string]int64{"active_daily": 2, "command_daily": 3, "crash_daily": 0, "install_day": 1, "install_state": 1}
	if code != 200 || !reflect.DeepEqual(known["erased"], want) || len(known) != 1 {
		t.Fatalf("known id: %d %v, want 200 %v", code, known, want)
	}
	key := r.sink.InstallKey(id1)
	for _, tbl := range []string{"install_state", "active_daily", "install_day", "command_daily"} {
		if n := r.count(t, `SELECT count(*) FROM `+tbl+` WHERE install_key = $1`, key); n != 0 {
			t.Fatalf("%d rows left in %s", n, tbl)
		}
	}
	// The other install is untouched; the aggregates keep their sums.
	if n := r.count(t, `SELECT sum(cardinality(counter_paths)) FROM install_state WHERE install_key = $1`, r.sink.InstallKey(id2)); n != 1 {
		t.Fatalf("the other install lost its counter: %d", n)
	}
	if got := r.runs(t); !reflect.DeepEqual(got, runs) {
		t.Fatalf("aggregates changed: %v, were %v", got, runs)
	}

	// An id never seen, and the erased one again: the same status and
	// shape, every table named, each with 0.
	zero := map[string]int64{"active_daily": 0, "command_daily": 0, "crash_daily": 0, "install_day": 0, "install_state": 0}
	for _, id := range []string{idUnknown, id1} {
		code, ans := r.forget(t, id)
		if code != 200 || !reflect.DeepEqual(ans["erased"], zero) || len(ans) != 1 {
			t.Fatalf("%s: %d %v", id, code, ans)
		}
	}

	// Coming back after the erasure, the install is new: its whole
	// cumulative counts are counted again (PACE's forget gives a new id,
	// so this is only a restored backup).
	r.post(t, body(id1, "v1.26.0", "linux", cmap{"pace version": {0: 1}}))
	if n := r.count(t, `SELECT count(*) FROM install_state`); n != 2 {
		t.Fatalf("%d installs after the return, want 2", n)
	}
}

// An upload of the same install racing its erasure is applied wholly
// before it or not at all: never half its rows left.
func TestEraseRacingUploads(t *testing.T) {
	r := newRig(t)
	for round := 0; round < 20; round++ {
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			r.post(t, body(id1, "v1.25.0", "linux", cmap{"pace list tables": {0: uint64(round + 1)}, "pace version": {0: 1}}))
		}()
		go func() { defer wg.Done(); r.forget(t, id1) }()
		wg.Wait()
		key := r.sink.InstallKey(id1)
		st := r.count(t, `SELECT count(*) FROM install_state WHERE install_key = $1`, key)
		ct := r.count(t, `SELECT coalesce(sum(cardinality(counter_paths)), 0) FROM install_state WHERE install_key = $1`, key)
		ad := r.count(t, `SELECT count(*) FROM active_daily WHERE install_key = $1`, key)
		if !(st == 0 && ct == 0 && ad == 0) && !(st == 1 && ct == 2 && ad == 1) {
			t.Fatalf("round %d: state %d, counters %d, active %d", round, st, ct, ad)
		}
		r.forget(t, id1)
	}
}

// openWith opens a second sink on the rig's database with other keys, and
// serves it with the rig's clock.
func (r *rig) openWith(t *testing.T, key, prev []byte) {
	t.Helper()
	s, err := pgsink.Open(context.Background(), pgsink.Config{DSN: r.dsn, IDKey: key, PreviousIDKey: prev, MaxConns: 16})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	h, err := receiver.NewHandler(receiver.HandlerConfig{Store: s, Now: func() time.Time { return time.Unix(0, r.now.Load()).UTC() }, Logger: receiver.NewLogger(io.Discard)})
	if err != nil {
		t.Fatal(err)
	}
	r.sink, r.h = s, h
}

// Key rotation: uploads before, during (new key, old as previous) and after
// (new key alone). Ground truth: with no resets, each install's runs are its
// latest cumulative counts, and its active days are the days it uploaded.
func TestKeyRotation(t *testing.T) {
	r := newRig(t) // testKey
	newKey := []byte("fedcba9876543210fedcba9876543210")
	now := time.Now().UTC()
	// Before: three installs, on two days.
	r.at(now.Add(-48 * time.Hour))
	r.post(t, body(id1, "v1.25.0", "linux", cmap{"pace list tables": {0: 3}}))
	r.post(t, body(id2, "v1.25.0", "darwin", cmap{"pace version": {0: 1}}))
	r.post(t, body(id3, "v1.25.0", "windows", cmap{"pace version": {0: 4}}))
	r.at(now.Add(-24 * time.Hour))
	r.post(t, body(id1, "v1.25.0", "linux", cmap{"pace list tables": {0: 5}, "pace version": {0: 1}}))
	r.post(t, body(id2, "v1.25.0", "darwin", cmap{"pace version": {0: 2}}))
	activeBefore := r.count(t, `SELECT count(*) FROM active_daily`)

	// During: the new key, the old one as previous.
	time.Sleep(10 * time.Millisecond) // the new key's first use comes after every upload above
	r.openWith(t, newKey, testKey)
	if n, err := r.sink.OldKeyStates(context.Background()); err != nil || n != 3 {
		t.Fatalf("old-key states at the rotation: %d %v, want 3", n, err)
	}
	r.at(time.Now().UTC())
	// id1 resends its last counts: nothing new; then a larger count.
	r.post(t, body(id1, "v1.25.0", "linux", cmap{"pace list tables": {0: 5}, "pace version": {0: 1}}))
	want(t, r.runs(t), map[string]int64{"pace list tables/0": 5, "pace version/0": 7})
	r.post(t, body(id1, "v1.25.0", "linux", cmap{"pace list tables": {0: 6}, "pace version": {0: 1}}))
	// id2 uploads from 16 goroutines at once: moved once, counted once.
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.post(t, body(id2, "v1.25.0", "darwin", cmap{"pace version": {0: 3}}))
		}()
	}
	wg.Wait()
	want(t, r.runs(t), map[string]int64{"pace list tables/0": 6, "pace version/0": 1 + 3 + 4})
	if n, _ := r.sink.OldKeyStates(context.Background()); n != 1 {
		t.Fatalf("old-key states with id3 still to come: %d, want 1", n)
	}
	// Every row of a moved install is under the new key, none under the old.
	for _, id := range []string{id1, id2} {
		oldKey := hmacKey(testKey, id)
		for _, tbl := range []string{"install_state", "active_daily", "install_day"} {
			if n := r.count(t, `SELECT count(*) FROM `+tbl+` WHERE install_key = $1`, oldKey); n != 0 {
				t.Fatalf("%s: %d rows left under the old key in %s", id, n, tbl)
			}
		}
	}
	// No activity row lost: the days before, plus today's two.
	if n := r.count(t, `SELECT count(*) FROM active_daily`); n != activeBefore+2 {
		t.Fatalf("%d activity rows, want %d", n, activeBefore+2)
	}
	if n := r.count(t, `SELECT count(*) FROM active_daily WHERE install_key = $1`, hmacKey(newKey, id1)); n != 3 {
		t.Fatalf("id1 has %d active days under the new key, want 3", n)
	}
	// An erasure during the transition finds id3 under the old key.
	code, ans := r.forget(t, id3)
	if code != 200 || ans["erased"]["install_state"] != 1 || ans["erased"]["active_daily"] != 1 {
		t.Fatalf("erasure of an install still under the old key: %d %v", code, ans)
	}
	if n, _ := r.sink.OldKeyStates(context.Background()); n != 0 {
		t.Fatalf("old-key states after the last install moved or went: %d", n)
	}

	// After: the new key alone. Nothing is new, nothing counted again.
	r.openWith(t, newKey, nil)
	r.post(t, body(id1, "v1.25.0", "linux", cmap{"pace list tables": {0: 6}, "pace version": {0: 2}}))
	r.post(t, body(id2, "v1.25.0", "darwin", cmap{"pace version": {0: 3}}))
	want(t, r.runs(t), map[string]int64{"pace list tables/0": 6, "pace version/0": 2 + 3 + 4})
	if n := r.count(t, `SELECT count(*) FROM install_state`); n != 2 {
		t.Fatalf("%d installs, want 2", n)
	}
}

// The receiver's start logs how many installs are left under the old key.
func TestKeyRotationStatusLine(t *testing.T) {
	r := newRig(t)
	r.at(time.Now().UTC().Add(-time.Hour))
	r.post(t, body(id1, "v1.25.0", "linux", cmap{"pace version": {0: 1}}))
	r.post(t, body(id2, "v1.25.0", "linux", cmap{"pace version": {0: 1}}))
	time.Sleep(10 * time.Millisecond)
	start := func(env map[string]string) string {
		t.Helper()
		env["TELEMETRY_SINK"] = r.dsn
		var log strings.Builder
		cfg, err := receiver.LoadConfig(func(k string) string { return env[k] }, os.ReadFile)
		if err != nil {
			t.Fatal(err)
		}
		st, err := cfg.OpenStore(context.Background(), receiver.Options{Logger: receiver.NewLogger(&log)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return log.String()
	}
	newKey := "fedcba9876543210fedcba9876543210"
	if got := start(map[string]string{"TELEMETRY_ID_KEY": string(testKey)}); strings.Contains(got, "key rotation") {
		t.Fatalf("no rotation, yet: %s", got)
	}
	got := start(map[string]string{"TELEMETRY_ID_KEY": newKey, "TELEMETRY_ID_KEY_PREVIOUS": string(testKey)})
	if !strings.Contains(got, `"installs_under_previous_key":2`) {
		t.Fatalf("start during the rotation logged: %s", got)
	}
	r.openWith(t, []byte(newKey), testKey)
	r.at(time.Now().UTC())
	r.post(t, body(id1, "v1.25.0", "linux", cmap{"pace version": {0: 2}}))
	r.forget(t, id2)
	got = start(map[string]string{"TELEMETRY_ID_KEY": newKey, "TELEMETRY_ID_KEY_PREVIOUS": string(testKey)})
	if !strings.Contains(got, `"installs_under_previous_key":0`) || !strings.Contains(got, "no install is left") {
		t.Fatalf("start at the end of the rotation logged: %s", got)
	}
}

func TestPreviousKeyRefused(t *testing.T) {
	env := map[string]string{"TELEMETRY_ID_KEY": string(testKey), "TELEMETRY_ID_KEY_PREVIOUS": string(testKey)}
	_, err := pgsink.ConfigFromEnv("postgres://u@h/db", func(k string) string { return env[k] }, nil)
	if err == nil || !strings.Contains(err.Error(), "the same as TELEMETRY_ID_KEY") {
		t.Fatalf("same key twice: %v", err)
	}
	_, err = pgsink.Open(context.Background(), pgsink.Config{DSN: "postgres://u@127.0.0.1:1/db", IDKey: testKey, PreviousIDKey: []byte("short")})
	if err == nil || !strings.Contains(err.Error(), "TELEMETRY_ID_KEY_PREVIOUS is 5 bytes") {
		t.Fatalf("short previous key: %v", err)
	}
}

func hmacKey(key []byte, id string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	return m.Sum(nil)
}
