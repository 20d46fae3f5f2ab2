//go:build linux

package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pace-cli/pace/internal/telemetry"
	"github.com/pace-cli/pace/internal/testenv"
)

// The machine-wide policy in /etc/pace is tested with the real pace and
// pace-telemetryd, in a private mount namespace: the test re-runs itself
// under `unshare --mount`, puts an overlay (upper layer on a tmpfs) over
// /etc there, and writes /etc/pace only in that overlay. The machine's own
// /etc is never touched.

const inNamespaceEnv = "PACE_TEST_POLICY_NAMESPACE"

// inPolicyNamespace runs the test named name again in a private mount
// namespace, and reports its outcome as this test's. It returns false in
// the parent (the test is done) and true in the re-run, with /etc writable
// in memory.
func inPolicyNamespace(t *testing.T, name string) bool {
	t.Helper()
	if os.Getenv(inNamespaceEnv) == "1" {
		etcOverlay(t)
		return true
	}
	testenv.NeedTool(t, "unshare")
	if err := exec.Command("unshare", "--mount", "true").Run(); err != nil {
		testenv.Unavailable(t, "cannot make a mount namespace (needs root): "+err.Error())
	}
	cmd := exec.Command("unshare", "--mount", os.Args[0], "-test.run=^"+name+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), inNamespaceEnv+"=1", binDirEnv+"="+filepath.Dir(bin.pace))
	out, err := cmd.CombinedOutput()
	t.Logf("in a private mount namespace:\n%s", out)
	if err != nil || !strings.Contains(string(out), "--- PASS: "+name) {
		t.Fatalf("%s failed in its mount namespace: %v", name, err)
	}
	return false
}

// etcOverlay puts /etc, as it is, under a writable layer in memory, in
// this process's own mount namespace.
func etcOverlay(t *testing.T) {
	layer := t.TempDir()
	for _, args := range [][]string{
		{"--make-rprivate", "/"},
		{"-t", "tmpfs", "tmpfs", layer},
	} {
		if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
			t.Fatalf("mount %v: %v %s", args, err, out)
		}
	}
	// Unmounted before TempDir removes the folder (cleanups run last first).
	t.Cleanup(func() { exec.Command("umount", "-l", "/etc").Run(); exec.Command("umount", "-l", layer).Run() })
	os.Mkdir(filepath.Join(layer, "upper"), 0o755)
	os.Mkdir(filepath.Join(layer, "work"), 0o755)
	if out, err := exec.Command("mount", "-t", "overlay", "overlay", "-o",
		"lowerdir=/etc,upperdir="+layer+"/upper,workdir="+layer+"/work", "/etc").CombinedOutput(); err != nil {
		testenv.Unavailable(t, "cannot put an overlay over /etc: "+strings.TrimSpace(string(out)))
	}
	if _, err := os.Lstat("/etc/pace"); err == nil {
		// The machine has a policy of its own: start from none, in the overlay only.
		if err := os.RemoveAll("/etc/pace"); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir("/etc/pace", 0o755); err != nil {
		t.Fatal(err)
	}
}

const policyFile = "/etc/pace/policy.yaml"

func writePolicy(t *testing.T, content string) {
	t.Helper()
	os.RemoveAll(policyFile)
	if err := os.WriteFile(policyFile, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestMachinePolicyPace: each setting and each bad file, as pace applies
// them and says so; a command's output and exit code never change.
func TestMachinePolicyPace(t *testing.T) {
	if !inPolicyNamespace(t, "TestMachinePolicyPace") {
		return
	}
	// What `pace version` prints and exits with, with no policy: the same
	// under every policy below.
	ref := t.TempDir()
	refCode, refOut, _ := paceIn(t, ref, nil, "version")

	// counted runs pace version in a new folder and tells whether it was
	// counted; its output and exit code must be those without a policy.
	counted := func(t *testing.T, env ...string) bool {
		t.Helper()
		dir := t.TempDir()
		code, out, errOut := paceIn(t, dir, env, "version")
		if code != refCode || out != refOut || errOut != "" {
			t.Fatalf("pace version under the policy: %d %q %q, want %d %q and nothing on stderr", code, out, errOut, refCode, refOut)
		}
		_, err := os.Stat(filepath.Join(dir, telemetry.FileName))
		return err == nil
	}

	t.Run("none", func(t *testing.T) {
		os.RemoveAll(policyFile)
		st := statusOf(t, t.TempDir())
		if st.Mode != "on" || st.Policy.Found || st.Policy.Source != policyFile || !counted(t) {
			t.Fatalf("no policy: %+v", st)
		}
	})
	t.Run("off", func(t *testing.T) {
		writePolicy(t, "# set by IT\ntelemetry: off\n")
		dir := t.TempDir()
		st := statusOf(t, dir)
		if st.Mode != "off" || !strings.Contains(st.Reason, "the machine's policy "+policyFile+" sets telemetry: off") ||
			!st.Policy.InEffect || st.Policy.Telemetry != "off" || st.Uploader.Mode != "off" || st.Uploader.Policy.Telemetry != "off" {
			t.Fatalf("status under an off policy: %+v", st)
		}
		if counted(t) {
			t.Fatal("counted under an off policy")
		}
		code, out, errOut := paceIn(t, dir, nil, "telemetry", "enable")
		if code != 1 || !strings.Contains(errOut, "cannot enable telemetry: the machine's policy "+policyFile+" sets telemetry: off") {
			t.Fatalf("enable under an off policy: %d %q %q", code, out, errOut)
		}
		if _, err := os.Stat(filepath.Join(dir, "config.yaml")); err == nil {
			t.Fatal("enable wrote config.yaml though it could not enable")
		}
		// Text status names the policy on a line of its own.
		if _, text, _ := paceIn(t, dir, nil, "telemetry", "status"); !strings.Contains(text, "policy:       "+policyFile+": telemetry: off") {
			t.Fatalf("status text:\n%s", text)
		}
	})
	t.Run("local", func(t *testing.T) {
		writePolicy(t, "telemetry: Local\n")
		st := statusOf(t, t.TempDir())
		if st.Mode != "local" || !strings.Contains(st.Reason, policyFile) || st.Uploader.Uploads || !counted(t) {
			t.Fatalf("status under a local policy: %+v", st)
		}
		// The user's off and DO_NOT_TRACK still win.
		if st := statusOf(t, t.TempDir(), "DO_NOT_TRACK=1"); st.Mode != "off" || st.Reason != "DO_NOT_TRACK is set" {
			t.Fatalf("DO_NOT_TRACK under a local policy: %+v", st)
		}
		if counted(t, "DO_NOT_TRACK=1") {
			t.Fatal("DO_NOT_TRACK=1 counted under a local policy")
		}
	})
	t.Run("endpoint", func(t *testing.T) {
		writePolicy(t, "telemetry-endpoint: https://telemetry.corp.example/ingest?key=secret\n")
		st := statusOf(t, t.TempDir(), "PACE_TELEMETRY_ENDPOINT=https://user.example/")
		if st.Mode != "on" || st.Uploader.EndpointFrom != "the machine's policy "+policyFile ||
			!strings.HasPrefix(st.Uploader.Endpoint, "https://telemetry.corp.example/ingest") || strings.Contains(st.Uploader.Endpoint, "secret") ||
			strings.Contains(st.Policy.Endpoint, "secret") || !counted(t) {
			t.Fatalf("status under an endpoint policy: %+v", st)
		}
		// The user's local mode still wins over a redirect.
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("telemetry-mode: local\n"), 0o600)
		if st := statusOf(t, dir); st.Mode != "local" || st.Uploader.Uploads {
			t.Fatalf("local mode under an endpoint policy: %+v", st)
		}
	})

	// Each bad policy counts as off, and status says why.
	for _, c := range []struct {
		name, content, why string
	}{
		{"bad YAML", "telemetry: [off\n", "not valid YAML"},
		{"a list", "- telemetry: off\n", "must be a mapping"},
		{"wrong type", "telemetry: [off]\n", "telemetry must be a word, not a list"},
		{"a number", "telemetry: 0\n", "telemetry must be a word, not a number"},
		{"unknown value", "telemetry: disabled\n", `"disabled" is not one of off, local`},
		{"on", "telemetry: on\n", "on is not a policy"},
		{"misspelt key", "telemtry: off\n", `unknown setting "telemtry"`},
		{"http to the network", "telemetry-endpoint: http://telemetry.corp.example/\n", "http is allowed only to this machine"},
		{"no URL", "telemetry-endpoint: telemetry.corp.example\n", "is not a URL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			writePolicy(t, c.content)
			st := statusOf(t, t.TempDir())
			if st.Mode != "off" || !st.Policy.Found || !strings.Contains(st.Policy.Error, c.why) || !strings.Contains(st.Reason, "cannot be read, so it counts as off") {
				t.Fatalf("status: %+v, want off and an error with %q", st, c.why)
			}
			if counted(t) {
				t.Fatal("counted under an unreadable policy")
			}
		})
	}
	t.Run("a folder", func(t *testing.T) {
		os.RemoveAll(policyFile)
		os.Mkdir(policyFile, 0o755)
		defer os.RemoveAll(policyFile)
		if st := statusOf(t, t.TempDir()); st.Mode != "off" || !strings.Contains(st.Policy.Error, "folder") || counted(t) {
			t.Fatalf("a folder at the policy: %+v", st)
		}
	})
	t.Run("a symbolic link", func(t *testing.T) {
		target := "/etc/pace/real.yaml"
		os.WriteFile(target, []byte("telemetry: local\n"), 0o644)
		defer os.Remove(target)
		os.RemoveAll(policyFile)
		os.Symlink(target, policyFile)
		// Not followed: its target would say local; the link counts as off.
		if st := statusOf(t, t.TempDir()); st.Mode != "off" || !strings.Contains(st.Policy.Error, "symbolic link") || counted(t) {
			t.Fatalf("a link at the policy: %+v", st)
		}
	})
	t.Run("unreadable by the user", func(t *testing.T) {
		testenv.NeedTool(t, "setpriv")
		writePolicy(t, "telemetry: local\n")
		os.Chmod(policyFile, 0o600)
		dir := t.TempDir()
		os.Chown(dir, 65534, 65534)
		cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bin.pace, "telemetry", "status", "-o", "json")
		cmd.Env = []string{"PACE_CONFIG_PATH=" + dir, "PACE_TELEMETRY_NOTICE=off"}
		out, err := cmd.Output()
		var st paceStatus
		if err != nil || json.Unmarshal(out, &st) != nil || st.Mode != "off" || !strings.Contains(st.Policy.Error, "make it readable by everyone (chmod 644") {
			t.Fatalf("a policy the user cannot read: %v %s", err, out)
		}
	})

	// A policy any user could have written is ignored, with a warning.
	for _, c := range []struct {
		name  string
		setup func()
		why   string
	}{
		{"file of a user", func() { os.Chown(policyFile, 1000, 0) }, "belongs to uid 1000, not to root"},
		{"file writable by all", func() { os.Chmod(policyFile, 0o666) }, "every user may write " + policyFile},
		{"file writable by a group", func() { os.Chown(policyFile, 0, 1000); os.Chmod(policyFile, 0o664) }, "the group 1000 may write " + policyFile},
		{"folder writable by all", func() { os.Chmod("/etc/pace", 0o777) }, "every user may write /etc/pace"},
		{"folder of a user", func() { os.Chown("/etc/pace", 1000, 1000) }, "/etc/pace belongs to uid 1000"},
	} {
		t.Run(c.name, func(t *testing.T) {
			writePolicy(t, "telemetry: off\n")
			c.setup()
			defer func() { os.Chown("/etc/pace", 0, 0); os.Chmod("/etc/pace", 0o755) }()
			dir := t.TempDir()
			st := statusOf(t, dir)
			if st.Mode != "on" || st.Policy.InEffect || !strings.Contains(st.Policy.Ignored, c.why) || st.Uploader.Policy.Ignored == "" || !counted(t) {
				t.Fatalf("status: %+v, want the policy ignored (%q)", st, c.why)
			}
			if _, text, _ := paceIn(t, dir, nil, "telemetry", "status"); !strings.Contains(text, "warning:      the machine's policy is ignored: ") {
				t.Fatalf("status text without a warning:\n%s", text)
			}
		})
	}
}

// TestMachinePolicyDaemon: a running pace-telemetryd follows the policy
// without a restart: a new endpoint is used, and off stops its uploads.
func TestMachinePolicyDaemon(t *testing.T) {
	if !inPolicyNamespace(t, "TestMachinePolicyDaemon") {
		return
	}
	own, corp := startReceiver(t), startReceiver(t)
	dir := t.TempDir()
	runPace(t, dir, "version")
	d := startDaemon(t, dir, own.url, fastRetries...)
	eventually(t, "the counts to reach the user's receiver", func() bool { return equal(own.counts(t), want(t, dir)) })

	// A policy redirects: the next counts go to the company's receiver,
	// whatever --endpoint says.
	writePolicy(t, "telemetry-endpoint: "+corp.url+"\n")
	runPace(t, dir, "version")
	eventually(t, "the counts to reach the policy's receiver", func() bool { return equal(corp.counts(t), want(t, dir)) })
	code, out := daemonCmd(t, []string{"PACE_CONFIG_PATH=" + dir}, "status", "-o", "json", "--endpoint", own.url)
	var st struct {
		EndpointFrom string `json:"endpoint_from"`
		Uploads      bool
		Policy       struct{ Source, Telemetry string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.EndpointFrom != "the machine's policy "+policyFile || !st.Uploads || st.Policy.Source != policyFile {
		t.Fatalf("pace-telemetryd status under an endpoint policy: %d %s", code, out)
	}

	// off: pace counts nothing more, and the daemon sends nothing more,
	// even of counts that change (as a pace run before the policy would).
	writePolicy(t, "telemetry: off\ntelemetry-endpoint: "+corp.url+"\n")
	delivered := corp.counts(t)
	(&telemetry.Store{Dir: dir}).Record("pace version", 0)
	if n := want(t, dir)["version 0"]; n != 3 {
		t.Fatalf("the counts did not change: version 0 is %d", n)
	}
	eventually(t, "the daemon to say it stopped", func() bool {
		return strings.Contains(d.log.String(), "not uploading: telemetry is off (the machine's policy "+policyFile+" sets telemetry: off")
	})
	time.Sleep(3 * time.Second) // three upload intervals
	if got := corp.counts(t); !equal(got, delivered) || own.counts(t)["version 0"] != 1 {
		t.Fatalf("uploaded under an off policy: %v, had %v", got, delivered)
	}
	code, out = daemonCmd(t, []string{"PACE_CONFIG_PATH=" + dir}, "status")
	if code != 0 || !strings.Contains(out, "uploads:        off: telemetry is off (the machine's policy "+policyFile) || !strings.Contains(out, "policy:         "+policyFile+": telemetry: off") {
		t.Fatalf("pace-telemetryd status under an off policy: %d\n%s", code, out)
	}

	// Without the policy, the held counts go to the user's receiver.
	os.Remove(policyFile)
	runPace(t, dir, "version")
	eventually(t, "the counts to reach the user's receiver again", func() bool { return equal(own.counts(t), want(t, dir)) })
}
