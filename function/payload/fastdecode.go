package payload

import "unicode/utf8"

// scanner reads the one shape Decode takes from a byte slice, without
// encoding/json's tokens. It only ever says yes or no: on no, Decode reads
// the body again with decodeTokens, for the error message.
//
// It reads a string copy of the body, made once, so that the Payload's
// strings (command paths, sites, version, system, id) are substrings of it
// rather than one allocation each.
type scanner struct {
	b string
	i int
}

// ws skips JSON whitespace.
func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// byte1 consumes c after whitespace.
func (s *scanner) byte1(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// more reports, after whitespace, whether an object goes on: after '{' or
// a member, a '}' ends it (not consumed) and, after a member, a ',' is
// consumed before the next key.
func (s *scanner) more(first bool) (more, ok bool) {
	s.ws()
	if s.i >= len(s.b) {
		return false, false
	}
	if s.b[s.i] == '}' {
		return false, true
	}
	if first {
		return true, true
	}
	if s.b[s.i] != ',' {
		return false, false
	}
	s.i++
	return true, true
}

// str reads a string without escapes, of valid UTF-8 and no control
// characters, and returns its bytes (aliasing the input).
func (s *scanner) str() (string, bool) {
	if !s.byte1('"') {
		return "", false
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			return v, utf8.ValidString(v)
		case c == '\\' || c < 0x20:
			return "", false
		}
		s.i++
	}
	return "", false
}

// key reads a string and the ':' after it.
func (s *scanner) key() (string, bool) {
	k, ok := s.str()
	return k, ok && s.byte1(':')
}

// point reads {"cumulative_count": N}, N in canonical decimal 0..MaxCount.
func (s *scanner) point() (Point, bool) {
	if !s.byte1('{') {
		return Point{}, false
	}
	k, ok := s.key()
	if !ok || k != "cumulative_count" {
		return Point{}, false
	}
	s.ws()
	start := s.i
	var n uint64
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		n = n*10 + uint64(s.b[s.i]-'0')
		s.i++
		if s.i-start > 10 { // longer than MaxCount's 10 digits
			return Point{}, false
		}
	}
	if d := s.i - start; d == 0 || d > 1 && s.b[start] == '0' || n > MaxCount {
		return Point{}, false
	}
	return Point{CumulativeCount: n}, s.byte1('}')
}

// exitCode parses a canonical decimal 0..MaxExitCode.
func exitCode(k string) (int, bool) {
	if len(k) == 0 || len(k) > 3 || len(k) > 1 && k[0] == '0' {
		return 0, false
	}
	n := 0
	for i := range len(k) {
		c := k[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n <= MaxExitCode
}

// points reads metric_points: command path -> exit code -> point.
func (s *scanner) points() (map[string]map[int]Point, bool) {
	return nested(s, MaxSeries, exitCode)
}

// crashSites reads crash_sites: command path -> crash site -> point.
func (s *scanner) crashSites() (map[string]map[string]Point, bool) {
	return nested(s, MaxCrashSites, func(site string) (string, bool) { return site, true })
}

// nested reads an object of objects of points, {"path": {"k": point}},
// each inner key read by inner, at most limit points in all; no key
// twice at either level.
func nested[K comparable](s *scanner, limit int, inner func(string) (K, bool)) (map[string]map[K]Point, bool) {
	if !s.byte1('{') {
		return nil, false
	}
	all := map[string]map[K]Point{}
	n := 0
	for first := true; ; first = false {
		more, ok := s.more(first)
		if !ok {
			return nil, false
		}
		if !more {
			break
		}
		path, ok := s.key()
		if !ok {
			return nil, false
		}
		if _, dup := all[path]; dup || !s.byte1('{') {
			return nil, false
		}
		points := map[K]Point{}
		for first := true; ; first = false {
			more, ok := s.more(first)
			if !ok {
				return nil, false
			}
			if !more {
				break
			}
			raw, ok := s.key()
			if !ok {
				return nil, false
			}
			k, ok := inner(raw)
			if !ok {
				return nil, false
			}
			if _, dup := points[k]; dup {
				return nil, false
			}
			if n++; n > limit {
				return nil, false
			}
			pt, ok := s.point()
			if !ok {
				return nil, false
			}
			points[k] = pt
		}
		s.i++ // '}'
		all[path] = points
	}
	s.i++ // '}'
	return all, true
}

// decodeFast reads a body of exactly the shape Decode takes, or says no.
func decodeFast(data []byte) (*Payload, bool) {
	s := scanner{b: string(data)}
	if !s.byte1('{') {
		return nil, false
	}
	p := &Payload{}
	var seen [5]bool
	for first := true; ; first = false {
		more, ok := s.more(first)
		if !ok {
			return nil, false
		}
		if !more {
			break
		}
		k, ok := s.key()
		if !ok {
			return nil, false
		}
		i := 0
		switch k {
		case "metric_points":
			i = 0
			if !seen[i] {
				p.MetricPoints, ok = s.points()
			}
		case "cli_version":
			i = 1
			if !seen[i] {
				p.CLIVersion, ok = s.str()
			}
		case "operating_system", "operation_version":
			i = 2
			if !seen[i] {
				p.OperatingSystem, ok = s.str()
			}
		case "id":
			i = 3
			if !seen[i] {
				p.ID, ok = s.str()
			}
		case "crash_sites":
			i = 4
			if !seen[i] {
				p.CrashSites, ok = s.crashSites()
			}
		default:
			return nil, false
		}
		if seen[i] || !ok {
			return nil, false
		}
		seen[i] = true
	}
	s.i++ // '}'
	if !seen[0] || !seen[1] || !seen[2] || !seen[3] {
		return nil, false
	}
	s.ws()
	if s.i != len(s.b) {
		return nil, false
	}
	return p, true
}
