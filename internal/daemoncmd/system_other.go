//go:build !linux && !darwin && !windows

package daemoncmd

func newManager(system bool) manager { return library{system: system} }
