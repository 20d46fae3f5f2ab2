package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Helpers of the machine-wide policy tests (policy_linux_test.go,
// policy_darwin_test.go, policy_wine_linux_test.go).

// paceStatus is what the test reads of `pace telemetry status -o json`.
type paceStatus struct {
	Mode, Reason string
	Policy       struct {
		Source, Telemetry, Error, Ignored string
		Found                             bool
		InEffect                          bool   `json:"in_effect"`
		Endpoint                          string `json:"telemetry_endpoint"`
	}
	Uploader struct {
		Endpoint     string
		EndpointFrom string `json:"endpoint_from"`
		Mode         string
		Uploads      bool
		Policy       struct{ Source, Telemetry, Error, Ignored string }
	}
}

func paceIn(t *testing.T, dir string, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin.pace, args...)
	cmd.Env = append([]string{"PACE_CONFIG_PATH=" + dir, "PACE_TELEMETRY_NOTICE=off", "PATH=" + filepath.Dir(bin.daemon)}, env...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}

func statusOf(t *testing.T, dir string, env ...string) paceStatus {
	t.Helper()
	code, out, errOut := paceIn(t, dir, env, "telemetry", "status", "-o", "json")
	var st paceStatus
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("pace telemetry status -o json: %d %s %s", code, out, errOut)
	}
	return st
}
