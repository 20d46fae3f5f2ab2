//go:build !linux

package telemetryd

// chooseSystem keeps the library's choice: launchd on macOS, the service
// control manager on Windows.
func chooseSystem() {}

// unitExists is only needed for rollBackInstall, which does nothing here.
func unitExists(system bool) bool { return true }

// rollBackInstall has nothing to do: launchd and the service control
// manager install in one step that fails whole.
func rollBackInstall(system bool) {}
