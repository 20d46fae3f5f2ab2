package telemetry

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unsafe"

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
	for path, codes := range p.MetricPoints {
		if len(codes) > 0 { // "path:" alone would read back as null
			paths = append(paths, path)
		}
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
	b.Write(encodeCrashSites(p.CrashSites))
	return b.Bytes()
}

// crashHead starts the crash sites, the last section of a file that has
// any. It is rare (a pace that panicked), small (payload.MaxCrashSites)
// and written on a crash only, so yaml.v3 writes and reads it: the hot path
// copies it as it is, after checking it.
const crashHead = "crash_sites:\n"

// encodeCrashSites renders the crash sites as yaml.v3 renders them as the
// last field of the file, or nothing when there are none.
func encodeCrashSites(sites map[string]map[string]payload.Point) []byte {
	if len(sites) == 0 {
		return nil
	}
	out, err := yaml.Marshal(struct {
		CrashSites map[string]map[string]payload.Point `yaml:"crash_sites"`
	}{sites})
	if err != nil {
		return nil // plain maps of strings and numbers always encode
	}
	return out
}

// decodeCrashSites reads the crash section that encodeCrashSites wrote,
// exactly: anything else is not canonical.
func decodeCrashSites(tail []byte) (map[string]map[string]payload.Point, error) {
	var f struct {
		CrashSites map[string]map[string]payload.Point `yaml:"crash_sites"`
	}
	if err := yaml.Unmarshal(tail, &f); err != nil || len(f.CrashSites) == 0 {
		return nil, errNotCanonical
	}
	if err := validateCrashSites(f.CrashSites); err != nil {
		return nil, errNotCanonical
	}
	if !bytes.Equal(encodeCrashSites(f.CrashSites), tail) {
		return nil, errNotCanonical
	}
	return f.CrashSites, nil
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
	// Those that start with a letter (inf, nan) are refused above, and
	// ParseInt's and ParseFloat's errors allocate: skip them for versions
	// and OS names, which scan checks on every run.
	if !(s[0] >= '0' && s[0] <= '9') && strings.ToLower(s) != "infinity" {
		return true
	}
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
	p, _, err := decodeFile(data)
	return p, err
}

// decodeFile is decode that also says how many counters it dropped: those
// of command paths pace never records, such as `pace __complete`, which
// the original PACE CLI counted on every Tab press. They are left out,
// never carried into an upload, and the rest of the file (its id and
// counts) is kept.
func decodeFile(data []byte) (*payload.Payload, int, error) {
	p, err := decodeCanonical(data)
	if errors.Is(err, errNotCanonical) {
		p, err = decodeYAML(data)
	}
	if err != nil {
		return nil, 0, err
	}
	dropped := 0
	for path, codes := range p.MetricPoints {
		if payload.ValidCommandPath(path) != nil {
			dropped += len(codes)
			delete(p.MetricPoints, path)
		}
	}
	for path := range p.CrashSites {
		if payload.ValidCommandPath(path) != nil {
			delete(p.CrashSites, path)
		}
	}
	if err := validate(p); err != nil {
		return nil, 0, err
	}
	return p, dropped, nil
}

// decodeCanonical reads exactly what encode writes and gives up with
// errNotCanonical on anything else.
func decodeCanonical(data []byte) (*payload.Payload, error) {
	p := &payload.Payload{MetricPoints: map[string]map[int]payload.Point{}}
	var codes map[int]payload.Point
	code := 0
	_, tail, err := scan(data, func(l *line) {
		switch l.kind {
		case linePath:
			codes = map[int]payload.Point{}
			p.MetricPoints[string(l.text)] = codes
		case lineCode:
			code = l.code
		case lineCount:
			codes[code] = payload.Point{CumulativeCount: l.count}
		case lineField:
			switch l.key {
			case "cli_version":
				p.CLIVersion = string(l.text)
			case "operating_system":
				p.OperatingSystem = string(l.text)
			case "id":
				p.ID = string(l.text)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	if tail < len(data) {
		if p.CrashSites, err = decodeCrashSites(data[tail:]); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// A line of a file in canonical layout.
type line struct {
	kind       lineKind
	start, end int    // offsets of the line in the file, end past its '\n'
	text       []byte // the command path, or a field's value
	key        string // a field's name
	code       int
	count      uint64
}

type lineKind int

const (
	linePath  lineKind = iota // "    pace list tables:"
	lineCode                  // "        0:"
	lineCount                 // "            cumulative_count: 2"
	lineField                 // "cli_version: v1.16.0"
	lineHead                  // "metric_points:", the first line
)

// countPrefix starts every count line; the number follows it.
const countPrefix = "            cumulative_count: "

var fieldOrder = [...]string{"cli_version", "operating_system", "id"}

// scan checks that data is in canonical layout and valid, and calls visit
// for every line after the first. Paths and codes must be strictly sorted
// and every path must have a code with a count: what encode writes, and
// what lets splice edit in place. It returns the offset of the first field
// line, and the offset of the crash sites (len(data) when there are none),
// which it leaves to decodeCrashSites.
func scan(data []byte, visit func(*line)) (fieldsAt, crashAt int, err error) {
	var l line
	rest := data
	next := func() bool {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return false
		}
		l.start = len(data) - len(rest)
		l.end = l.start + i + 1
		rest = rest[i+1:]
		return true
	}
	if !next() {
		return 0, 0, errNotCanonical
	}
	empty := false
	switch string(data[:l.end-1]) {
	case "metric_points:":
	case "metric_points: {}":
		empty = true
	default:
		return 0, 0, errNotCanonical
	}
	var (
		prevPath []byte
		prevCode = -1
		state    = lineHead // what the last line was
		fields   = 0
	)
	crashAt = len(data)
	for {
		if fields == len(fieldOrder) && bytes.HasPrefix(rest, []byte(crashHead)) {
			crashAt = len(data) - len(rest)
			rest = nil
			break
		}
		if !next() {
			break
		}
		text := data[l.start : l.end-1]
		switch {
		case fields > 0 || !bytes.HasPrefix(text, []byte("    ")):
			// Fields follow the last count, or the head of an empty map.
			if state != lineCount && !(state == lineHead && empty) || fields == len(fieldOrder) {
				return 0, 0, errNotCanonical
			}
			key, value, ok := bytes.Cut(text, []byte(": "))
			if !ok || string(key) != fieldOrder[fields] || !plain(view(value)) {
				return 0, 0, errNotCanonical
			}
			if fields == 0 {
				fieldsAt = l.start
			}
			l.kind, l.key, l.text = lineField, fieldOrder[fields], value
			fields++
		case bytes.HasPrefix(text, []byte(countPrefix)):
			n, ok := decimal(text[len(countPrefix):], payload.MaxCount)
			if state != lineCode || !ok {
				return 0, 0, errNotCanonical
			}
			l.kind, l.count = lineCount, n
		case bytes.HasPrefix(text, []byte("        ")):
			if len(text) < 10 { // "        0:" at the least
				return 0, 0, errNotCanonical
			}
			n, ok := decimal(text[8:len(text)-1], 255)
			// A code follows its path or the count of the code before.
			if state != linePath && state != lineCount || text[len(text)-1] != ':' || !ok || int(n) <= prevCode {
				return 0, 0, errNotCanonical
			}
			l.kind, l.code, prevCode = lineCode, int(n), int(n)
		default:
			if len(text) < 6 { // "    p:" at the least
				return 0, 0, errNotCanonical
			}
			path := text[4 : len(text)-1]
			if empty || state != lineCount && state != lineHead || text[len(text)-1] != ':' || bytes.Compare(path, prevPath) <= 0 || payload.ValidCommandPath(view(path)) != nil {
				return 0, 0, errNotCanonical
			}
			l.kind, l.text, prevPath, prevCode = linePath, path, path, -1
		}
		if l.kind != lineField {
			state = l.kind
		}
		visit(&l)
	}
	if len(rest) > 0 || fields != len(fieldOrder) || payload.ValidID(view(l.text)) != nil {
		return 0, 0, errNotCanonical
	}
	return fieldsAt, crashAt, nil
}

// view is b as a string, without a copy, for the checks scan makes of
// every path and field: none keeps the string (an error message copies
// it), and nothing writes to b meanwhile. Copies were most of what a run
// allocated, and in a fresh process new memory costs a page fault.
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// decimal reads b as a number no larger than max, written as encode
// writes it: digits only, and no leading zero (YAML 1.1 readers take 010
// for octal). By hand, because strconv's round trip allocates, and this
// runs on every line of the file on every pace run.
func decimal(b []byte, max uint64) (uint64, bool) {
	if len(b) == 0 || len(b) > 1 && b[0] == '0' {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n = n*10 + uint64(c-'0'); n > max {
			return 0, false
		}
	}
	return n, true
}

// hasField reports whether data, a file in canonical layout, holds the
// field key with value, as writeField writes it: a byte search, cheap
// enough for every run.
func hasField(data []byte, key, value string) bool {
	var b bytes.Buffer
	b.WriteByte('\n')
	writeField(&b, key, value)
	return bytes.Contains(data, b.Bytes())
}

// splice returns data with one added to the counter of (path, code) and the
// version and OS fields refreshed, by copying the file around the one place
// that changes: no maps, no full encode. It reports false when data is not
// in canonical layout, and the caller takes the slow path.
func splice(data []byte, path string, code int, version, goos string) ([]byte, bool) {
	var (
		at, cut   = -1, -1 // data[at:cut] is replaced by insert
		insert    []byte
		inPath    bool // the current block is path's
		foundPath bool
		codeMatch bool
		id        []byte
		pathBytes = []byte(path)
	)
	block := func(withPath bool) []byte {
		var b bytes.Buffer
		if withPath {
			b.WriteString("    " + path + ":\n")
		}
		b.WriteString("        " + strconv.Itoa(code) + ":\n" + countPrefix + "1\n")
		return b.Bytes()
	}
	// place records the first edit; scan goes on to validate the rest.
	place := func(pos, end int, text []byte) {
		if at < 0 {
			at, cut, insert = pos, end, text
		}
	}
	if bytes.HasPrefix(data, []byte("metric_points: {}\n")) {
		return nil, false // no block to insert next to; rare (after a reset)
	}
	fieldsAt, crashAt, err := scan(data, func(l *line) {
		switch l.kind {
		case linePath, lineField:
			if inPath {
				place(l.start, l.start, block(false)) // code not in path's block
			}
			inPath = false
			if l.kind == lineField {
				if !foundPath {
					foundPath = true
					place(l.start, l.start, block(true)) // path sorts last
				}
				id = l.text
				return
			}
			switch c := bytes.Compare(l.text, pathBytes); {
			case c == 0:
				inPath, foundPath = true, true
			case c > 0 && !foundPath:
				foundPath = true
				place(l.start, l.start, block(true))
			}
		case lineCode:
			codeMatch = inPath && l.code == code
			if inPath && l.code > code {
				inPath = false
				place(l.start, l.start, block(false))
			}
		case lineCount:
			if codeMatch {
				inPath, codeMatch = false, false
				n := min(l.count+1, payload.MaxCount)
				place(l.start+len(countPrefix), l.end-1, []byte(strconv.FormatUint(n, 10)))
			}
		}
	})
	if err != nil || at < 0 {
		return nil, false
	}
	if crashAt < len(data) {
		if _, err := decodeCrashSites(data[crashAt:]); err != nil {
			return nil, false
		}
	}
	var b bytes.Buffer
	b.Grow(len(data) + len(insert) + 64)
	b.Write(data[:at])
	b.Write(insert)
	b.Write(data[cut:fieldsAt])
	writeField(&b, "cli_version", version)
	writeField(&b, "operating_system", goos)
	writeField(&b, "id", string(id))
	b.Write(data[crashAt:])
	return b.Bytes(), true
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
	CrashSites      map[string]map[string]*struct {
		CumulativeCount *int64 `yaml:"cumulative_count"`
	} `yaml:"crash_sites"`
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
	for path, sites := range f.CrashSites {
		if p.CrashSites == nil {
			p.CrashSites = map[string]map[string]payload.Point{}
		}
		m := make(map[string]payload.Point, len(sites))
		for site, pt := range sites {
			if pt == nil || pt.CumulativeCount == nil || *pt.CumulativeCount < 0 {
				return nil, fmt.Errorf("crash site %q of %q has no count, or a negative one", site, path)
			}
			m[site] = payload.Point{CumulativeCount: uint64(*pt.CumulativeCount)}
		}
		p.CrashSites[path] = m
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
	return validateCrashSites(p.CrashSites)
}

// validateCrashSites checks crash sites as validate checks counters: only
// what pace itself writes is carried forward.
func validateCrashSites(sites map[string]map[string]payload.Point) error {
	n := 0
	for path, m := range sites {
		if err := payload.ValidCommandPath(path); err != nil {
			return err
		}
		for site, pt := range m {
			if err := payload.ValidCrashSite(site); err != nil {
				return err
			}
			if pt.CumulativeCount > payload.MaxCount {
				return fmt.Errorf("crash site %q of %q has count %d, over the maximum %d", site, path, pt.CumulativeCount, uint64(payload.MaxCount))
			}
			n++
		}
	}
	if n > payload.MaxCrashSites {
		return fmt.Errorf("%d crash sites; at most %d are kept", n, payload.MaxCrashSites)
	}
	return nil
}
