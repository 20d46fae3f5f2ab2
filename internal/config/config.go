// Package config finds pace's config folder and reads and edits its
// config.yaml, the file that holds the user's settings.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pace-cli/pace/internal/lockedfile"
)

// Getenv looks up an environment variable; tests pass a map's lookup.
type Getenv func(string) string

// Folder and file modes: the folder holds data about how one person uses
// their computer, so nobody else may read it.
const (
	DirPerm  fs.FileMode = 0o700
	FilePerm fs.FileMode = 0o600
)

// FileName is the settings file in the config folder.
const FileName = ConfigName

// maxSize bounds what we read of config.yaml; a settings file this big is a
// mistake, and refusing it is better than stalling every command.
const maxSize = 1 << 20

// Dir returns the config folder: $PACE_CONFIG_PATH (a leading ~ is your
// home folder), else ~/.config/pace, on every OS. This is PACE's own rule,
// which never read XDG_CONFIG_HOME: a user's existing settings and opt-out
// stay where PACE put them.
func Dir(getenv Getenv) (string, error) {
	if d := getenv("PACE_CONFIG_PATH"); d != "" {
		return expandHome(d, home(getenv))
	}
	h := home(getenv)
	if h == "" {
		return "", errors.New("cannot find the config folder: set PACE_CONFIG_PATH or HOME")
	}
	return filepath.Join(h, ".config", "pace"), nil
}

// home is the user's home folder, as os.UserHomeDir finds it, read through
// getenv so that tests can set it.
func home(getenv Getenv) string {
	if runtime.GOOS == "windows" {
		if h := getenv("USERPROFILE"); h != "" {
			return h
		}
		return getenv("HOME")
	}
	if h := getenv("HOME"); h != "" {
		return h
	}
	return getenv("USERPROFILE")
}

// expandHome replaces a leading ~ (alone, or followed by a separator) by
// home, as PACE does, so that PACE_CONFIG_PATH=~/x never makes a folder
// named ~ in the working directory.
func expandHome(d, home string) (string, error) {
	if !strings.HasPrefix(d, "~") {
		return d, nil
	}
	rest := d[1:]
	if rest != "" && rest[0] != '/' && !(runtime.GOOS == "windows" && rest[0] == '\\') {
		return "", fmt.Errorf("PACE_CONFIG_PATH=%q: pace expands a leading ~ to your home folder, not ~user; write the full path", d)
	}
	if home == "" {
		return "", fmt.Errorf("PACE_CONFIG_PATH=%q starts with ~, but HOME is not set: write the full path", d)
	}
	return filepath.Join(home, rest), nil
}

// Settings are the parts of config.yaml that pace reads. Unknown keys are
// kept untouched when pace edits the file.
type Settings struct {
	// TelemetryMode is "on", "local" or "off", as set by
	// `pace telemetry enable|local|disable`; empty when never set.
	TelemetryMode string `yaml:"telemetry-mode"`
	// UploadIntervalSeconds is PACE's own setting; a negative value (PACE
	// writes -1) means never upload. Read as viper reads it: a number, or
	// a string holding one.
	UploadIntervalSeconds *int `yaml:"-"`
	// Endpoint is where the daemon uploads to.
	Endpoint string `yaml:"telemetry-endpoint"`
	// Platforms are the processing platforms data policies apply to.
	Platforms []Platform `yaml:"processing_platforms"`
}

// Platform is a processing platform: a database that data policies turn
// into views on.
type Platform struct {
	ID   string `yaml:"id" json:"id"`
	Type string `yaml:"type" json:"type"`
	// DSN says how to connect. A password in it is allowed but better kept
	// in the environment variable PasswordEnv names.
	DSN         string `yaml:"dsn" json:"-"`
	PasswordEnv string `yaml:"password_env,omitempty" json:"password_env,omitempty"`
}

// Platform finds the processing platform with id.
func (s Settings) Platform(id string) (Platform, bool) {
	for _, p := range s.Platforms {
		if p.ID == id {
			return p, true
		}
	}
	return Platform{}, false
}

// Keys of config.yaml that pace writes.
const (
	KeyTelemetryMode  = "telemetry-mode"
	KeyUploadInterval = "telemetry-upload-interval-seconds"
)

// Load reads config.yaml in dir. A missing file gives zero Settings. A
// folder others could write to gives an error wrapping ErrUnsafeFolder.
//
// PACE read this file through viper, so keys match regardless of case and
// numbers may be written as strings; a user's file from PACE means here
// what it meant there.
func Load(dir string) (Settings, error) {
	var s Settings
	if err := CheckFolder(dir); err != nil {
		return s, err
	}
	path := NewFolder(dir).Config()
	data, err := lockedfile.Read(path, maxSize)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("read %s: %w", path, err)
	}
	return parse(data, path)
}

func parse(data []byte, path string) (Settings, error) {
	var s Settings
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return s, fmt.Errorf("%s is not valid YAML (%v): fix or remove it", path, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 { // empty, or comments only
		return s, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return s, fmt.Errorf("%s must be a mapping of settings (key: value): fix or remove it", path)
	}
	lowerKeys(root)
	// The interval is read apart, as viper reads numbers; the rest decodes
	// into Settings. Written twice in different cases, the most private
	// (lowest) value is kept.
	var intervals []*yaml.Node
	for i := 0; i+1 < len(root.Content); {
		if root.Content[i].Value == KeyUploadInterval {
			intervals = append(intervals, root.Content[i+1])
			root.Content = append(root.Content[:i:i], root.Content[i+2:]...)
			continue
		}
		i += 2
	}
	if err := root.Decode(&s); err != nil {
		return s, fmt.Errorf("%s: %v (keys are read regardless of case): fix or remove it", path, err)
	}
	for _, n := range intervals {
		v, set, err := viperInt(n)
		if err != nil {
			return s, fmt.Errorf("%s: %s: %v (seconds between uploads; -1 never uploads): fix or remove it", path, KeyUploadInterval, err)
		}
		if set && (s.UploadIntervalSeconds == nil || v < *s.UploadIntervalSeconds) {
			s.UploadIntervalSeconds = &v
		}
	}
	return s, nil
}

// lowerKeys lowercases every mapping key, as viper does before it looks
// anything up.
func lowerKeys(n *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Kind == yaml.ScalarNode {
				k.Value = strings.ToLower(k.Value)
			}
			lowerKeys(n.Content[i+1])
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			lowerKeys(c)
		}
	}
}

// viperInt reads a number as viper's GetInt does (through spf13/cast): an
// integer in any YAML form, a float cut to an integer, a bool as 0 or 1,
// or a string holding an integer ("-1", "0x10", "3600.0"). Where viper
// would silently read 0 from something else, this says what is wrong: the
// setting may be an opt-out, and guessing would be worse. set is false for
// an empty value.
func viperInt(n *yaml.Node) (v int, set bool, err error) {
	if n.Kind != yaml.ScalarNode {
		return 0, false, errors.New("must be a number")
	}
	switch n.ShortTag() {
	case "!!null":
		return 0, false, nil
	case "!!int":
		err = n.Decode(&v)
	case "!!float":
		var f float64
		if err = n.Decode(&f); err == nil {
			if f != f || f > math.MaxInt32 || f < math.MinInt32 {
				return 0, false, fmt.Errorf("%q is out of range", n.Value)
			}
			v = int(f)
		}
	case "!!bool":
		var b bool
		if err = n.Decode(&b); err == nil && b {
			v = 1
		}
	case "!!str":
		v, err = ParseInt(n.Value)
	default:
		err = errors.New("must be a number")
	}
	if err != nil {
		return 0, false, fmt.Errorf("%q is not a number", n.Value)
	}
	return v, true, nil
}

// ParseInt reads a number written as a string the way viper (spf13/cast)
// does: decimal, 0x/0o/0b prefixes, and a zero fraction ("3600.0")
// allowed. Environment variables such as PACE_TELEMETRY_UPLOAD_INTERVAL_SECONDS
// go through it too.
func ParseInt(s string) (int, error) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '.'); i > 0 && strings.Trim(s[i+1:], "0") == "" {
		s = s[:i]
	}
	n, err := strconv.ParseInt(s, 0, 32)
	return int(n), err
}

// MkdirAll makes the config folder, private to its owner.
func MkdirAll(dir string) error { return os.MkdirAll(dir, DirPerm) }

// Set writes key: value into config.yaml in dir, creating the folder and
// file as needed and keeping every other key and comment as it was. A nil
// value removes the key.
func Set(dir, key string, value any) error {
	if err := os.MkdirAll(dir, DirPerm); err != nil {
		return err
	}
	if err := CheckFolder(dir); err != nil {
		return err
	}
	path := NewFolder(dir).Config()
	return lockedfile.Edit(path, 5*time.Second, 5*time.Second, maxSize, FilePerm, func(data []byte, readErr error) ([]byte, error) {
		if readErr != nil && !errors.Is(readErr, fs.ErrNotExist) {
			return nil, fmt.Errorf("read %s: %w", path, readErr)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("%s is not valid YAML (%v): fix or remove it", path, err)
		}
		if doc.Kind == 0 { // empty file
			doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
		}
		root := doc.Content[0]
		if root.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s must be a mapping of settings (key: value)", path)
		}
		setKey(root, key, value)
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(&doc); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	})
}

// setKey sets key in the mapping m. Keys match regardless of case, as
// they do when the file is read: a key in any case is replaced, and a
// second spelling of it removed.
func setKey(m *yaml.Node, key string, value any) {
	done := false
	for i := 0; i+1 < len(m.Content); {
		if !strings.EqualFold(m.Content[i].Value, key) {
			i += 2
			continue
		}
		if value == nil || done {
			// Keep a comment above the removed key: it may be about the file.
			if c := m.Content[i].HeadComment; c != "" && i+2 < len(m.Content) {
				next := m.Content[i+2]
				next.HeadComment = strings.TrimSpace(c + "\n" + next.HeadComment)
			}
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			continue
		}
		m.Content[i].Value = key
		m.Content[i+1].Encode(value)
		done = true
		i += 2
	}
	if value == nil || done {
		return
	}
	var k, v yaml.Node
	k.SetString(key)
	v.Encode(value)
	m.Content = append(m.Content, &k, &v)
}
