package upload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/pace-cli/pace/internal/config"
	"github.com/pace-cli/pace/internal/lockedfile"
	"github.com/pace-cli/pace/internal/telemetry"
)

// ForgetFileName holds the erasure requests that `pace telemetry forget`
// wrote and the receiver has not yet confirmed. Each holds an old id: the
// id is the only proof the receiver asks for, so the file is as private
// as telemetry.yaml, and a confirmed request leaves it.
const ForgetFileName = config.ForgetName

// ForgetPath is the path the daemon posts an erasure request to, after
// the endpoint's own: PACE's original CLI only ever posts its counts to
// the endpoint itself, so its uploads never reach the erasure route.
const ForgetPath = "/forget"

// Forget lock patience: the file is tiny and held for a read and a write.
const (
	forgetIdle = time.Second
	forgetMost = 10 * time.Second
	forgetMax  = 1 << 20
)

// ForgetRequest is one install's request to erase what the receiver keeps
// under its id.
type ForgetRequest struct {
	ID          string    `json:"id"`
	Requested   time.Time `json:"requested"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	Failures    int       `json:"failures,omitempty"`
	RetryAt     time.Time `json:"retry_at,omitzero"`
	// Stopped says why the request is no longer sent: the receiver's store
	// cannot erase (its write protocol has no delete), or the receiver
	// refused the request. "pace telemetry status" shows it.
	Stopped string `json:"stopped,omitempty"`
}

type forgetFile struct {
	Requests []ForgetRequest `json:"requests"`
}

// LoadForgets reads the pending erasure requests of dir; none when the
// file does not exist.
func LoadForgets(dir string) ([]ForgetRequest, error) {
	data, err := lockedfile.Read(config.NewFolder(dir).Forget(), forgetMax)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var f forgetFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %v", ForgetFileName, err)
	}
	for i := range f.Requests {
		f.Requests[i].LastError = Sanitize(f.Requests[i].LastError, 4*MaxAnswer)
		f.Requests[i].Stopped = Sanitize(f.Requests[i].Stopped, 4*MaxAnswer)
	}
	return f.Requests, nil
}

// AddForget records a request to erase id at the receiver. A second
// request for the same id is the same request (sent afresh if it had
// stopped).
func AddForget(dir, id string, at time.Time) error {
	return editForgets(dir, func(rs []ForgetRequest) []ForgetRequest {
		for i := range rs {
			if rs[i].ID == id {
				rs[i] = ForgetRequest{ID: id, Requested: rs[i].Requested}
				return rs
			}
		}
		return append(rs, ForgetRequest{ID: id, Requested: at.UTC()})
	})
}

// editForgets changes the requests under the file's lock, atomically;
// with none left, the file goes (under the lock too, so that a request
// added meanwhile is never removed with it).
func editForgets(dir string, change func([]ForgetRequest) []ForgetRequest) error {
	path := config.NewFolder(dir).Forget()
	return lockedfile.Edit(path, forgetIdle, forgetMost, forgetMax, config.FilePerm, func(data []byte, readErr error) ([]byte, error) {
		var f forgetFile
		switch {
		case errors.Is(readErr, fs.ErrNotExist):
		case readErr != nil:
			return nil, readErr
		default:
			if err := json.Unmarshal(data, &f); err != nil {
				// Never drop an erasure request silently: say so, and
				// leave the file for the user to see.
				return nil, fmt.Errorf("%s is not valid JSON (%v): fix it, or delete it and run 'pace telemetry forget' again", path, err)
			}
		}
		f.Requests = change(f.Requests)
		if len(f.Requests) == 0 {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
			return nil, nil
		}
		out, err := json.MarshalIndent(f, "", "  ")
		return append(out, '\n'), err
	})
}

// forgetting tells whether id has an erasure request waiting.
func forgetting(dir, id string) bool {
	rs, _ := LoadForgets(dir)
	for _, r := range rs {
		if r.ID == id && r.Stopped == "" {
			return true
		}
	}
	return false
}

// currentID is the id in telemetry.yaml now, "" if none can be read.
func currentID(dir string) string {
	p, err := (&telemetry.Store{Dir: dir}).Load()
	if err != nil {
		return ""
	}
	return p.ID
}

// ForgetDue returns when the next erasure request may be sent; ok is
// false when none is waiting. A request whose id is still telemetry.yaml's
// waits for `forget` to give the file its new id (a change the daemon
// watches for), so that no upload of the old id follows its erasure.
func ForgetDue(dir string) (at time.Time, ok bool) {
	rs, err := LoadForgets(dir)
	if err != nil || len(rs) == 0 {
		return time.Time{}, false
	}
	cur := currentID(dir)
	for _, r := range rs {
		if r.Stopped != "" || r.ID == cur {
			continue
		}
		if !ok || r.RetryAt.Before(at) {
			at, ok = r.RetryAt, true
		}
	}
	return at, ok
}

// ForgetResult is what one round of erasure requests came to.
type ForgetResult struct {
	Confirmed int      // the receiver erased (or never had) the id's data
	Erased    []string // per confirmed request, the receiver's counts, e.g. "install_state 1, active_daily 12"
	Retry     int      // will be sent again
	Stopped   int      // will not be sent again: Err says why
	Waiting   int      // the id is still telemetry.yaml's (forget has not reset it yet)
	// RetryAt is the earliest next try of a request to retry.
	RetryAt time.Time
	Err     error // the last failure
	LogErr  error // the sent log could not be written
}

// erasureAnswer is the receiver's answer to an erasure request.
type erasureAnswer struct {
	Erased map[string]int64 `json:"erased"`
	Error  string           `json:"error"`
}

// SendForgets sends the erasure requests that are due (all of them when
// force), each once, and records each outcome in the request file and the
// sent log. backoff gives the wait after n failures in a row.
func SendForgets(ctx context.Context, cfg Config, force bool, backoff func(failures int) time.Duration) ForgetResult {
	var res ForgetResult
	now := time.Now
	if cfg.Now != nil {
		now = cfg.Now
	}
	rs, err := LoadForgets(cfg.Dir)
	if err != nil {
		res.Err = err
		return res
	}
	if cfg.Endpoint == "" {
		if len(rs) > 0 {
			res.Err = errors.New("no endpoint is set")
		}
		return res
	}
	target, err := forgetURL(cfg.Endpoint)
	if err != nil {
		res.Err = err
		return res
	}
	cur := currentID(cfg.Dir)
	for _, r := range rs {
		switch {
		case r.Stopped != "":
			continue
		case r.ID == cur:
			res.Waiting++
			continue
		case !force && now().Before(r.RetryAt):
			if res.RetryAt.IsZero() || r.RetryAt.Before(res.RetryAt) {
				res.RetryAt = r.RetryAt
			}
			continue
		}
		body, _ := json.Marshal(struct {
			ID string `json:"id"`
		}{r.ID})
		at := now()
		pr := postTo(ctx, cfg, target, body)
		var ans erasureAnswer
		if pr.body != nil {
			json.Unmarshal(pr.body, &ans)
		}
		r.LastAttempt = at
		remove := false
		switch {
		case pr.Status >= 200 && pr.Status < 300:
			remove = true
			res.Confirmed++
			res.Erased = append(res.Erased, erasedText(ans.Erased))
		case pr.Status == http.StatusNotImplemented:
			// The store cannot delete by its write protocol: sending
			// again would get the same answer.
			r.Stopped = "the receiver cannot erase from its store: " + Sanitize(orStatus(ans.Error, pr), MaxAnswer)
			res.Stopped++
			res.Err = errors.New(r.Stopped)
		case pr.Outcome == Retry:
			r.Failures++
			r.LastError = pr.Err.Error()
			wait := backoff(r.Failures)
			if pr.RetryAfter > wait {
				wait = pr.RetryAfter
			}
			r.RetryAt = at.Add(wait)
			res.Retry++
			res.Err = pr.Err
			if res.RetryAt.IsZero() || r.RetryAt.Before(res.RetryAt) {
				res.RetryAt = r.RetryAt
			}
		default:
			r.Stopped = "the receiver refused the request: " + pr.Err.Error()
			res.Stopped++
			res.Err = errors.New(r.Stopped)
		}
		if err := logForget(cfg.Dir, at, Redact(target), pr, ans); err != nil {
			res.LogErr = err
		}
		id, upd := r.ID, r
		if err := editForgets(cfg.Dir, func(rs []ForgetRequest) []ForgetRequest {
			out := rs[:0]
			for _, x := range rs {
				if x.ID != id {
					out = append(out, x)
				} else if !remove {
					out = append(out, upd)
				}
			}
			return out
		}); err != nil {
			res.Err = fmt.Errorf("record the erasure request's outcome: %w", err)
		}
	}
	return res
}

func orStatus(msg string, pr Result) string {
	if msg != "" {
		return msg
	}
	if pr.Err != nil {
		return pr.Err.Error()
	}
	return fmt.Sprintf("HTTP %d", pr.Status)
}

// erasedText shows the receiver's counts per table, in name order.
func erasedText(m map[string]int64) string {
	if len(m) == 0 {
		return "nothing kept"
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", Sanitize(n, 64), m[n])
	}
	return strings.Join(parts, ", ")
}

// forgetURL is the endpoint's erasure route: its path with ForgetPath
// added, the rest as it is.
func forgetURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("endpoint %s is not a usable URL", Redact(endpoint))
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + ForgetPath
	u.RawPath = ""
	return u.String(), nil
}

// logForget records an erasure request in the sent log. The id it sent is
// left out: it is what the request erases, and the log outlives it.
func logForget(dir string, at time.Time, target string, pr Result, ans erasureAnswer) error {
	answer := fmt.Sprintf("HTTP %d", pr.Status)
	switch {
	case pr.Status >= 200 && pr.Status < 300:
		answer += ": erased " + erasedText(ans.Erased)
	case pr.Err != nil:
		answer = fmt.Sprintf("%s (%v)", answer, pr.Err)
	}
	entry := fmt.Sprintf("%s POST %s\n{\"id\":\"(the id whose data is erased; not kept)\"}\n-> %s\n\n", at.UTC().Format(time.RFC3339), target, answer)
	return appendSentLog(dir, entry)
}

// ForgetStatus describes each erasure request of dir in one line, for
// the status commands; nil when there is none.
func ForgetStatus(dir string) ([]string, error) {
	rs, err := LoadForgets(dir)
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	cur := currentID(dir)
	out := make([]string, len(rs))
	for i, r := range rs {
		since := r.Requested.Local().Format(time.RFC3339)
		switch {
		case r.Stopped != "":
			out[i] = fmt.Sprintf("requested %s, stopped: %s; 'pace telemetry clean' deletes the request", since, r.Stopped)
		case r.ID == cur:
			out[i] = fmt.Sprintf("requested %s, waiting: telemetry.yaml still holds the id to erase; run 'pace telemetry forget' again", since)
		case r.Failures > 0:
			out[i] = fmt.Sprintf("requested %s, pending: %d failed tries, the last: %s; next try at %s", since, r.Failures, r.LastError, r.RetryAt.Local().Format(time.RFC3339))
		default:
			out[i] = fmt.Sprintf("requested %s, pending: not sent yet (pace-telemetryd sends it, or run 'pace-telemetryd flush')", since)
		}
	}
	return out, nil
}
