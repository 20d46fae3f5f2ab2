//go:build !linux

package telemetryd

// chooseSystem keeps the library's choice: launchd on macOS, the service
// control manager on Windows.
func chooseSystem() {}
