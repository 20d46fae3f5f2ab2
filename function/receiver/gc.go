package receiver

import "runtime/debug"

// GCPercent is the receiver's garbage-collection target when GOGC is not
// set. Its live heap is a few megabytes (a request's body and its batch),
// so at Go's default of 100 it collects every few megabytes allocated:
// hundreds of times a second under load, a third of the server's CPU per
// upload (bench/durable.sh: 377 µs against 262 µs at 400). At 400 the
// heap may grow to five times the live heap, still tens of megabytes.
const GCPercent = 400

// TuneGC sets GCPercent, unless the operator set GOGC. The entry points
// call it once at start (function.go, cmd/receiver), not New: it is the
// process's setting, not one receiver's.
func TuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
}
