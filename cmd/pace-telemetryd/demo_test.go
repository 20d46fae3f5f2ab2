package main

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// README.md's main command: the whole path CLI -> file -> daemon ->
// receiver -> Graphite lines, as a user runs it.
func TestDemoScript(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("scripts/demo.sh needs python3 (to pick a free port)")
	}
	out, err := exec.Command("bash", "../../scripts/demo.sh").CombinedOutput()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	text := string(out)
	for _, re := range []string{
		`(?m)^pace\.cli\.invocations;cmd1=version;command=version;exit_code=0;cli_version=[^;]+;operating_system=[a-z]+;id=[0-9a-f-]{36} 3 \d+$`,
		`(?m)^pace\.cli\.invocations;command=pace;exit_code=2;.* 1 \d+$`,
		`-> HTTP 200: delivered`,
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Fatalf("demo output lacks %s:\n%s", re, text)
		}
	}
	if strings.Contains(text, "lsit") && strings.Contains(text[strings.Index(text, "== Graphite"):], "lsit") {
		t.Fatal("the unknown word reached the series")
	}
}
