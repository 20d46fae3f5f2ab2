package machinepolicy

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
	"howett.net/plist"
)

// maxSize bounds what is read of a policy file: a policy this big is a
// mistake, and pace must not stall on it.
const maxSize = 64 << 10

// parseYAML reads policy.yaml: a mapping of the settings, keys in any
// case (as config.yaml). An empty file, or one of comments only, sets
// nothing.
func parseYAML(path string, data []byte) Policy {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return unreadable(path, fmt.Errorf("not valid YAML (%v)", err))
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return build(path, settings{})
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return unreadable(path, fmt.Errorf("must be a mapping of settings (%s: off), not a %s", KeyTelemetry, kindName(root)))
	}
	var s settings
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		var str string
		switch {
		case v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null":
		case v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str":
			str = v.Value
		default:
			return unreadable(path, fmt.Errorf("line %d: %s must be a word, not a %s", v.Line, k.Value, kindName(v)))
		}
		switch strings.ToLower(k.Value) {
		case KeyTelemetry:
			s.telemetry, s.telemetrySet = str, true
		case KeyTelemetryEndpoint:
			s.endpoint, s.endpointSet = str, true
		default:
			return unreadable(path, unknownKey(k.Value, KeyTelemetry, KeyTelemetryEndpoint))
		}
	}
	return build(path, s)
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		return "number (" + n.Value + ")"
	case "!!bool":
		return "true/false (" + n.Value + "); quote it"
	}
	return n.ShortTag()
}

// unknownKey is an error for a setting pace does not know: a misspelt
// setting read as absent could leave counting on against the
// administrator's wish, so it makes the policy unreadable instead.
func unknownKey(key string, known ...string) error {
	return fmt.Errorf("unknown setting %q (pace knows %s): a misspelt setting must not be ignored, so the policy counts as off until it is fixed", key, strings.Join(known, ", "))
}

// parsePlist reads the managed preferences of Domain, in any of the plist
// formats (XML or binary, as a configuration profile installs them): a
// dictionary with the string values Telemetry and TelemetryEndpoint. Keys
// that profiles themselves carry (Payload…) are not settings.
func parsePlist(path string, data []byte) Policy {
	var dict map[string]any
	if _, err := plist.Unmarshal(data, &dict); err != nil {
		var top any
		if _, err2 := plist.Unmarshal(data, &top); err2 == nil {
			return unreadable(path, fmt.Errorf("must be a dictionary of settings, not %T", top))
		}
		return unreadable(path, fmt.Errorf("not a valid property list (%v)", err))
	}
	keys := make([]string, 0, len(dict))
	for k := range dict {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the same first error every time
	var s settings
	for _, k := range keys {
		if strings.HasPrefix(k, "Payload") {
			continue
		}
		v, ok := dict[k].(string)
		if !ok {
			return unreadable(path, fmt.Errorf("%s must be a string, not %s", k, plistType(dict[k])))
		}
		switch k {
		case ValueTelemetry:
			s.telemetry, s.telemetrySet = v, true
		case ValueTelemetryEndpoint:
			s.endpoint, s.endpointSet = v, true
		default:
			return unreadable(path, unknownKey(k, ValueTelemetry, ValueTelemetryEndpoint))
		}
	}
	return build(path, s)
}

func plistType(v any) string {
	switch v.(type) {
	case bool:
		return "a boolean"
	case uint64, int64, float64:
		return "a number"
	case map[string]any:
		return "a dictionary"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("%T", v)
}

// errLink is the reason a link in a policy's path is not followed.
var errLink = errors.New("is a symbolic link, which pace does not follow in a policy's path: put the file (or folder) itself there")
