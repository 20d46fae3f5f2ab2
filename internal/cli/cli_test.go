package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pace-cli/pace/function/payload"
	"github.com/pace-cli/pace/internal/telemetry"
	"github.com/pace-cli/pace/internal/upload"
)

// run is one in-process pace invocation.
type run struct {
	code        int
	stdout, err string
}

// sandbox is a config folder and environment of one test.
type sandbox struct {
	t   *testing.T
	dir string
	env map[string]string
}

func newSandbox(t *testing.T) *sandbox {
	dir := filepath.Join(t.TempDir(), "pace")
	return &sandbox{t: t, dir: dir, env: map[string]string{"PACE_CONFIG_PATH": dir}}
}

func (s *sandbox) pace(args ...string) run {
	var out, errOut bytes.Buffer
	code := Main(args, IO{In: strings.NewReader(""), Out: &out, Err: &errOut}, func(k string) string { return s.env[k] })
	return run{code, out.String(), errOut.String()}
}

func (s *sandbox) counts() map[string]map[int]payload.Point {
	s.t.Helper()
	p, err := (&telemetry.Store{Dir: s.dir}).Load()
	if err != nil {
		s.t.Fatal(err)
	}
	return p.MetricPoints
}

func TestExitCodesAndRecordedPaths(t *testing.T) {
	cases := []struct {
		args     []string
		code     int
		path     string
		stderr   string
		notInAny string // never written to the file
	}{
		{[]string{"version"}, ExitOK, "pace version", "", ""},
		{[]string{}, ExitOK, "pace", "", ""},
		{[]string{"--help"}, ExitOK, "pace", "", ""},
		{[]string{"version", "--help"}, ExitOK, "pace version", "", ""},
		{[]string{"telemetry"}, ExitOK, "pace telemetry", "", ""},
		{[]string{"help", "version"}, ExitOK, "pace help", "", ""},
		{[]string{"completion", "bash"}, ExitOK, "pace completion bash", "", ""},
		{[]string{"frobnicate-secret"}, ExitUsage, "pace", `unknown command "frobnicate-secret" for "pace"`, "frobnicate"},
		{[]string{"telemetry", "shwo"}, ExitUsage, "pace telemetry", "did you mean show?", "shwo"},
		{[]string{"version", "--token=hunter2"}, ExitUsage, "pace version", "unknown flag: --token", "hunter2"},
		{[]string{"--secret-flag"}, ExitUsage, "pace", "unknown flag", "secret"},
		{[]string{"version", "/home/ann/private.yaml"}, ExitUsage, "pace version", `unknown command "/home/ann/private.yaml"`, "private"},
		{[]string{"telemetry", "show", "--payload=maybe"}, ExitUsage, "pace telemetry show", `--payload "maybe" is not true or false`, "maybe"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			s := newSandbox(t)
			s.pace("version") // create the file, so no notice below
			r := s.pace(c.args...)
			if r.code != c.code {
				t.Fatalf("exit code %d, want %d (stderr %q)", r.code, c.code, r.err)
			}
			if c.stderr != "" && !strings.Contains(r.err, c.stderr) {
				t.Fatalf("stderr %q does not contain %q", r.err, c.stderr)
			}
			if c.stderr == "" && r.err != "" {
				t.Fatalf("unexpected stderr %q", r.err)
			}
			want := uint64(1)
			if c.path == "pace version" && c.code == ExitOK {
				want = 2
			}
			if got := s.counts()[c.path][c.code].CumulativeCount; got != want {
				t.Fatalf("%q exit %d counted %d times, want %d; file has %v", c.path, c.code, got, want, s.counts())
			}
			if c.notInAny != "" {
				data, _ := os.ReadFile(filepath.Join(s.dir, telemetry.FileName))
				if bytes.Contains(data, []byte(c.notInAny)) {
					t.Fatalf("%q leaked into the file:\n%s", c.notInAny, data)
				}
			}
		})
	}
}

func TestCompletionRequestsAreNotCounted(t *testing.T) {
	s := newSandbox(t)
	s.pace("version")
	for _, args := range [][]string{{"__complete", "tel"}, {"__completeNoDesc", "telemetry", ""}} {
		if r := s.pace(args...); r.code != ExitOK || !strings.Contains(r.stdout, "telemetry") && args[1] == "tel" {
			t.Fatalf("%v: code %d, stdout %q", args, r.code, r.stdout)
		}
	}
	if got := s.counts(); len(got) != 1 {
		t.Fatalf("completion requests were counted: %v", got)
	}
}

// Telemetry never changes what a command prints or how it exits: the same
// runs with counting on, local, off, and with a broken file give the same
// stdout and exit code.
func TestTelemetryDoesNotChangeOutput(t *testing.T) {
	argsList := [][]string{{"version"}, {"bogus"}, {"version", "--nope"}, {"telemetry", "--help"}}
	setups := map[string]func(s *sandbox){
		"on":    func(s *sandbox) {},
		"local": func(s *sandbox) { s.env["PACE_TELEMETRY_UPLOAD_INTERVAL_SECONDS"] = "-1" },
		"off":   func(s *sandbox) { s.env["DO_NOT_TRACK"] = "1" },
		"broken file": func(s *sandbox) {
			os.MkdirAll(s.dir, 0o700)
			os.WriteFile(filepath.Join(s.dir, "telemetry.yaml"), []byte("::"), 0o600)
		},
	}
	for _, args := range argsList {
		var ref *run
		for name, setup := range setups {
			s := newSandbox(t)
			setup(s)
			s.pace("version") // past the first-run notice
			r := s.pace(args...)
			if ref == nil {
				ref = &r
				continue
			}
			if r.code != ref.code || r.stdout != ref.stdout || r.err != ref.err {
				t.Fatalf("%v with telemetry %s: %+v, differs from %+v", args, name, r, *ref)
			}
		}
	}
}

func TestNoticeOnceOnStderr(t *testing.T) {
	s := newSandbox(t)
	first := s.pace("version")
	if first.stdout != s.pace("version").stdout {
		t.Fatal("the notice changed stdout")
	}
	for _, want := range []string{"never arguments", filepath.Join(s.dir, "telemetry.yaml"), "pace telemetry disable", "DO_NOT_TRACK=1"} {
		if !strings.Contains(first.err, want) {
			t.Fatalf("first-run notice %q lacks %q", first.err, want)
		}
	}
	if again := s.pace("version"); again.err != "" {
		t.Fatalf("notice shown twice: %q", again.err)
	}
	s2 := newSandbox(t)
	s2.env["PACE_TELEMETRY_UPLOAD_INTERVAL_SECONDS"] = "-1"
	if r := s2.pace("version"); !strings.Contains(r.err, "never leave this machine") && !strings.Contains(r.err, "stay on this machine") {
		t.Fatalf("local-mode notice does not say the counts stay local: %q", r.err)
	}
}

func TestDebugExplainsOnStderr(t *testing.T) {
	s := newSandbox(t)
	s.pace("version")
	s.env["PACE_TELEMETRY_DEBUG"] = "1"
	if r := s.pace("version"); !strings.Contains(r.err, `recorded "pace version" exit code 0`) {
		t.Fatalf("debug stderr %q", r.err)
	}
	s.env["DO_NOT_TRACK"] = "1"
	if r := s.pace("version"); !strings.Contains(r.err, "telemetry is off (DO_NOT_TRACK is set)") {
		t.Fatalf("debug stderr %q", r.err)
	}
}

func TestOffCreatesNothing(t *testing.T) {
	for _, env := range []map[string]string{{"DO_NOT_TRACK": "1"}, {"PACE_TELEMETRY_DISABLED": "1"}} {
		s := newSandbox(t)
		for k, v := range env {
			s.env[k] = v
		}
		if r := s.pace("version"); r.code != 0 || r.err != "" {
			t.Fatalf("%+v", r)
		}
		s.pace("telemetry", "status")
		if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
			t.Fatalf("with %v the config folder was created: %v", env, err)
		}
	}
}

func TestModeCommandsPersist(t *testing.T) {
	s := newSandbox(t)
	r := s.pace("telemetry", "disable")
	if r.code != 0 || !strings.Contains(r.stdout, "Telemetry is off") {
		t.Fatalf("disable: %+v", r)
	}
	s.pace("version")
	if _, err := os.Stat(filepath.Join(s.dir, "telemetry.yaml")); !os.IsNotExist(err) {
		t.Fatal("disabled telemetry wrote a file")
	}
	if r := s.pace("telemetry", "status"); !regexp.MustCompile(`mode:\s+off\nset by:\s+telemetry-mode: off in config.yaml`).MatchString(r.stdout) {
		t.Fatalf("status after disable: %q", r.stdout)
	}
	if r := s.pace("telemetry", "local"); !strings.Contains(r.stdout, "Telemetry is local") {
		t.Fatalf("local: %+v", r)
	}
	s.pace("version")
	if r := s.pace("telemetry", "status"); !regexp.MustCompile(`mode:\s+local\nset by:\s+telemetry-mode: local`).MatchString(r.stdout) || !regexp.MustCompile(`counters:\s+2\n`).MatchString(r.stdout) {
		t.Fatalf("status after local: %q", r.stdout)
	}
	s.env["DO_NOT_TRACK"] = "1"
	if r := s.pace("telemetry", "enable"); !strings.Contains(r.stdout, "Telemetry stays off: DO_NOT_TRACK is set") {
		t.Fatalf("enable under DO_NOT_TRACK: %+v", r)
	}
	delete(s.env, "DO_NOT_TRACK")
	if r := s.pace("telemetry", "status"); !regexp.MustCompile(`mode:\s+on\nset by:\s+telemetry-mode: on`).MatchString(r.stdout) {
		t.Fatalf("status after enable: %q", r.stdout)
	}
}

func TestEnableLiftsPACEsOwnOptOut(t *testing.T) {
	s := newSandbox(t)
	os.MkdirAll(s.dir, 0o700)
	cfg := filepath.Join(s.dir, "config.yaml")
	os.WriteFile(cfg, []byte("# mine\ntelemetry-upload-interval-seconds: -1\nprocessing_platforms: []\n"), 0o600)
	if r := s.pace("telemetry", "status"); !regexp.MustCompile(`mode:\s+local\nset by:\s+telemetry-upload-interval-seconds: -1`).MatchString(r.stdout) {
		t.Fatalf("status: %q", r.stdout)
	}
	if r := s.pace("telemetry", "enable"); !strings.Contains(r.stdout, "Removed telemetry-upload-interval-seconds") {
		t.Fatalf("enable: %+v", r)
	}
	data, _ := os.ReadFile(cfg)
	if !strings.Contains(string(data), "# mine") || !strings.Contains(string(data), "processing_platforms") || strings.Contains(string(data), "-1") {
		t.Fatalf("config.yaml after enable:\n%s", data)
	}
}

func TestBrokenConfigMeansOff(t *testing.T) {
	s := newSandbox(t)
	os.MkdirAll(s.dir, 0o700)
	os.WriteFile(filepath.Join(s.dir, "config.yaml"), []byte("telemetry-mode: [on\n"), 0o600)
	if r := s.pace("version"); r.code != 0 || r.stdout == "" {
		t.Fatalf("%+v", r)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "telemetry.yaml")); !os.IsNotExist(err) {
		t.Fatal("counted although config.yaml could not be read")
	}
	r := s.pace("telemetry", "status")
	if !regexp.MustCompile(`mode:\s+off\nset by:\s+config.yaml cannot be read`).MatchString(r.stdout) || !strings.Contains(r.stdout, "fix or remove it") {
		t.Fatalf("status: %q", r.stdout)
	}
	if r := s.pace("telemetry", "enable"); r.code != ExitError || !strings.Contains(r.err, "is not valid YAML") {
		t.Fatalf("enable on a broken config.yaml: %+v", r)
	}
}

func TestShowAndPayload(t *testing.T) {
	s := newSandbox(t)
	if r := s.pace("telemetry", "show"); r.code != 0 || r.stdout != "" || !strings.Contains(r.err, "Nothing recorded yet") {
		t.Fatalf("show with no file: %+v", r)
	}
	s.pace("version")
	s.pace("bogus")
	file, _ := os.ReadFile(filepath.Join(s.dir, "telemetry.yaml"))
	if r := s.pace("telemetry", "show"); r.stdout != string(file) {
		t.Fatalf("show printed %q, file is %q", r.stdout, file)
	}
	r := s.pace("telemetry", "show", "--payload")
	var p payload.Payload
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("payload %q: %v", r.stdout, err)
	}
	if p.MetricPoints["pace version"][0].CumulativeCount != 1 || p.MetricPoints["pace"][2].CumulativeCount != 1 || p.OperatingSystem == "" || payload.ValidID(p.ID) != nil {
		t.Fatalf("payload %+v", p)
	}
	if !strings.Contains(r.stdout, `"pace":{"2":{"cumulative_count":1}}`) {
		t.Fatalf("exit codes are not string keys: %s", r.stdout)
	}
}

func TestResetIsNotCounted(t *testing.T) {
	s := newSandbox(t)
	s.pace("version")
	before := s.pace("telemetry", "status").stdout
	r := s.pace("telemetry", "reset")
	if r.code != 0 || !strings.Contains(r.stdout, "new id") {
		t.Fatalf("reset: %+v", r)
	}
	if got := s.counts(); len(got) != 0 {
		t.Fatalf("counts after reset: %v", got)
	}
	if after := s.pace("telemetry", "status").stdout; after == before {
		t.Fatal("id did not change")
	}
	s2 := newSandbox(t)
	s2.env["DO_NOT_TRACK"] = "1"
	if r := s2.pace("telemetry", "reset"); !strings.Contains(r.stdout, "Nothing to reset") {
		t.Fatalf("reset while off with no file: %+v", r)
	}
	if _, err := os.Stat(s2.dir); !os.IsNotExist(err) {
		t.Fatal("reset while off created the folder")
	}
}

// The config folder is PACE's: $PACE_CONFIG_PATH (a leading ~ expanded),
// else ~/.config/pace; XDG_CONFIG_HOME is never read.
func TestConfigFolderRule(t *testing.T) {
	home := t.TempDir()
	xdg := t.TempDir()
	s := &sandbox{t: t, env: map[string]string{"HOME": home, "XDG_CONFIG_HOME": xdg}}
	s.pace("version")
	if _, err := os.Stat(filepath.Join(home, ".config", "pace", "telemetry.yaml")); err != nil {
		t.Fatalf("~/.config/pace not used: %v", err)
	}
	if entries, _ := os.ReadDir(xdg); len(entries) != 0 {
		t.Fatalf("$XDG_CONFIG_HOME used: %v", entries)
	}
	own := filepath.Join(t.TempDir(), "mine")
	s.env["PACE_CONFIG_PATH"] = own
	s.pace("version")
	if _, err := os.Stat(filepath.Join(own, "telemetry.yaml")); err != nil {
		t.Fatalf("$PACE_CONFIG_PATH not used: %v", err)
	}
	s.env["PACE_CONFIG_PATH"] = "~/tilde-conf"
	s.pace("version")
	if _, err := os.Stat(filepath.Join(home, "tilde-conf", "telemetry.yaml")); err != nil {
		t.Fatalf("~ in $PACE_CONFIG_PATH not expanded: %v", err)
	}
	if r := s.pace("telemetry", "status"); !strings.Contains(r.stdout, filepath.Join(home, "tilde-conf", "telemetry.yaml")) {
		t.Fatalf("status: %q", r.stdout)
	}
	none := &sandbox{t: t, env: map[string]string{}}
	if r := none.pace("version"); r.code != 0 || r.err != "" {
		t.Fatalf("no HOME at all: %+v", r)
	}
}

// PACE's persistent flag is accepted on every command. A negative value
// keeps the run out of the counts (its count would otherwise be uploaded
// later); its value is never written anywhere.
func TestUploadIntervalFlag(t *testing.T) {
	s := newSandbox(t)
	s.pace("version")
	for _, args := range [][]string{
		{"version", "--telemetry-upload-interval-seconds", "-1"},
		{"--telemetry-upload-interval-seconds=-1", "version"},
		{"telemetry", "show", "--telemetry-upload-interval-seconds=-7"},
		{"list", "--telemetry-upload-interval-seconds=-1"},
		{"frobnicate", "--telemetry-upload-interval-seconds=-1"},
	} {
		before := s.counts()
		r := s.pace(args...)
		if r.code == ExitUsage && args[0] != "frobnicate" {
			t.Fatalf("pace %v: refused: %+v", args, r)
		}
		if after := s.counts(); !equalCounts(before, after) {
			t.Fatalf("pace %v was counted: %v -> %v", args, before, after)
		}
	}
	s.env["PACE_TELEMETRY_DEBUG"] = "1"
	if r := s.pace("version", "--telemetry-upload-interval-seconds=-1"); !strings.Contains(r.err, "keeps this run out of every upload") {
		t.Fatalf("debug: %q", r.err)
	}
	delete(s.env, "PACE_TELEMETRY_DEBUG")
	if r := s.pace("telemetry", "status", "--telemetry-upload-interval-seconds=-1"); !regexp.MustCompile(`(?m)^mode:\s+local\nset by:\s+--telemetry-upload-interval-seconds -1 on this run$`).MatchString(r.stdout) {
		t.Fatalf("status: %q", r.stdout)
	}
	// Other values change nothing: the run is counted, as always.
	before := s.counts()["pace version"][0].CumulativeCount
	if r := s.pace("version", "--telemetry-upload-interval-seconds", "3600"); r.code != 0 {
		t.Fatalf("%+v", r)
	}
	if got := s.counts()["pace version"][0].CumulativeCount; got != before+1 {
		t.Fatalf("pace version: %d, want %d", got, before+1)
	}
	// Not a number: a usage error, as in PACE; the word is not recorded.
	if r := s.pace("version", "--telemetry-upload-interval-seconds=soon"); r.code != ExitUsage || !strings.Contains(r.err, `"soon" is not a whole number`) {
		t.Fatalf("bad value: %+v", r)
	}
	data, _ := os.ReadFile(filepath.Join(s.dir, "telemetry.yaml"))
	if strings.Contains(string(data), "soon") || strings.Contains(string(data), "3600") || strings.Contains(string(data), "interval") {
		t.Fatalf("a flag value reached the file:\n%s", data)
	}
}

func equalCounts(a, b map[string]map[int]payload.Point) bool {
	if len(a) != len(b) {
		return false
	}
	for path, codes := range a {
		if len(codes) != len(b[path]) {
			return false
		}
		for code, pt := range codes {
			if b[path][code] != pt {
				return false
			}
		}
	}
	return true
}

// An opt-out is honoured wherever PACE would have seen it, written as
// viper would have read it; enable lifts it from config.yaml in any
// spelling.
func TestPACEOptOutAnywhere(t *testing.T) {
	for name, c := range map[string]struct {
		file string
		env  map[string]string
	}{
		"config.yaml":              {"telemetry-upload-interval-seconds: -1\n", nil},
		"config.yaml, other case":  {"Telemetry-Upload-Interval-Seconds: -1\n", nil},
		"config.yaml, as a string": {"TELEMETRY-UPLOAD-INTERVAL-SECONDS: \"-1\"\n", nil},
		"config.yaml, -60":         {"telemetry-upload-interval-seconds: -60\n", nil},
		"environment":              {"", map[string]string{"PACE_TELEMETRY_UPLOAD_INTERVAL_SECONDS": "-1"}},
	} {
		t.Run(name, func(t *testing.T) {
			s := newSandbox(t)
			for k, v := range c.env {
				s.env[k] = v
			}
			os.MkdirAll(s.dir, 0o700)
			if c.file != "" {
				os.WriteFile(filepath.Join(s.dir, "config.yaml"), []byte("# mine\n"+c.file+"other: kept\n"), 0o600)
			}
			if r := s.pace("telemetry", "status"); !strings.Contains(r.stdout, "mode:         local") {
				t.Fatalf("status: %q", r.stdout)
			}
			r := s.pace("telemetry", "enable")
			if c.file == "" {
				if !strings.Contains(r.stdout, "Telemetry stays local: PACE_TELEMETRY_UPLOAD_INTERVAL_SECONDS is -1") {
					t.Fatalf("enable: %+v", r)
				}
				return
			}
			if !strings.Contains(r.stdout, "Removed telemetry-upload-interval-seconds") || !strings.Contains(r.stdout, "Telemetry is on") {
				t.Fatalf("enable: %+v", r)
			}
			data, _ := os.ReadFile(filepath.Join(s.dir, "config.yaml"))
			if strings.Contains(strings.ToLower(string(data)), "interval") || !strings.Contains(string(data), "other: kept") || !strings.Contains(string(data), "# mine") {
				t.Fatalf("config.yaml after enable:\n%s", data)
			}
		})
	}
}

func TestStatusShowsTheDaemonsLastUpload(t *testing.T) {
	s := newSandbox(t)
	s.pace("version")
	if r := s.pace("telemetry", "status"); !regexp.MustCompile(`last upload:\s+never\n`).MatchString(r.stdout) || strings.Contains(r.stdout, "last error") {
		t.Fatalf("status before any upload: %q", r.stdout)
	}
	at := time.Date(2026, 11, 25, 4, 44, 17, 0, time.UTC)
	st := upload.State{LastSuccess: at, LastAttempt: at.Add(time.Hour), LastError: "receiver answered 503 Service Unavailable: try later", Failures: 1}
	if err := st.Save(s.dir); err != nil {
		t.Fatal(err)
	}
	r := s.pace("telemetry", "status")
	if !strings.Contains(r.stdout, at.Local().Format(time.RFC3339)) || !strings.Contains(r.stdout, "last error:   receiver answered 503") {
		t.Fatalf("status: %q", r.stdout)
	}
}
