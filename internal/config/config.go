// Package config finds pace's config folder and reads and edits its
// config.yaml, the file that holds the user's settings.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
const FileName = "config.yaml"

// maxSize bounds what we read of config.yaml; a settings file this big is a
// mistake, and refusing it is better than stalling every command.
const maxSize = 1 << 20

// Dir returns the config folder: $PACE_CONFIG_PATH, else
// $XDG_CONFIG_HOME/pace, else ~/.config/pace, on every OS (PACE's own rule;
// not os.UserConfigDir, so docs and scripts can name one place).
func Dir(getenv Getenv) (string, error) {
	if d := getenv("PACE_CONFIG_PATH"); d != "" {
		return d, nil
	}
	if d := getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "pace"), nil
	}
	home := getenv("HOME")
	if home == "" {
		home = getenv("USERPROFILE") // Windows
	}
	if home == "" {
		return "", errors.New("cannot find the config folder: set PACE_CONFIG_PATH, XDG_CONFIG_HOME or HOME")
	}
	return filepath.Join(home, ".config", "pace"), nil
}

// Settings are the parts of config.yaml that pace reads. Unknown keys are
// kept untouched when pace edits the file.
type Settings struct {
	// TelemetryMode is "on", "local" or "off", as set by
	// `pace telemetry enable|local|disable`; empty when never set.
	TelemetryMode string `yaml:"telemetry-mode"`
	// UploadIntervalSeconds is PACE's own setting; -1 means never upload.
	UploadIntervalSeconds *int `yaml:"telemetry-upload-interval-seconds"`
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

// Load reads config.yaml in dir. A missing file gives zero Settings.
func Load(dir string) (Settings, error) {
	var s Settings
	path := filepath.Join(dir, FileName)
	data, err := lockedfile.Read(path, maxSize)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("read %s: %w", path, err)
	}
	if err := yaml.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("%s is not valid YAML (%v): fix or remove it", path, err)
	}
	return s, nil
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
	path := filepath.Join(dir, FileName)
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

func setKey(m *yaml.Node, key string, value any) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != key {
			continue
		}
		if value == nil {
			// Keep a comment above the removed key: it may be about the file.
			if c := m.Content[i].HeadComment; c != "" && i+2 < len(m.Content) {
				next := m.Content[i+2]
				next.HeadComment = strings.TrimSpace(c + "\n" + next.HeadComment)
			}
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
		m.Content[i+1].Encode(value)
		return
	}
	if value == nil {
		return
	}
	var k, v yaml.Node
	k.SetString(key)
	v.Encode(value)
	m.Content = append(m.Content, &k, &v)
}
