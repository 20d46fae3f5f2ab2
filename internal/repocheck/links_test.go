package repocheck

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// markdownFiles lists the tracked Markdown files, relative to root; without
// git, README.md and docs/*.md.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	if _, err := exec.LookPath("git"); err == nil {
		for _, f := range trackedFiles(t) {
			if strings.HasSuffix(f, ".md") {
				files = append(files, filepath.ToSlash(f))
			}
		}
		return files
	}
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	files = append(files, "README.md")
	for _, d := range docs {
		files = append(files, "docs/"+filepath.Base(d))
	}
	return files
}

// A link found in a Markdown file: its target as written and its line.
type link struct {
	target string
	line   int
}

var (
	fence      = regexp.MustCompile("^ {0,3}(```|~~~)")
	codeSpan   = regexp.MustCompile("`[^`]*`")
	inlineLink = regexp.MustCompile(`\]\(\s*<?([^()\s<>]+)>?(?:\s+"[^"]*")?\s*\)`)
	refDef     = regexp.MustCompile(`(?m)^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)`)
	href       = regexp.MustCompile(`(?i)<a\s[^>]*href\s*=\s*["']([^"']+)["']`)
	heading    = regexp.MustCompile(`^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$`)
	htmlAnchor = regexp.MustCompile(`(?i)<a\s[^>]*(?:id|name)\s*=\s*["']([^"']+)["']`)
	mdLinkText = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	htmlTag    = regexp.MustCompile(`<[^>]+>`)
)

// prose returns the lines of a Markdown file outside fenced code blocks,
// with fenced lines blanked so that line numbers stay.
func prose(text string) []string {
	lines := strings.Split(text, "\n")
	in := ""
	for i, l := range lines {
		if m := fence.FindStringSubmatch(l); m != nil {
			switch {
			case in == "":
				in = m[1]
			case in == m[1]:
				in = ""
			}
			lines[i] = ""
			continue
		}
		if in != "" {
			lines[i] = ""
		}
	}
	return lines
}

// links returns the links of a Markdown file: inline links and images,
// reference definitions and <a href>, outside code.
func links(text string) []link {
	body := strings.Join(prose(text), "\n")
	// Blank code spans (they may span lines), keeping offsets and newlines.
	body = codeSpan.ReplaceAllStringFunc(body, func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == '\n' {
				return r
			}
			return ' '
		}, s)
	})
	var out []link
	for _, re := range []*regexp.Regexp{inlineLink, refDef, href} {
		for _, m := range re.FindAllStringSubmatchIndex(body, -1) {
			out = append(out, link{
				target: body[m[2]:m[3]],
				line:   strings.Count(body[:m[0]], "\n") + 1,
			})
		}
	}
	return out
}

// slug is GitHub's anchor of a heading's text: lowercased, every character
// but letters, marks, numbers, '_', '-' and spaces dropped, spaces turned
// into '-'.
func slug(text string) string {
	text = mdLinkText.ReplaceAllString(text, "$1")
	text = htmlTag.ReplaceAllString(text, "")
	text = strings.ReplaceAll(text, "`", "")
	text = strings.ReplaceAll(text, "*", "")
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(text)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// anchors returns the anchors of a Markdown file: each heading's slug, a
// repeated one with -1, -2, … as GitHub numbers them, and every
// <a id=…> or <a name=…>.
func anchors(text string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	for _, l := range prose(text) {
		if m := heading.FindStringSubmatch(l); m != nil {
			s := slug(m[2])
			a := s
			for n := seen[s]; ; n++ {
				if n > 0 {
					a = fmt.Sprintf("%s-%d", s, n)
				}
				if !out[a] {
					break
				}
			}
			seen[s]++
			out[a] = true
		}
		for _, m := range htmlAnchor.FindAllStringSubmatch(l, -1) {
			out[m[1]] = true
		}
	}
	return out
}

// TestRelativeLinksResolve: every relative link in the tracked Markdown
// files names a file or folder that exists and, for #anchor in a Markdown
// file, an anchor that file has.
func TestRelativeLinksResolve(t *testing.T) {
	cache := map[string]map[string]bool{}
	anchorsOf := func(file string) (map[string]bool, error) {
		if a, ok := cache[file]; ok {
			return a, nil
		}
		b, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			return nil, err
		}
		cache[file] = anchors(string(b))
		return cache[file], nil
	}
	files := markdownFiles(t)
	checked := 0
	for _, file := range files {
		b, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			t.Error(err)
			continue
		}
		for _, l := range links(string(b)) {
			u, err := url.Parse(l.target)
			if err != nil {
				t.Errorf("%s:%d: link %q: %v", file, l.line, l.target, err)
				continue
			}
			if u.Scheme != "" || u.Host != "" {
				continue // not relative
			}
			target := file
			if u.Path != "" {
				target = path.Clean(path.Join(path.Dir(file), u.Path))
				if strings.HasPrefix(target, "../") || !exists(target) {
					t.Errorf("%s:%d: link %q: no file %s", file, l.line, l.target, target)
					continue
				}
			}
			checked++
			if u.Fragment == "" || !strings.HasSuffix(target, ".md") {
				continue
			}
			a, err := anchorsOf(target)
			if err != nil {
				t.Errorf("%s:%d: link %q: %v", file, l.line, l.target, err)
				continue
			}
			if !a[u.Fragment] {
				t.Errorf("%s:%d: link %q: %s has no heading or <a id> with the anchor #%s", file, l.line, l.target, target, u.Fragment)
			}
		}
	}
	if checked == 0 {
		t.Fatalf("no relative link found in %v: is the parser broken?", files)
	}
}

func TestSlugIsGitHubs(t *testing.T) {
	for text, want := range map[string]string{
		"What to put in front: Cloud Armor":              "what-to-put-in-front-cloud-armor",
		"The dashboard's role":                           "the-dashboards-role",
		"Prometheus, Mimir and Grafana Cloud Metrics":    "prometheus-mimir-and-grafana-cloud-metrics",
		"PostgreSQL: exact increments, no ids":           "postgresql-exact-increments-no-ids",
		"carbon (graphite-carbon) and graphite-web":      "carbon-graphite-carbon-and-graphite-web",
		"`pace telemetry status` and `install_state`":    "pace-telemetry-status-and-install_state",
		"Where it lives (see [telemetry](telemetry.md))": "where-it-lives-see-telemetry",
		"Über café 1.2":                                  "über-café-12",
		"A  B":                                           "a--b",
	} {
		if got := slug(text); got != want {
			t.Errorf("slug(%q) = %q, want %q", text, got, want)
		}
	}
	a := anchors("# Checks\n\n```sh\n# Not a heading\n```\n## Checks\n### Checks\n<a id=\"old-name\"></a>\n")
	for _, want := range []string{"checks", "checks-1", "checks-2", "old-name"} {
		if !a[want] {
			t.Errorf("anchors: no %q in %v", want, a)
		}
	}
	if a["not-a-heading"] {
		t.Error("a line in a code block was taken for a heading")
	}
}

func TestLinksFindsEveryKind(t *testing.T) {
	text := "See [a](a.md#x) and [multi\nline](b.md), ![img](c.png \"title\"),\n" +
		"`[not](code.md)` and\n```\n[not](fenced.md)\n```\n[ref]: d.md\n<a href=\"e.md\">e</a> [abs](https://example.com/)\n"
	var got []string
	for _, l := range links(text) {
		got = append(got, fmt.Sprintf("%s@%d", l.target, l.line))
	}
	want := "a.md#x@1 b.md@2 c.png@2 https://example.com/@8 d.md@7 e.md@8"
	if strings.Join(got, " ") != want {
		t.Errorf("links = %v, want %s", got, want)
	}
}
