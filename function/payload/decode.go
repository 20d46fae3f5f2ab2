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
//     operating_system and id, each once, and nothing after it;
//   - metric_points: object of command path -> object of exit code ->
//     {"cumulative_count": N}; exit codes in canonical decimal 0..255,
//     N an integer 0..MaxCount; at most MaxSeries counters in all.
//
// Decode checks types and ranges only; Validate checks the values. Errors
// read "<field>: <what is wrong>".
func Decode(data []byte) (*Payload, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	p := &Payload{}
	if err := openObject(d, "body"); err != nil {
		return nil, err
	}
	var seen [4]bool
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
		case "operating_system":
			i = 2
			if !seen[i] {
				p.OperatingSystem, err = str(d, key)
			}
		case "id":
			i = 3
			if !seen[i] {
				p.ID, err = str(d, key)
			}
		default:
			return nil, fmt.Errorf("%s: unknown field", Quote(key))
		}
		if seen[i] {
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

func decodePoints(d *json.Decoder) (map[string]map[int]Point, error) {
	const field = "metric_points"
	if err := openObject(d, field); err != nil {
		return nil, err
	}
	points := map[string]map[int]Point{}
	n := 0
	for d.More() {
		path, err := key(d, field)
		if err != nil {
			return nil, err
		}
		pathField := field + "[" + Quote(path) + "]"
		if _, dup := points[path]; dup {
			return nil, fmt.Errorf("%s: duplicate command path", pathField)
		}
		if err := openObject(d, pathField); err != nil {
			return nil, err
		}
		codes := map[int]Point{}
		for d.More() {
			k, err := key(d, pathField)
			if err != nil {
				return nil, err
			}
			codeField := pathField + "[" + Quote(k) + "]"
			code, err := strconv.Atoi(k)
			if err != nil || code < 0 || code > MaxExitCode || strconv.Itoa(code) != k {
				return nil, fmt.Errorf("%s: exit code must be an integer 0-%d in decimal", codeField, MaxExitCode)
			}
			if _, dup := codes[code]; dup {
				return nil, fmt.Errorf("%s: duplicate exit code", codeField)
			}
			if n++; n > MaxSeries {
				return nil, fmt.Errorf("%s: more than %d series", field, MaxSeries)
			}
			pt, err := decodePoint(d, codeField)
			if err != nil {
				return nil, err
			}
			codes[code] = pt
		}
		if err := closeObject(d, pathField); err != nil {
			return nil, err
		}
		points[path] = codes
	}
	return points, closeObject(d, field)
}

func decodePoint(d *json.Decoder, field string) (Point, error) {
	if err := openObject(d, field); err != nil {
		return Point{}, err
	}
	var pt Point
	seen := false
	for d.More() {
		k, err := key(d, field)
		if err != nil {
			return Point{}, err
		}
		if k != "cumulative_count" {
			return Point{}, fmt.Errorf("%s[%s]: unknown field", field, Quote(k))
		}
		if seen {
			return Point{}, fmt.Errorf("%s.cumulative_count: duplicate field", field)
		}
		seen = true
		tok, err := d.Token()
		if err != nil {
			return Point{}, syntaxError(field, err)
		}
		num, ok := tok.(json.Number)
		if !ok {
			return Point{}, fmt.Errorf("%s.cumulative_count: must be a number", field)
		}
		c, err := strconv.ParseUint(string(num), 10, 64)
		if err != nil || c > MaxCount {
			return Point{}, fmt.Errorf("%s.cumulative_count: must be an integer 0-%d", field, uint64(MaxCount))
		}
		pt.CumulativeCount = c
	}
	if !seen {
		return Point{}, fmt.Errorf("%s.cumulative_count: missing", field)
	}
	return pt, closeObject(d, field)
}

func openObject(d *json.Decoder, field string) error {
	tok, err := d.Token()
	if err != nil {
		return syntaxError(field, err)
	}
	if tok != json.Delim('{') {
		return fmt.Errorf("%s: must be a JSON object", field)
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
		return fmt.Errorf("%s: malformed JSON object", field)
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
		return "", fmt.Errorf("%s: malformed JSON object", field)
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
		return fmt.Errorf("%s: unexpected end of JSON", field)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%s: malformed JSON at byte %d", field, se.Offset)
	}
	return fmt.Errorf("%s: malformed JSON", field)
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
