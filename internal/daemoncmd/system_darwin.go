//go:build darwin

package daemoncmd

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/kardianos/service"
)

func newManager(system bool) manager {
	return library{system: system, options: launchdOptions, installed: launchdInstalled}
}

// launchdOptions gives the library a whole plist of ours (its template
// has a plain Label, logs in ~, and KeepAlive that respawns after any
// exit); a plist with no template markers renders as it is.
func launchdOptions(cfg *service.Config, spec Spec) error {
	cfg.Name = LaunchdLabel
	home, err := os.UserHomeDir()
	if err != nil {
		return err
	}
	if spec.Exe == "" {
		return nil // control actions need no plist
	}
	spec.Args = append(append([]string{}, spec.Args...), "--held-exit-code=0")
	plist := launchdPlist(spec, home)
	if strings.Contains(plist, "{{") {
		return errors.New("an argument holds \"{{\", which the service library would read as a template")
	}
	if !spec.System {
		if err := os.MkdirAll(filepath.Join(home, "Library", "Logs"), 0o755); err != nil {
			return err
		}
	}
	cfg.Option["LaunchdConfig"] = plist
	return nil
}

func launchdInstalled(system bool) ([]string, error) {
	path := "/Library/LaunchDaemons/" + LaunchdLabel + ".plist"
	if !system {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, err
		}
		path = filepath.Join(home, "Library", "LaunchAgents", LaunchdLabel+".plist")
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNotInstalled
	}
	if err != nil {
		return nil, err
	}
	return plistArguments(data)
}

// refuseSystemInstall: machine-wide services run as the folder's owner here.
func refuseSystemInstall() error { return nil }
