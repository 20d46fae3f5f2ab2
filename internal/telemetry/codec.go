package telemetry

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/pace-cli/pace/function/payload"
)

// The file is plain YAML that any parser reads, but the CLI reads and
// writes it on every run, and yaml.v3 takes milliseconds for a few hundred
// counters. So we write one canonical layout by hand (the one yaml.v3 itself
// would write) and read that layout with a line scanner. Anything else, such
// as a file a person edited, takes the slow path through yaml.v3 and is then
// written back in canonical form.

// encode renders p in the canonical layout: keys sorted, 4-space indents.
func encode(p *payload.Payload) []byte {
	var b bytes.Buffer
	b.Grow(64 + 70*p.Counters())
	paths := make([]string, 0, len(p.MetricPoints))
	for path := range p.MetricPoints {
		paths = append(paths, path)
	}
	slices.Sort(paths)
	b.WriteString("metric_points:")
	if len(paths) == 0 {
		b.WriteString(" {}")
	}
	b.WriteByte('\n')
	codes := make([]int, 0, 8)
	for _, path := range paths {
		b.WriteString("    ")
		b.WriteString(path) // validated: plain scalar characters only
		b.WriteString(":\n")
		codes = codes[:0]
		for code := range p.MetricPoints[path] {
			codes = append(codes, code)
		}
		slices.Sort(codes)
		for _, code := range codes {
			b.WriteString("        ")
			b.WriteString(strconv.Itoa(code))
			b.WriteString(":\n            cumulative_count: ")
			b.WriteString(strconv.FormatUint(p.MetricPoints[path][code].CumulativeCount, 10))
			b.WriteByte('\n')
		}
	}
	writeField(&b, "cli_version", p.CLIVersion)
	writeField(&b, "operating_system", p.OperatingSystem)
	writeField(&b, "id", p.ID)
	return b.Bytes()
}

func writeField(b *bytes.Buffer, key, value string) {
	b.WriteString(key)
	b.WriteString(": ")
	if plain(value) {
		b.WriteString(value)
	} else {
		// A JSON string is a valid YAML double-quoted scalar.
		b.WriteString(strconv.QuoteToASCII(value))
	}
	b.WriteByte('\n')
}

// plain reports whether s can be written as a YAML plain scalar and read
// back as the same string by any YAML 1.1 or 1.2 parser.
func plain(s string) bool {
	if s == "" || !isAlnum(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '.' && c != '-' && c != '_' && c != '+' {
			return false
		}
	}
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "y", "n", "null", "nan", "inf":
		return false
	}
	// YAML 1.1 reads 2026-11-25... as a timestamp.
	if len(s) >= 8 && s[4] == '-' && strings.Trim(s[:4], "0123456789") == "" {
		return false
	}
	// Numbers (1, 1.5, 1e3, 0x1f, 1_000) would not read back as strings.
	if _, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64); err == nil {
		return false
	}
	if _, err := strconv.ParseInt(s, 0, 64); err == nil {
		return false
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// errNotCanonical sends decode to the slow path.
var errNotCanonical = errors.New("not in canonical layout")

// decode parses and validates a telemetry file.
func decode(data []byte) (*payload.Payload, error) {
	p, err := decodeCanonical(data)
	if errors.Is(err, errNotCanonical) {
		p, err = decodeYAML(data)
	}
	if err != nil {
		return nil, err
	}
	if err := validate(p); err != nil {
		return nil, err
	}
	return p, nil
}

// decodeCanonical reads exactly what encode writes and gives up with
// errNotCanonical on anything else.
func decodeCanonical(data []byte) (*payload.Payload, error) {
	p := &payload.Payload{MetricPoints: map[string]map[int]payload.Point{}}
	var (
		codes   map[int]payload.Point
		code    = -1
		fields  int
		seen    [3]bool
		rest    = data
		line    []byte
		started bool
	)
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return nil, errNotCanonical // last line must end in \n
		}
		line, rest = rest[:i], rest[i+1:]
		if !started {
			switch string(line) {
			case "metric_points:", "metric_points: {}":
				started = true
				continue
			}
			return nil, errNotCanonical
		}
		switch {
		case bytes.HasPrefix(line, []byte("            cumulative_count: ")):
			if codes == nil || code < 0 || fields > 0 {
				return nil, errNotCanonical
			}
			n, err := strconv.ParseUint(string(line[30:]), 10, 64)
			if err != nil {
				return nil, errNotCanonical
			}
			codes[code] = payload.Point{CumulativeCount: n}
			code = -1
		case bytes.HasPrefix(line, []byte("        ")):
			if codes == nil || code >= 0 || fields > 0 || !bytes.HasSuffix(line, []byte(":")) {
				return nil, errNotCanonical
			}
			n, err := strconv.Atoi(string(line[8 : len(line)-1]))
			if err != nil || n < 0 || strconv.Itoa(n) != string(line[8:len(line)-1]) {
				return nil, errNotCanonical
			}
			if _, dup := codes[n]; dup {
				return nil, errNotCanonical
			}
			code = n
		case bytes.HasPrefix(line, []byte("    ")):
			if code >= 0 || fields > 0 || !bytes.HasSuffix(line, []byte(":")) {
				return nil, errNotCanonical
			}
			path := string(line[4 : len(line)-1])
			if _, dup := p.MetricPoints[path]; dup || payload.ValidCommandPath(path) != nil {
				return nil, errNotCanonical
			}
			codes = map[int]payload.Point{}
			p.MetricPoints[path] = codes
		default:
			if code >= 0 {
				return nil, errNotCanonical
			}
			key, value, ok := strings.Cut(string(line), ": ")
			if !ok || !plain(value) {
				return nil, errNotCanonical
			}
			var field *string
			switch key {
			case "cli_version":
				field, ok = &p.CLIVersion, !seen[0]
				seen[0] = true
			case "operating_system":
				field, ok = &p.OperatingSystem, !seen[1]
				seen[1] = true
			case "id":
				field, ok = &p.ID, !seen[2]
				seen[2] = true
			default:
				return nil, errNotCanonical
			}
			if !ok {
				return nil, errNotCanonical
			}
			*field = value
			fields++
		}
	}
	if !started || code >= 0 || fields != 3 {
		return nil, errNotCanonical
	}
	return p, nil
}

// yamlFile is what the slow path decodes into: pointers tell a missing
// count from a zero one, and a signed type lets us name a negative count.
type yamlFile struct {
	MetricPoints map[string]map[int]*struct {
		CumulativeCount *int64 `yaml:"cumulative_count"`
	} `yaml:"metric_points"`
	CLIVersion      string `yaml:"cli_version"`
	OperatingSystem string `yaml:"operating_system"`
	ID              string `yaml:"id"`
}

func decodeYAML(data []byte) (*payload.Payload, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("the file is empty")
	}
	var f yamlFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("not a telemetry file: %v", err)
	}
	p := &payload.Payload{
		MetricPoints:    make(map[string]map[int]payload.Point, len(f.MetricPoints)),
		CLIVersion:      f.CLIVersion,
		OperatingSystem: f.OperatingSystem,
		ID:              f.ID,
	}
	for path, codes := range f.MetricPoints {
		m := make(map[int]payload.Point, len(codes))
		for code, pt := range codes {
			switch {
			case pt == nil || pt.CumulativeCount == nil:
				return nil, fmt.Errorf("%q exit code %d has no cumulative_count", path, code)
			case *pt.CumulativeCount < 0:
				return nil, fmt.Errorf("%q exit code %d has a negative count (%d)", path, code, *pt.CumulativeCount)
			}
			m[code] = payload.Point{CumulativeCount: uint64(*pt.CumulativeCount)}
		}
		p.MetricPoints[path] = m
	}
	return p, nil
}

// validate checks what both decoders produce, so that nothing we did not
// write ourselves (a command path, an exit code, an id) is carried forward
// into an upload.
func validate(p *payload.Payload) error {
	if err := payload.ValidID(p.ID); err != nil {
		return err
	}
	for path, codes := range p.MetricPoints {
		if err := payload.ValidCommandPath(path); err != nil {
			return err
		}
		for code, pt := range codes {
			if code < 0 || code > 255 {
				return fmt.Errorf("%q has exit code %d; exit codes are 0 to 255", path, code)
			}
			if pt.CumulativeCount > payload.MaxCount {
				return fmt.Errorf("%q exit code %d has count %d, over the maximum %d", path, code, pt.CumulativeCount, uint64(payload.MaxCount))
			}
		}
	}
	return nil
}
