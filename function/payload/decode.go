package payload

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// MaxSeries bounds the (command path, exit code) counters of one upload, so a
// hostile body cannot make the receiver build an unbounded request.
const MaxSeries = 1000

// MaxExitCode is the largest exit code a process can report on every OS we
// run on (POSIX keeps 8 bits).
const MaxExitCode = 255

// Decode parses an upload body strictly. encoding/json alone would accept
// field names in any case, unknown fields, duplicate keys (last one wins),
// null for anything and exit-code keys such as "+1" or "007"; the receiver
// trusts nothing, so Decode walks the tokens itself and accepts only the
// exact shape that Marshal produces, in any key order and whitespace:
//
//   - one JSON object with exactly the fields metric_points, cli_version,
//     operating_system (or its old name operation_version, which PACE's
//     original CLI v1.17-v1.18 sent) and id, each once, and nothing after it;
//   - metric_points: object of command path -> object of exit code ->
//     {"cumulative_count": N}; exit codes in canonical decimal 0..255,
//     N an integer 0..MaxCount; at most MaxSeries counters in all.
//
// Decode checks types and ranges only; Validate checks the values. Errors
// read "<field>: <what is wrong>".
//
// A body of that shape is read by decodeFast, a scanner for this one shape
// that allocates only what the Payload holds; anything else it does not
// take (a string with an escape, an error of any kind) is read again by
// decodeTokens, on encoding/json's tokens, which gives every error its
// message. FuzzDecodeFast holds decodeFast to decodeTokens.
func Decode(data []byte) (*Payload, error) {
	if p, ok := decodeFast(data); ok {
		return p, nil
	}
	return decodeTokens(data)
}

// decodeTokens is Decode on encoding/json's tokens.
func decodeTokens(data []byte) (*Payload, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	p := &Payload{}
	if err := openObject(d, "body"); err != nil {
		return nil, err
	}
	var seen [5]bool
	for d.More() {
		key, err := key(d, "body")
		if err != nil {
			return nil, err
		}
		i := 0
		switch key {
		case "metric_points":
			i = 0
			if !seen[i] {
				p.MetricPoints, err = decodePoints(d)
			}
		case "cli_version":
			i = 1
			if !seen[i] {
				p.CLIVersion, err = str(d, key)
			}
		case "operating_system", "operation_version":
			// PACE's original CLI v1.17.0-v1.18.0 sent the OS under
			// the name operation_version: one field, two names.
			i = 2
			if !seen[i] {
				p.OperatingSystem, err = str(d, key)
			}
		case "id":
			i = 3
			if !seen[i] {
				p.ID, err = str(d, key)
			}
		case "crash_sites":
			// Optional: PACE's original CLI and pace before 1.27 never
			// send it.
			i = 4
			if !seen[i] {
				p.CrashSites, err = decodeCrashSites(d)
			}
		default:
			return nil, fmt.Errorf("%s: unknown field", Quote(key))
		}
		if seen[i] {
			if i == 2 {
				return nil, errors.New("operating_system: duplicate field (operation_version is its old name: send one)")
			}
			return nil, fmt.Errorf("%s: duplicate field", key)
		}
		if err != nil {
			return nil, err
		}
		seen[i] = true
	}
	if err := closeObject(d, "body"); err != nil {
		return nil, err
	}
	for i, name := range [...]string{"metric_points", "cli_version", "operating_system", "id"} {
		if !seen[i] {
			return nil, fmt.Errorf("%s: missing", name)
		}
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("body: unexpected data after the JSON object")
	}
	return p, nil
}

// decodeCrashSites reads {"<command path>": {"<site>": {"cumulative_count":
// N}}}, at most MaxCrashSites sites in all. Their shapes are Validate's.
func decodeCrashSites(d *json.Decoder) (map[string]map[string]Point, error) {
	return decodeNested(d, "crash_sites", "crash site", MaxCrashSites, "crash sites", func(k string) (string, string) { return k, "" })
}

// decodePoints reads {"<command path>": {"<exit code>": {"cumulative_count":
// N}}}, at most MaxSeries counters in all.
func decodePoints(d *json.Decoder) (map[string]map[int]Point, error) {
	return decodeNested(d, "metric_points", "exit code", MaxSeries, "series", func(k string) (int, string) {
		code, err := strconv.Atoi(k)
		if err != nil || code < 0 || code > MaxExitCode || strconv.Itoa(code) != k {
			return 0, fmt.Sprintf("exit code must be an integer 0-%d in decimal", MaxExitCode)
		}
		return code, ""
	})
}

// decodeNested reads field, an object of command paths, each an object of
// inner keys (parse turns one into K, or says what is wrong with it) to
// points, at most max inner keys in all (named maxWhat in the error).
func decodeNested[K comparable](d *json.Decoder, field, inner string, max int, maxWhat string, parse func(string) (K, string)) (map[string]map[K]Point, error) {
	if err := openObject(d, field); err != nil {
		return nil, err
	}
	all := map[string]map[K]Point{}
	n := 0
	for d.More() {
		path, err := key(d, field)
		if err != nil {
			return nil, err
		}
		// Field names for errors are built only on error: this loop is
		// the receiver's hot path.
		pathField := func() string { return field + "[" + Quote(path) + "]" }
		if _, dup := all[path]; dup {
			return nil, fmt.Errorf("%s: duplicate command path", pathField())
		}
		if err := openObject(d, ""); err != nil {
			return nil, rename(err, pathField())
		}
		m := map[K]Point{}
		for d.More() {
			k, err := key(d, "")
			if err != nil {
				return nil, rename(err, pathField())
			}
			keyField := func() string { return pathField() + "[" + Quote(k) + "]" }
			v, bad := parse(k)
			if bad != "" {
				return nil, fmt.Errorf("%s: %s", keyField(), bad)
			}
			if _, dup := m[v]; dup {
				return nil, fmt.Errorf("%s: duplicate %s", keyField(), inner)
			}
			if n++; n > max {
				return nil, fmt.Errorf("%s: more than %d %s", field, max, maxWhat)
			}
			pt, err := decodePoint(d)
			if err != nil {
				return nil, rename(err, keyField())
			}
			m[v] = pt
		}
		if err := closeObject(d, ""); err != nil {
			return nil, rename(err, pathField())
		}
		all[path] = m
	}
	return all, closeObject(d, field)
}

// fieldError is an error whose field name is filled in by the caller.
type fieldError struct {
	field, msg string
}

func (e *fieldError) Error() string { return e.field + e.msg }

// rename puts field in front of a fieldError from a helper called with an
// empty field name.
func rename(err error, field string) error {
	if fe, ok := err.(*fieldError); ok && fe.field == "" {
		return &fieldError{field: field, msg: fe.msg}
	}
	return err
}

// decodePoint reads {"cumulative_count": N}. Its errors are fieldErrors
// without a field, for the caller to rename.
func decodePoint(d *json.Decoder) (Point, error) {
	if err := openObject(d, ""); err != nil {
		return Point{}, err
	}
	var pt Point
	seen := false
	for d.More() {
		k, err := key(d, "")
		if err != nil {
			return Point{}, err
		}
		if k != "cumulative_count" {
			return Point{}, &fieldError{msg: "[" + Quote(k) + "]: unknown field"}
		}
		if seen {
			return Point{}, &fieldError{msg: ".cumulative_count: duplicate field"}
		}
		seen = true
		tok, err := d.Token()
		if err != nil {
			return Point{}, syntaxError("", err)
		}
		num, ok := tok.(json.Number)
		if !ok {
			return Point{}, &fieldError{msg: ".cumulative_count: must be a number"}
		}
		c, err := strconv.ParseUint(string(num), 10, 64)
		if err != nil || c > MaxCount {
			return Point{}, &fieldError{msg: fmt.Sprintf(".cumulative_count: must be an integer 0-%d", uint64(MaxCount))}
		}
		pt.CumulativeCount = c
	}
	if !seen {
		return Point{}, &fieldError{msg: ".cumulative_count: missing"}
	}
	return pt, closeObject(d, "")
}

func openObject(d *json.Decoder, field string) error {
	tok, err := d.Token()
	if err != nil {
		return syntaxError(field, err)
	}
	if tok != json.Delim('{') {
		return &fieldError{field, ": must be a JSON object"}
	}
	return nil
}

// closeObject consumes the '}' that must follow once d.More is false.
func closeObject(d *json.Decoder, field string) error {
	tok, err := d.Token()
	if err != nil {
		return syntaxError(field, err)
	}
	if tok != json.Delim('}') {
		return &fieldError{field, ": malformed JSON object"}
	}
	return nil
}

func key(d *json.Decoder, field string) (string, error) {
	tok, err := d.Token()
	if err != nil {
		return "", syntaxError(field, err)
	}
	k, ok := tok.(string)
	if !ok {
		return "", &fieldError{field, ": malformed JSON object"}
	}
	return k, nil
}

func str(d *json.Decoder, field string) (string, error) {
	tok, err := d.Token()
	if err != nil {
		return "", syntaxError(field, err)
	}
	s, ok := tok.(string)
	if !ok {
		// Also catches an object or array, whose first token is a Delim;
		// the error stops decoding, so the rest is never read.
		return "", fmt.Errorf("%s: must be a string", field)
	}
	return s, nil
}

func syntaxError(field string, err error) error {
	if err == io.EOF {
		return &fieldError{field, ": unexpected end of JSON"}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &fieldError{field, fmt.Sprintf(": malformed JSON at byte %d", se.Offset)}
	}
	return &fieldError{field, ": malformed JSON"}
}

// Quote quotes s for an error message, ASCII only and cut to a bounded
// length, so a hostile value cannot flood a response or a log line.
func Quote(s string) string {
	const max = 40
	if len(s) > max {
		return strconv.QuoteToASCII(s[:max]) + "..."
	}
	return strconv.QuoteToASCII(s)
}
