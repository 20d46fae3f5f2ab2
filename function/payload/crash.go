package payload

import (
	"fmt"
	"strings"
)

// A crash site says where pace panicked, and nothing else: the innermost
// frames of pace's own code, innermost first, separated by single spaces.
// Each frame is a function named within pace's module and a line counted
// from the function's first line, as golang.org/x/telemetry's crash
// counters do, so that an edit elsewhere in the file does not move it:
//
//	internal/platform.(*Postgres).Tables:+3 internal/cli.newListTablesCmd.func1:+9
//
// A frame of a fully inlined function has no first line of its own; it is
// written with its absolute line after "=" (internal/policy.valid:=120).
// The panic's message and values, file paths and other modules' frames are
// never part of a site.

// MaxCrashFrames bounds the frames of one site.
const MaxCrashFrames = 8

// MaxCrashSites bounds the crash sites one installation keeps (and one
// upload may carry): a program that crashes in many places is told about
// its first ones.
const MaxCrashSites = 32

// maxFrameLen bounds one frame's function name: pace's longest is far
// shorter.
const maxFrameLen = 160

// ValidCrashSite reports whether site is shaped as a crash site: 1 to
// MaxCrashFrames frames, each a function name of [A-Za-z0-9_./()*-] with
// a package path and a dot, then ":+N" or ":=N". The shape keeps free text
// out; the receiver also holds every function name to its allow-list.
func ValidCrashSite(site string) error {
	if site == "" {
		return fmt.Errorf("crash site is empty")
	}
	n := 0
	for frame := range strings.SplitSeq(site, " ") {
		if n++; n > MaxCrashFrames {
			return fmt.Errorf("crash site has more than %d frames", MaxCrashFrames)
		}
		if _, _, err := ParseCrashFrame(frame); err != nil {
			return err
		}
	}
	return nil
}

// ParseCrashFrame splits a frame into its function name and its line
// ("+3" or "=120"), checking both.
func ParseCrashFrame(frame string) (function, line string, err error) {
	i := strings.LastIndexByte(frame, ':')
	if i <= 0 || len(frame)-i < 3 {
		return "", "", fmt.Errorf("crash frame %q must be <function>:+<line> or <function>:=<line>", frame)
	}
	function, line = frame[:i], frame[i+1:]
	if len(function) > maxFrameLen {
		return "", "", fmt.Errorf("crash frame %q: function name longer than %d bytes", frame, maxFrameLen)
	}
	if line[0] != '+' && line[0] != '=' || !numeric(line[1:]) || len(line) > 7 {
		return "", "", fmt.Errorf("crash frame %q: line must be +N or =N, N a number without leading zeros", frame)
	}
	if !strings.Contains(function, ".") || strings.HasPrefix(function, ".") || strings.HasSuffix(function, ".") {
		return "", "", fmt.Errorf("crash frame %q: function must be <package>.<name>", frame)
	}
	for i := 0; i < len(function); i++ {
		c := function[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_./()*-", c) >= 0) {
			return "", "", fmt.Errorf("crash frame %q: function name has %q; only [A-Za-z0-9_./()*-] are allowed", frame, c)
		}
	}
	return function, line, nil
}

// CrashFunctionBase is the declared function a frame's function name
// belongs to: closures, their wrappers and numbered init functions are
// named by the compiler after it (internal/cli.newRoot.func1.2,
// internal/x.F.deferwrap1, internal/x.init.0), so an allow-list of
// declared functions covers them.
func CrashFunctionBase(name string) string {
	for {
		i := strings.LastIndexByte(name, '.')
		if i < 0 {
			return name
		}
		last := name[i+1:]
		if !compilerSuffix(last) {
			return name
		}
		name = name[:i]
	}
}

// compilerSuffix: func1, gowrap2, deferwrap3, or a bare number.
func compilerSuffix(s string) bool {
	for _, p := range []string{"func", "gowrap", "deferwrap", ""} {
		if rest, ok := strings.CutPrefix(s, p); ok && allDigits(rest) {
			return true
		}
	}
	return false
}

// CrashFunction is the declared function of a valid site's innermost
// frame: where the crash happened, without its line or callers.
func CrashFunction(site string) string {
	frame, _, _ := strings.Cut(site, " ")
	fn, _, err := ParseCrashFrame(frame)
	if err != nil {
		return ""
	}
	return CrashFunctionBase(fn)
}
