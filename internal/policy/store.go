package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pace-cli/pace/internal/config"
	"github.com/pace-cli/pace/internal/lockedfile"
)

// ErrNotFound means no stored policy has the id.
var ErrNotFound = errors.New("not found")

// Store keeps policies in the config folder, one YAML file each.
type Store struct{ Dir string }

func (s Store) folder() string { return filepath.Join(s.Dir, "data-policies") }

func (s Store) path(id string) (string, error) {
	if !validID(id) {
		return "", fmt.Errorf("data policy %q: %w (ids are letters, digits, '_', '.' or '-')", id, ErrNotFound)
	}
	return filepath.Join(s.folder(), id+".yaml"), nil
}

// Save stores a valid policy, replacing one with the same id.
func (s Store) Save(p *DataPolicy) error {
	if err := p.Validate(p.ID); err != nil {
		return err
	}
	path, err := s.path(p.ID)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.folder(), config.DirPerm); err != nil {
		return err
	}
	data, err := yaml.Marshal(p)
	if err != nil {
		return err
	}
	// Under the file's lock, as Replace's fixed temporary name requires.
	return lockedfile.Edit(path, 5*time.Second, 5*time.Second, 4<<20, config.FilePerm, func([]byte, error) ([]byte, error) {
		return data, nil
	})
}

// Get loads the policy with id.
func (s Store) Get(id string) (*DataPolicy, error) {
	path, err := s.path(id)
	if err != nil {
		return nil, err
	}
	data, err := lockedfile.Read(path, 4<<20)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("data policy %q: %w; see 'pace list data-policies'", id, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return Parse(data, path)
}

// List loads every stored policy, sorted by id.
func (s Store) List() ([]*DataPolicy, error) {
	entries, err := os.ReadDir(s.folder())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ps []*DataPolicy
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".yaml")
		if !ok || e.IsDir() {
			continue
		}
		p, err := s.Get(id)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].ID < ps[j].ID })
	return ps, nil
}

// Delete removes the policy with id (not its views).
func (s Store) Delete(id string) error {
	path, err := s.path(id)
	if err != nil {
		return err
	}
	if err := os.Remove(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("data policy %q: %w", id, ErrNotFound)
	} else if err != nil {
		return err
	}
	return nil
}
