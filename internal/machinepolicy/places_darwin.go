//go:build darwin

package machinepolicy

// The policy's places on macOS: the managed preferences a configuration
// profile installs (MDM), else a file as on other Unix systems.
const (
	ManagedFile = "/Library/Managed Preferences/" + Domain + ".plist"
	File        = "/Library/Application Support/pace/policy.yaml"
)

// load reads the managed preferences, and the file only when there are
// none: a profile is the administrator's channel on a Mac, and wins.
func load() Policy {
	if p := readFile(ManagedFile, parsePlist); p.Found {
		return p
	}
	p := readFile(File, parseYAML)
	if !p.Found {
		p.Source = ManagedFile + " or " + File
	}
	return p
}
