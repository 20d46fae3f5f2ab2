//go:build !linux && !darwin && !windows

package telemetryd

func newManager(system bool) manager { return library{system: system} }
