//go:build !windows && !darwin

package machinepolicy

// File is the policy's place on Linux and other Unix systems.
const File = "/etc/pace/policy.yaml"

func load() Policy { return readFile(File, parseYAML) }
