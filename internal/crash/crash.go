// Package crash turns a panic's stack into a crash site (see
// payload.ValidCrashSite): the innermost frames of pace's own code, each a
// function name within the module and a line counted from the function's
// first line. Nothing of the panic's value, no file path and no frame of
// another module ever enters a site.
package crash

import (
	"runtime"
	"strconv"
	"strings"

	"github.com/pace-cli/pace/function/payload"
)

// Module is the import path prefix of pace's own code; frames outside it
// (the runtime, cobra, pgx) are left out.
const Module = "github.com/pace-cli/pace/"

// Here returns the crash site of the panic being handled: called from the
// deferred function that recovered it, whose own frames (above the
// runtime's panic machinery) it skips. It returns "" when no frame of
// pace's code is on the stack.
func Here() string {
	pcs := make([]uintptr, 64)
	return Site(pcs[:runtime.Callers(1, pcs)])
}

// Site renders pcs, from a deferred function during a panic (the frames
// below runtime.gopanic are where it happened) or from any stack.
func Site(pcs []uintptr) string {
	frames := runtime.CallersFrames(pcs)
	var all []runtime.Frame
	panicAt := -1
	for {
		fr, more := frames.Next()
		if fr.Function == "runtime.gopanic" {
			panicAt = len(all)
		}
		all = append(all, fr)
		if !more {
			break
		}
	}
	var b strings.Builder
	n := 0
	for _, fr := range all[panicAt+1:] {
		name, ok := strings.CutPrefix(fr.Function, Module)
		if !ok || n == payload.MaxCrashFrames {
			continue
		}
		// Generic instantiations print their type arguments as [...].
		name = strings.ReplaceAll(name, "[...]", "")
		if n > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(name)
		if fr.Func != nil {
			_, first := fr.Func.FileLine(fr.Entry)
			b.WriteString(":+")
			b.WriteString(strconv.Itoa(max(fr.Line-first, 0)))
		} else {
			// Fully inlined: Entry is the enclosing function's.
			b.WriteString(":=")
			b.WriteString(strconv.Itoa(fr.Line))
		}
		n++
	}
	return b.String()
}
