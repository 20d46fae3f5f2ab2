//go:build !linux && !darwin && !windows

package daemoncmd

func newManager(system bool) manager { return library{system: system} }

// refuseSystemInstall: machine-wide services run as the folder's owner here.
func refuseSystemInstall() error { return nil }
