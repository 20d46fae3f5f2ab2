package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/pace-cli/pace/function/servertest"
	"github.com/pace-cli/pace/internal/lockedfile"
	"github.com/pace-cli/pace/internal/telemetry"
	"github.com/pace-cli/pace/internal/upload"
)

func decodeStrict(t *testing.T, data string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%v in %q", err, data)
	}
}

func TestVersionFlagCommandAndFormats(t *testing.T) {
	s := newSandbox(t)
	s.pace("telemetry", "status") // past the notice
	flag, cmd := s.pace("--version"), s.pace("version")
	want := "pace version " + Command().Version + " (" + runtime.GOOS + "/" + runtime.GOARCH + ", " + runtime.Version() + ")\n"
	if flag.code != 0 || cmd.code != 0 || flag.stdout != want || cmd.stdout != want {
		t.Fatalf("--version %+v, version %+v; want %q", flag, cmd, want)
	}
	var v struct {
		Program, Version, Go, OS, Arch string
	}
	decodeStrict(t, s.pace("version", "-o", "json").stdout, &v)
	if v.Program != "pace" || v.Version != Command().Version || v.OS != runtime.GOOS || v.Arch != runtime.GOARCH || v.Go != runtime.Version() {
		t.Fatalf("version -o json: %+v", v)
	}
	var y map[string]string
	if err := yaml.Unmarshal([]byte(s.pace("version", "-o", "yaml").stdout), &y); err != nil || y["program"] != "pace" || len(y) != 5 {
		t.Fatalf("version -o yaml: %v %v", y, err)
	}
	// Both are counted as what they are.
	if s.counts()["pace"][0].CumulativeCount != 1 || s.counts()["pace version"][0].CumulativeCount != 3 {
		t.Fatalf("counts: %v", s.counts())
	}
}

// The JSON of `telemetry status` against what the test put there: three
// distinct (command, exit code) pairs, an upload state written as the
// daemon writes it, and a real pace-telemetryd on PATH.
func TestStatusJSON(t *testing.T) {
	s := newSandbox(t)
	s.env["PACE_TELEMETRY_NOTICE"] = "off"
	s.pace("version")
	s.pace("version")
	s.pace("bogus")
	s.pace("list", "data-policies")
	at := time.Date(2026, 11, 25, 4, 44, 17, 0, time.UTC)
	if err := (upload.State{LastSuccess: at, LastAttempt: at.Add(time.Minute), LastError: "receiver answered 503", Failures: 2}).Save(s.dir); err != nil {
		t.Fatal(err)
	}
	type status struct {
		Mode      string `json:"mode"`
		Reason    string `json:"reason"`
		Folder    string `json:"config_folder"`
		File      string `json:"file"`
		Counts    string `json:"counts"`
		FileError string `json:"file_error"`
		ID        string `json:"id"`
		Counters  int    `json:"counters"`
		Policy    struct {
			Source, Telemetry, Summary string
			Found                      bool
			InEffect                   bool   `json:"in_effect"`
			Endpoint                   string `json:"telemetry_endpoint"`
		} `json:"policy"`
		// The uploader in pace-telemetryd's own shape (daemon.Status).
		Uploader struct {
			Program string `json:"program"`
			Service struct {
				State, Manager, Detail string
			} `json:"service"`
			ConfigFolder string     `json:"config_folder"`
			Endpoint     string     `json:"endpoint"`
			EndpointFrom string     `json:"endpoint_from"`
			Mode         string     `json:"mode"`
			ModeReason   string     `json:"mode_reason"`
			Interval     string     `json:"interval"`
			IntervalSecs int64      `json:"interval_seconds"`
			IntervalFrom string     `json:"interval_from"`
			LastUpload   *time.Time `json:"last_upload"`
			LastAttempt  *time.Time `json:"last_attempt"`
			LastError    string     `json:"last_error"`
			Failures     int        `json:"failures"`
			StateError   string     `json:"state_error"`
			Uploads      bool       `json:"uploads"`
			UploadsOff   string     `json:"uploads_off_reason"`
			Pending      string     `json:"pending"`
			Policy       struct {
				Source, Telemetry, Summary string
				Found                      bool
				InEffect                   bool   `json:"in_effect"`
				Endpoint                   string `json:"telemetry_endpoint"`
			} `json:"policy"`
		} `json:"uploader"`
		NoticeShown   int `json:"notice_shown"`
		NoticeVersion int `json:"notice_version"`
	}
	var st status
	decodeStrict(t, s.pace("telemetry", "status", "-o", "json").stdout, &st)
	file, _ := os.ReadFile(filepath.Join(s.dir, telemetry.FileName))
	var kept struct{ ID string }
	yaml.Unmarshal(file, &kept)
	if st.Mode != "on" || st.Reason != "default" || st.Folder != s.dir || st.File != filepath.Join(s.dir, "telemetry.yaml") ||
		st.Counts != "kept" || st.ID != kept.ID || st.Counters != 3 || st.NoticeShown != 0 || st.NoticeVersion != 2 {
		t.Fatalf("status: %+v", st)
	}
	u := st.Uploader
	if u.Program != "" || u.Service.State != "not installed" || u.ConfigFolder != s.dir || u.Mode != "on" || u.LastUpload == nil || !u.LastUpload.Equal(at) ||
		!u.LastAttempt.Equal(at.Add(time.Minute)) || u.LastError != "receiver answered 503" || u.Failures != 2 ||
		u.Uploads || u.UploadsOff != "pace-telemetryd is not installed" {
		t.Fatalf("uploader without pace-telemetryd on PATH: %+v", u)
	}

	// With the real pace-telemetryd on PATH, its own status says what its
	// service is: here no unit was ever installed.
	daemon := servertest.Program(t, "../../cmd/pace-telemetryd")
	bin := filepath.Dir(daemon)
	s.env["PATH"] = bin
	s.env["HOME"] = t.TempDir()
	st = status{}
	decodeStrict(t, s.pace("telemetry", "status", "-o", "json").stdout, &st)
	if st.Uploader.Program != daemon || st.Uploader.Service.State == "unknown" && !strings.Contains(st.Uploader.Service.Detail, "pace-telemetryd") ||
		st.Uploader.Uploads || st.Uploader.UploadsOff == "" {
		t.Fatalf("uploader: %+v", st.Uploader)
	}
	text := s.pace("telemetry", "status").stdout
	for _, want := range []string{"uploader:     " + daemon, "service:      " + st.Uploader.Service.State, "last upload:  " + at.Local().Format(time.RFC3339),
		"uploads:      none: the counts are kept, but nothing will upload them (", st.Uploader.UploadsOff + "); 'pace telemetry enable --upload' sets up the uploader"} {
		if !strings.Contains(text, want) {
			t.Fatalf("status text lacks %q:\n%s", want, text)
		}
	}

	// An unreadable file is said so, in both forms.
	os.WriteFile(filepath.Join(s.dir, telemetry.FileName), []byte("::"), 0o600)
	st = status{}
	decodeStrict(t, s.pace("telemetry", "status", "-o", "json").stdout, &st)
	if st.Counts != "unreadable" || st.FileError == "" || st.ID != "" {
		t.Fatalf("status of a broken file: %+v", st)
	}
	// (That run was counted, and moved the file aside.)
	os.WriteFile(filepath.Join(s.dir, telemetry.FileName), []byte("::"), 0o600)
	if text := s.pace("telemetry", "status").stdout; !strings.Contains(text, "; the next counted run moves it aside") {
		t.Fatalf("status text of a broken file:\n%s", text)
	}
	// Too large is bad content too, and show says what will happen.
	big := append([]byte("metric_points: {}\n"), bytes.Repeat([]byte("# padding\n"), telemetry.MaxFileSize/10+1)...)
	for _, bad := range [][]byte{[]byte("::"), big} {
		os.WriteFile(filepath.Join(s.dir, telemetry.FileName), bad, 0o600)
		if r := s.pace("telemetry", "show", "--payload"); r.code != ExitError || !strings.HasSuffix(r.err, "; the next counted run moves the file aside\n") {
			t.Fatalf("show --payload of a broken file (%d bytes): %+v", len(bad), r)
		}
		os.WriteFile(filepath.Join(s.dir, telemetry.FileName), bad, 0o600)
		if text := s.pace("telemetry", "status").stdout; !strings.Contains(text, "; the next counted run moves it aside") {
			t.Fatalf("status text of a broken file (%d bytes):\n%s", len(bad), text)
		}
	}

	// A file whose lock a stuck run holds is not readable now: nothing is
	// read without the lock, and nothing is said of moving it aside.
	os.Remove(filepath.Join(s.dir, telemetry.FileName))
	s.pace("version")
	unlock, err := lockedfile.Lock(context.Background(), filepath.Join(s.dir, telemetry.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if text := s.pace("telemetry", "status").stdout; !regexp.MustCompile(`counters:\s+the file cannot be read now \(.*telemetry.yaml is locked by another process that has not written to it for 1s \(a pace run stopped or stuck\?\)\); try again\n`).MatchString(text) {
		t.Fatalf("status text of a file held by a stuck run:\n%s", text)
	}
	for _, args := range [][]string{{"telemetry", "show"}, {"telemetry", "show", "--payload"}} {
		if r := s.pace(args...); r.code != ExitError || !strings.Contains(r.err, "telemetry.yaml is locked by another process that has not written to it for 1s") || !strings.HasSuffix(r.err, "; try again\n") || r.stdout != "" {
			t.Fatalf("%v of a file held by a stuck run: %+v", args, r)
		}
	}
}

func TestShowFormats(t *testing.T) {
	s := newSandbox(t)
	if r := s.pace("telemetry", "show", "-o", "json"); r.code != 0 || strings.TrimSpace(r.stdout) != `{"metric_points": {}}` {
		t.Fatalf("show -o json with nothing kept: %+v", r)
	}
	s.pace("version")
	s.pace("bogus")
	s.pace("bogus")
	file, _ := os.ReadFile(filepath.Join(s.dir, telemetry.FileName))
	if r := s.pace("telemetry", "show", "-o", "yaml"); r.stdout != string(file) {
		t.Fatalf("show -o yaml is not the file:\n%s", r.stdout)
	}
	var fromFile, fromJSON map[string]any
	yaml.Unmarshal(file, &fromFile)
	r := s.pace("telemetry", "show", "-o", "json")
	if err := json.Unmarshal([]byte(r.stdout), &fromJSON); err != nil {
		t.Fatalf("show -o json: %v\n%s", err, r.stdout)
	}
	points := fromJSON["metric_points"].(map[string]any)
	if points["pace"].(map[string]any)["2"].(map[string]any)["cumulative_count"] != 2.0 ||
		points["pace version"].(map[string]any)["0"].(map[string]any)["cumulative_count"] != 1.0 ||
		fromJSON["id"] != fromFile["id"] {
		t.Fatalf("show -o json %v differs from the file %v", fromJSON, fromFile)
	}
}

// Every bad input gets plain words that say what to do: no library text.
func TestErrorsInPlainWords(t *testing.T) {
	s := newSandbox(t)
	s.env["PACE_TELEMETRY_NOTICE"] = "off"
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"delete", "data-policy"}, "pace delete data-policy needs the id of a data policy; see 'pace list data-policies'"},
		{[]string{"apply", "data-policy", "a", "b"}, "takes one argument, the id of a data policy; got 2"},
		{[]string{"upsert", "data-policy"}, "needs the file of a data policy (YAML or JSON)"},
		{[]string{"get", "data-policy", "a", "b"}, "takes at most one argument"},
		{[]string{"evaluate", "data-policy", "x"}, "pace evaluate data-policy needs --as (the role to see the data as)"},
		{[]string{"evaluate", "data-policy", "x", "--as", "r", "--limit", "abc"}, `--limit "abc" is not a whole number; for example --limit 10`},
		{[]string{"evaluate", "data-policy", "x", "--as"}, "--as needs a value"},
		{[]string{"telemetry", "status", "-o", "xml"}, `-o "xml" is not a format: use yaml or json`},
		{[]string{"telemetry", "show", "--payload=maybe"}, `--payload "maybe" is not true or false`},
	}
	for _, c := range cases {
		r := s.pace(c.args...)
		if r.code != ExitUsage || !strings.Contains(r.err, c.want) || !strings.Contains(r.err, "--help' for usage") {
			t.Errorf("%v: code %d, stderr %q; want %q", c.args, r.code, r.err, c.want)
		}
		for _, bad := range []string{"arg(s)", "strconv", "invalid syntax", "required flag(s)"} {
			if strings.Contains(r.err, bad) {
				t.Errorf("%v: library text %q in %q", c.args, bad, r.err)
			}
		}
	}
	ev, _, _ := Command().Find([]string{"evaluate", "data-policy"})
	if _, marked := ev.Flag("as").Annotations["cobra_annotation_bash_completion_one_required_flag"]; !marked {
		t.Error("--as is not marked required")
	}
}

func TestHelpHasExamples(t *testing.T) {
	var walk func(c *cobra.Command)
	var missing []string
	walk = func(c *cobra.Command) {
		if c.Runnable() && !c.Hidden && !strings.HasPrefix(c.CommandPath(), "pace completion") && c.Name() != "help" && c.Example == "" {
			missing = append(missing, c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(Command())
	// Group commands print their help; the leaves are what people run.
	missing = slices.DeleteFunc(missing, func(p string) bool {
		return slices.Contains([]string{"pace list", "pace get", "pace upsert", "pace delete", "pace transpile", "pace apply", "pace evaluate"}, p)
	})
	if len(missing) > 0 {
		t.Fatalf("no examples in the help of %v", missing)
	}
}

func TestCompletionOffersValuesNotFiles(t *testing.T) {
	s := newSandbox(t)
	os.MkdirAll(s.dir, 0o700)
	os.WriteFile(filepath.Join(s.dir, "config.yaml"), []byte("processing_platforms:\n  - id: pg\n    type: postgres\n    dsn: postgres://127.0.0.1:1/x\n  - id: warehouse\n    type: postgres\n    dsn: postgres://127.0.0.1:1/y\n"), 0o600)
	if r := s.pace("upsert", "data-policy", "../../internal/policy/testdata/demo-policy.yaml"); r.code != 0 {
		t.Fatalf("upsert: %+v", r)
	}
	complete := func(args ...string) (values []string, directive string) {
		r := s.pace(append([]string{"__complete"}, args...)...)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		for _, l := range lines[:len(lines)-1] {
			v, _, _ := strings.Cut(l, "\t")
			values = append(values, v)
		}
		return values, lines[len(lines)-1]
	}
	const noFile = ":4" // cobra.ShellCompDirectiveNoFileComp
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"telemetry", "status", "-o", ""}, []string{"json", "yaml"}},
		{[]string{"list", "tables", "--processing-platform", ""}, []string{"pg", "warehouse"}},
		{[]string{"get", "data-policy", ""}, []string{"public-demo"}},
		{[]string{"apply", "data-policy", ""}, []string{"public-demo"}},
		{[]string{"apply", "data-policy", "public-demo", ""}, nil},
		// The platform cannot be reached: nothing, rather than file names.
		{[]string{"get", "data-policy", "-p", "pg", "--bare", ""}, nil},
	} {
		got, directive := complete(c.args...)
		if !slices.Equal(got, c.want) || directive != noFile {
			t.Errorf("complete %v: %v %s, want %v %s", c.args, got, directive, c.want, noFile)
		}
	}
	if _, directive := complete("upsert", "data-policy", ""); directive != ":8" { // FilterFileExt
		t.Errorf("upsert completes files by extension: %s", directive)
	}
}

func TestCompletionOfSchemasAndTables(t *testing.T) {
	s, _ := pgSandbox(t)
	r := s.pace("__complete", "get", "data-policy", "-p", "pg", "--bare", "pub")
	if !strings.Contains(r.stdout, "public.demo\n") {
		t.Fatalf("tables: %q", r.stdout)
	}
	if r := s.pace("__complete", "list", "tables", "-p", "pg", "--schema", ""); !strings.Contains(r.stdout, "public\n") {
		t.Fatalf("schemas: %q", r.stdout)
	}
}

func TestClean(t *testing.T) {
	s := newSandbox(t)
	s.pace("telemetry", "local")
	s.pace("version")
	if err := (upload.State{LastSuccess: time.Now()}).Save(s.dir); err != nil {
		t.Fatal(err)
	}
	kept := []string{"config.yaml", "telemetry.yaml.lock", "notes.txt", "data-policies/a.yaml"}
	gone := []string{"telemetry.yaml", "telemetry-upload.json", "telemetry-sent.log", "telemetry.yaml.corrupt-20261125T044417Z"}
	for _, f := range append(slices.Clone(kept[2:]), gone[2:]...) {
		os.MkdirAll(filepath.Dir(filepath.Join(s.dir, f)), 0o700)
		os.WriteFile(filepath.Join(s.dir, f), []byte("x"), 0o600)
	}
	r := s.pace("telemetry", "clean")
	if r.code != 0 || !strings.Contains(r.stdout, "The telemetry setting is unchanged") {
		t.Fatalf("clean: %+v", r)
	}
	for _, f := range gone {
		if _, err := os.Stat(filepath.Join(s.dir, f)); !os.IsNotExist(err) {
			t.Errorf("clean left %s", f)
		}
	}
	for _, f := range kept {
		if _, err := os.Stat(filepath.Join(s.dir, f)); err != nil {
			t.Errorf("clean removed %s", f)
		}
	}
	if r := s.pace("telemetry", "clean"); !strings.Contains(r.stdout, "Nothing to clean") {
		t.Fatalf("second clean (the first is not counted): %+v", r)
	}
	if r := s.pace("telemetry", "status"); !regexp.MustCompile(`mode:\s+local\n`).MatchString(r.stdout) || !strings.Contains(r.stdout, "none recorded yet") {
		t.Fatalf("after clean (mode kept): %q", r.stdout)
	}
}

func TestFirstRunMessagesAreTrue(t *testing.T) {
	s := newSandbox(t)
	r := s.pace("telemetry", "disable")
	if !strings.Contains(r.stdout, "no counts are kept") || strings.Contains(r.stdout, "stay in") || r.err != "" {
		t.Fatalf("disable as the first command: %+v", r)
	}
	s2 := newSandbox(t)
	s2.pace("version")
	if r := s2.pace("telemetry", "disable"); !strings.Contains(r.stdout, "Counts already kept stay in "+filepath.Join(s2.dir, "telemetry.yaml")) {
		t.Fatalf("disable with counts kept: %+v", r)
	}
}

func TestNoticeVariableAndWidth(t *testing.T) {
	s := newSandbox(t)
	s.env["PACE_TELEMETRY_NOTICE"] = "off"
	if r := s.pace("version"); r.err != "" {
		t.Fatalf("notice shown with PACE_TELEMETRY_NOTICE=off: %q", r.err)
	}
	if s.counts()["pace version"][0].CumulativeCount != 1 {
		t.Fatal("PACE_TELEMETRY_NOTICE=off stopped counting")
	}
	// Not a terminal: paragraphs are not hard-wrapped.
	s2 := newSandbox(t)
	r := s2.pace("version")
	if !strings.Contains(r.err, "never arguments, flag values, paths or names) in "+filepath.Join(s2.dir, "telemetry.yaml")+". The daemon") {
		t.Fatalf("notice is hard-wrapped outside a terminal: %q", r.err)
	}
	long := "pace counts the commands you run in /home/someone/a/very/long/path/that/is/longer/than/the/terminal/telemetry.yaml. See them."
	for _, width := range []int{10, 20, 40, 80, 200} {
		out := wrap(long, width)
		for _, line := range strings.Split(out, "\n") {
			if len(line) > width-1 && strings.Contains(line, " ") {
				t.Errorf("width %d: line %q is too long", width, line)
			}
		}
		if strings.Join(strings.Fields(out), " ") != long {
			t.Errorf("width %d: words changed: %q", width, out)
		}
	}
	if wrap(long, 0) != long {
		t.Error("width 0 wrapped")
	}
}
