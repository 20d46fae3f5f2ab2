package payload

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// MaxVersionLen bounds cli_version. Go pseudo-versions with "+dirty" are
// about 45 bytes; anything much longer is not a version we built.
const MaxVersionLen = 64

// GOOSes lists the GOOS values of Go's ports (go tool dist list), the only
// values runtime.GOOS, and so operating_system, can take.
var GOOSes = []string{
	"aix", "android", "darwin", "dragonfly", "freebsd", "illumos", "ios", "js",
	"linux", "netbsd", "openbsd", "plan9", "solaris", "wasip1", "windows",
}

// ValidOS reports whether os is one of GOOSes.
func ValidOS(os string) error {
	i := sort.SearchStrings(GOOSes, os)
	if i < len(GOOSes) && GOOSes[i] == os {
		return nil
	}
	return errors.New("must be a GOOS value such as linux, darwin or windows")
}

// ValidVersion reports whether v is a semantic version 2.0 with a leading
// "v" and at most MaxVersionLen bytes: v1.16.0, v1.16.0-rc.1, v0.0.0-dev,
// or a Go pseudo-version such as v0.0.0-20261125044417-abcdef123456+dirty.
// Every byte of a valid version is in [0-9A-Za-z.+-].
func ValidVersion(v string) error {
	if len(v) > MaxVersionLen {
		return fmt.Errorf("longer than %d bytes", MaxVersionLen)
	}
	rest, ok := strings.CutPrefix(v, "v")
	if !ok {
		return errors.New("must be a version like v1.16.0 or v1.16.0-rc.1")
	}
	core, build, hasBuild := strings.Cut(rest, "+")
	core, pre, hasPre := strings.Cut(core, "-")
	nums := strings.Split(core, ".")
	if len(nums) != 3 {
		return errors.New("must be a version like v1.16.0 or v1.16.0-rc.1")
	}
	for _, n := range nums {
		if !numeric(n) {
			return errors.New("major, minor and patch must be numbers without leading zeros")
		}
	}
	if hasPre {
		for _, id := range strings.Split(pre, ".") {
			if !identifier(id) || allDigits(id) && !numeric(id) {
				return errors.New("malformed pre-release")
			}
		}
	}
	if hasBuild {
		for _, id := range strings.Split(build, ".") {
			if !identifier(id) {
				return errors.New("malformed build metadata")
			}
		}
	}
	return nil
}

// numeric: a non-empty decimal without leading zeros.
func numeric(s string) bool {
	return allDigits(s) && (s == "0" || s[0] != '0')
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// identifier: a non-empty run of [0-9A-Za-z-].
func identifier(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}

// Validate checks the values of a decoded payload strictly, as this CLI
// writes them: the id, a version with its leading v, the operating system,
// and the shape of every command path (not whether the path is known: that
// is the receiver's allow-list). The receiver uses Normalize instead, which
// also takes what PACE's original CLI sends. Errors read
// "<field>: <what is wrong>" and never contain the id, which must not
// reach logs.
func (p *Payload) Validate() error {
	if ValidID(p.ID) != nil {
		return errors.New("id: must be a lowercase UUID like 36be4c46-4e1b-431d-b9db-1b315f537a85")
	}
	if err := ValidVersion(p.CLIVersion); err != nil {
		return fmt.Errorf("cli_version: %s: %v", Quote(p.CLIVersion), err)
	}
	if err := ValidOS(p.OperatingSystem); err != nil {
		return fmt.Errorf("operating_system: %s: %v", Quote(p.OperatingSystem), err)
	}
	for path, codes := range p.MetricPoints {
		if err := ValidCommandPath(path); err != nil {
			return fmt.Errorf("metric_points[%s]: must be \"pace\" and at most %d words of [a-z0-9][a-z0-9-]*", Quote(path), MaxPathWords-1)
		}
		for code, pt := range codes {
			if code < 0 || code > MaxExitCode {
				return fmt.Errorf("metric_points[%s][\"%d\"]: exit code must be 0-%d", Quote(path), code, MaxExitCode)
			}
			if pt.CumulativeCount > MaxCount {
				return fmt.Errorf("metric_points[%s][\"%d\"].cumulative_count: must be at most %d", Quote(path), code, uint64(MaxCount))
			}
		}
	}
	for path, sites := range p.CrashSites {
		if err := ValidCommandPath(path); err != nil {
			return fmt.Errorf("crash_sites[%s]: must be \"pace\" and at most %d words of [a-z0-9][a-z0-9-]*", Quote(path), MaxPathWords-1)
		}
		for site, pt := range sites {
			if ValidCrashSite(site) != nil {
				return fmt.Errorf("crash_sites[%s][%s]: must be 1 to %d frames <package>.<function>:+<line>, separated by single spaces", Quote(path), Quote(site), MaxCrashFrames)
			}
			if pt.CumulativeCount > MaxCount {
				return fmt.Errorf("crash_sites[%s][%s].cumulative_count: must be at most %d", Quote(path), Quote(site), uint64(MaxCount))
			}
		}
	}
	return nil
}
