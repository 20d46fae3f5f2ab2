package payload

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// DevVersion is the one spelling the receiver stores for a build without a
// release version: this CLI's own (internal/build) and what PACE's original
// CLI says in a plain `go build` ("dev").
const DevVersion = "v0.0.0-dev"

// UnknownOS is stored for an empty operating_system. PACE's original CLI
// v1.17.0–v1.18.0 wrote the OS under another key, so files upgraded from
// those carry "".
const UnknownOS = "unknown"

// Exit codes. pace defines 0–5 (internal/cli/exitcode.go; PACE's original
// CLI sends 0 and 1), ExitPanic for a crash, and 128+n for a run ended by
// signal n (SIGHUP, SIGINT, SIGTERM). The receiver keeps those and folds
// every other code into one catch-all, so that a client cannot make 256
// series per command.
const (
	MaxPaceExitCode = 5
	// OtherExitCode is the key Normalize folds the codes it does not keep
	// into; ExitCodeTag writes it as OtherExitCodeTag.
	OtherExitCode    = MaxPaceExitCode + 1
	OtherExitCodeTag = "other"
	// ExitPanic is what pace counts a crashed run as (EX_SOFTWARE).
	ExitPanic = 70
	// The codes of runs ended by SIGHUP, SIGINT and SIGTERM.
	ExitSIGHUP  = 128 + 1
	ExitSIGINT  = 128 + 2
	ExitSIGTERM = 128 + 15
)

// KeptExitCode reports whether the receiver stores code as it is: 0–5,
// ExitPanic and the three signal codes.
func KeptExitCode(code int) bool {
	switch {
	case code >= 0 && code <= MaxPaceExitCode, code == ExitPanic, code == ExitSIGHUP, code == ExitSIGINT, code == ExitSIGTERM:
		return true
	}
	return false
}

// ExitCodeTag is the tag value the receiver stores for a normalized exit
// code: the number for a kept code, OtherExitCodeTag for the rest.
func ExitCodeTag(code int) string {
	if code >= 0 && code <= MaxPaceExitCode {
		return paceExitTags[code]
	}
	if KeptExitCode(code) {
		return strconv.Itoa(code)
	}
	return OtherExitCodeTag
}

// paceExitTags are ExitCodeTag's of 0…MaxPaceExitCode, made once.
var paceExitTags = [MaxPaceExitCode + 1]string{"0", "1", "2", "3", "4", "5"}

// preReleases are the pre-release forms kept as they are, each alone or
// followed by ".N" with N < maxPreNumber. Every other pre-release (Go
// pseudo-versions, goreleaser snapshots, "rc1") is stored as "dev" of its
// release, so each release has at most 3*(maxPreNumber+1)+2 spellings.
var preReleases = []string{"alpha", "beta", "rc"}

const maxPreNumber = 100

// NormalizeVersion returns the one spelling the receiver stores for a
// cli_version: "v" + MAJOR.MINOR.PATCH, optionally followed by
// -alpha, -beta or -rc (each optionally .N, N < 100) or -dev. A leading
// "v" is optional, as PACE's original release builds leave it out (1.25.0);
// "dev" is DevVersion; build metadata (+dirty) is dropped; any other
// pre-release becomes -dev. Anything that is not a semantic version 2.0 of
// at most MaxVersionLen bytes is an error.
func NormalizeVersion(v string) (string, error) {
	if v == "dev" {
		return DevVersion, nil
	}
	if len(v) > MaxVersionLen {
		return "", fmt.Errorf("longer than %d bytes", MaxVersionLen)
	}
	semver := v
	if !strings.HasPrefix(semver, "v") {
		semver = "v" + semver
	}
	if err := ValidVersion(semver); err != nil {
		return "", errors.New("must be a version like 1.25.0, v1.25.0, v1.26.0-rc.1 or dev")
	}
	core, _, _ := strings.Cut(semver, "+")
	core, pre, hasPre := strings.Cut(core, "-")
	if !hasPre {
		return core, nil
	}
	word, num, hasNum := strings.Cut(pre, ".")
	known := false
	for _, p := range preReleases {
		known = known || word == p
	}
	switch {
	case known && !hasNum:
		return core + "-" + word, nil
	case known && len(num) <= 2 && numeric(num):
		// ValidVersion checked there are no leading zeros; two digits
		// without a dot in num are below maxPreNumber.
		return core + "-" + pre, nil
	}
	return core + "-dev", nil
}

// Normalize turns a decoded upload into what the receiver stores, so that
// every client's spelling of the same thing lands in one series: the
// version as NormalizeVersion gives it, an empty OS as UnknownOS, exit
// codes it does not keep (KeptExitCode) summed into OtherExitCode (saturating at
// MaxCount, like the CLI). It answers an error, "<field>: <what is wrong>",
// for a value that is malformed: an id that is not a lowercase UUID (never
// quoted: it must not reach logs), a version that is not one, an OS that
// is not a GOOS value.
//
// Command paths are not checked here: the receiver stores only paths on
// its allow-list, whose entries are valid, so any other path, including
// one that is not a valid command path such as "pace __complete" (which
// PACE's original CLI counts on every Tab press), is dropped and counted,
// never a reason to refuse the whole upload.
func (p *Payload) Normalize() error {
	if ValidID(p.ID) != nil {
		return errors.New("id: must be a lowercase UUID like 36be4c46-4e1b-431d-b9db-1b315f537a85")
	}
	v, err := NormalizeVersion(p.CLIVersion)
	if err != nil {
		return fmt.Errorf("cli_version: %s: %v", Quote(p.CLIVersion), err)
	}
	if p.OperatingSystem == "" {
		p.OperatingSystem = UnknownOS
	} else if err := ValidOS(p.OperatingSystem); err != nil {
		return fmt.Errorf("operating_system: %s: %v", Quote(p.OperatingSystem), err)
	}
	p.CLIVersion = v
	for path, codes := range p.MetricPoints {
		for code, pt := range codes {
			if code < 0 || code > MaxExitCode {
				return fmt.Errorf("metric_points[%s][\"%d\"]: exit code must be 0-%d", Quote(path), code, MaxExitCode)
			}
			if pt.CumulativeCount > MaxCount {
				return fmt.Errorf("metric_points[%s][\"%d\"].cumulative_count: must be at most %d", Quote(path), code, uint64(MaxCount))
			}
		}
		for code, pt := range codes {
			if KeptExitCode(code) || code == OtherExitCode {
				continue
			}
			// Each is cumulative, so their sum is too.
			codes[OtherExitCode] = Point{CumulativeCount: min(codes[OtherExitCode].CumulativeCount+pt.CumulativeCount, MaxCount)}
			delete(codes, code)
		}
	}
	return nil
}
