//go:build windows

package machinepolicy

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sys/windows/registry"
)

// Key is where Group Policy (and the ADMX template shipped with pace)
// writes the policy. Only administrators may write under
// HKLM\SOFTWARE\Policies, so its owner is not checked as a file's is.
const (
	KeyPath = RegistryKey
	Key     = `HKLM\` + KeyPath
)

func load() Policy {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, KeyPath, registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return Policy{Source: Key}
	}
	if err != nil {
		return unreadable(Key, fmt.Errorf("cannot open the key: %v", err))
	}
	defer k.Close()
	names, err := k.ReadValueNames(0)
	if err != nil {
		return unreadable(Key, fmt.Errorf("cannot list its values: %v", err))
	}
	sort.Strings(names)
	var s settings
	for _, name := range names {
		v, typ, err := k.GetStringValue(name)
		switch {
		case errors.Is(err, registry.ErrUnexpectedType):
			return unreadable(Key, fmt.Errorf("the value %s must be a string (REG_SZ), not of type %d", name, typ))
		case err != nil:
			return unreadable(Key, fmt.Errorf("the value %s: %v", name, err))
		}
		// Value names are case-insensitive in the registry.
		switch {
		case strings.EqualFold(name, ValueTelemetry):
			s.telemetry, s.telemetrySet = v, true
		case strings.EqualFold(name, ValueTelemetryEndpoint):
			s.endpoint, s.endpointSet = v, true
		default:
			return unreadable(Key, unknownKey(name, ValueTelemetry, ValueTelemetryEndpoint))
		}
	}
	return build(Key, s)
}
