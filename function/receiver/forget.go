package receiver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pace-cli/pace/function/internal/sink"
	"github.com/pace-cli/pace/function/payload"
)

// ForgetPath ends the path of an installation's erasure request:
// POST <endpoint>/forget with {"id":"…"}. PACE's original CLI only
// ever posts its counts to the endpoint itself, so none of its uploads
// reaches this route, and a POST (rather than a DELETE with a body, whose
// meaning HTTP leaves undefined and which some proxies drop) passes every
// proxy an upload passes. The id travels in the body, never in the URL,
// which request logs keep.
const ForgetPath = "/forget"

// maxForgetBytes bounds an erasure request: {"id":"<36 characters>"}.
const maxForgetBytes = 1 << 10

// isForget tells an erasure request's path from an upload's.
func isForget(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, ForgetPath) }

// forget erases what the store keeps under an installation's id. The id
// is the proof: a random UUID that only its holder knows. It answers 200
// with {"erased":{"<table>":<rows>,…}}, every table of the store named
// whether the id was known or not (an unknown id gives zeros), so that the
// status and shape of the answer never tell a stranger who guessed an id
// more than its holder already knows. A store that cannot delete answers
// 501, a lasting answer the daemon stops retrying on.
func (h *routes) forget(w http.ResponseWriter, r *http.Request) {
	out := outcomeOf(r)
	out.erasure = true
	fail := func(status int, msg string) {
		out.err = msg
		writeError(w, status, msg)
	}
	if !isJSONPost(w, r, fail) {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxForgetBytes+1))
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			fail(http.StatusRequestTimeout, "body: not received in time")
		} else {
			fail(http.StatusBadRequest, "body: could not be read")
		}
		return
	}
	if len(body) > maxForgetBytes {
		fail(http.StatusRequestEntityTooLarge, fmt.Sprintf("body: larger than %d bytes; an erasure request is {\"id\":\"…\"}", maxForgetBytes))
		return
	}
	var req struct {
		ID *string `json:"id"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || dec.More() {
		fail(http.StatusBadRequest, `body: an erasure request is one JSON object, {"id":"…"} with the installation's UUID, and nothing else`)
		return
	}
	// The message never quotes the id: a near miss is still personal data.
	if req.ID == nil || payload.ValidID(*req.ID) != nil {
		fail(http.StatusBadRequest, "id: must be the installation's lowercase UUID like 36be4c46-4e1b-431d-b9db-1b315f537a85")
		return
	}
	erased, err := h.sink.Erase(r.Context(), *req.ID)
	var cannot *sink.CannotEraseError
	if errors.As(err, &cannot) {
		fail(http.StatusNotImplemented, "erasure: "+cannot.Error())
		return
	}
	if err != nil {
		w.Header().Set("Retry-After", strconv.Itoa(int(RetryAfter/time.Second)))
		fail(http.StatusServiceUnavailable, "sink: unavailable; retry later")
		out.err = "sink: " + scrubID(err.Error(), *req.ID)
		return
	}
	b, _ := json.Marshal(struct {
		Erased map[string]int64 `json:"erased"`
	}{erased})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(append(b, '\n'))
}
