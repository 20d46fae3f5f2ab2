package machinepolicy

import (
	"encoding/xml"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// node is any XML element, kept whole so that the test can walk it.
type node struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Children []node     `xml:",any"`
	Text     string     `xml:",chardata"`
}

func (n node) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}

// all returns the elements named name anywhere under n.
func (n node) all(name string) []node {
	var out []node
	for _, c := range n.Children {
		if c.XMLName.Local == name {
			out = append(out, c)
		}
		out = append(out, c.all(name)...)
	}
	return out
}

func (n node) child(t *testing.T, name string) node {
	t.Helper()
	for _, c := range n.Children {
		if c.XMLName.Local == name {
			return c
		}
	}
	t.Fatalf("<%s> has no <%s>", n.XMLName.Local, name)
	return node{}
}

func parseXML(t *testing.T, path string) (node, string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var n node
	if err := xml.Unmarshal(data, &n); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return n, string(data)
}

const gpNamespace = "http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions"

// The Group Policy template shipped with the Windows release has what
// Group Policy requires of an ADMX and its ADML, and writes the key and
// values this package reads.
func TestADMX(t *testing.T) {
	admx, admxText := parseXML(t, "../../packaging/windows/pace.admx")
	adml, admlText := parseXML(t, "../../packaging/windows/en-US/pace.adml")

	for _, c := range []struct {
		n    node
		root string
	}{{admx, "policyDefinitions"}, {adml, "policyDefinitionResources"}} {
		if c.n.XMLName.Local != c.root || c.n.XMLName.Space != gpNamespace {
			t.Fatalf("root <%s> in %q, want <%s> in %s", c.n.XMLName.Local, c.n.XMLName.Space, c.root, gpNamespace)
		}
		if c.n.attr("revision") == "" || c.n.attr("schemaVersion") == "" {
			t.Errorf("<%s> lacks revision or schemaVersion", c.root)
		}
	}

	ns := admx.child(t, "policyNamespaces")
	target := ns.child(t, "target")
	if target.attr("prefix") == "" || target.attr("namespace") == "" {
		t.Errorf("policyNamespaces/target needs prefix and namespace: %+v", target.Attrs)
	}
	for _, u := range ns.all("using") {
		if u.attr("prefix") == "" || u.attr("namespace") == "" {
			t.Errorf("policyNamespaces/using needs prefix and namespace: %+v", u.Attrs)
		}
	}
	if r := admx.child(t, "resources").attr("minRequiredRevision"); r == "" || r > adml.attr("revision") {
		t.Errorf("resources minRequiredRevision %q, ADML revision %q", r, adml.attr("revision"))
	}

	categories := map[string]bool{}
	for _, c := range admx.child(t, "categories").all("category") {
		categories[c.attr("name")] = true
	}
	supported := map[string]bool{}
	for _, d := range admx.all("definition") {
		supported[d.attr("name")] = true
	}
	policies := admx.child(t, "policies").all("policy")
	if len(policies) == 0 {
		t.Fatal("no policies")
	}
	valueNames := map[string]bool{}
	elementIDs := map[string]string{} // element id -> its kind
	for _, p := range policies {
		name := p.attr("name")
		if p.attr("class") != "Machine" {
			t.Errorf("policy %s: class %q, want Machine (the policy is machine-wide)", name, p.attr("class"))
		}
		if p.attr("key") != RegistryKey {
			t.Errorf("policy %s: key %q, want %q (what pace reads)", name, p.attr("key"), RegistryKey)
		}
		for _, a := range []string{"displayName", "explainText", "presentation"} {
			if p.attr(a) == "" {
				t.Errorf("policy %s lacks %s", name, a)
			}
		}
		if ref := p.child(t, "parentCategory").attr("ref"); !categories[ref] {
			t.Errorf("policy %s: parentCategory %q is not a category", name, ref)
		}
		if ref := p.child(t, "supportedOn").attr("ref"); !supported[ref] {
			t.Errorf("policy %s: supportedOn %q is not defined", name, ref)
		}
		for _, e := range p.child(t, "elements").Children {
			if e.attr("valueName") == "" || e.attr("id") == "" {
				t.Errorf("policy %s: <%s> needs id and valueName", name, e.XMLName.Local)
			}
			valueNames[e.attr("valueName")] = true
			elementIDs[e.attr("id")] = e.XMLName.Local
			if e.XMLName.Local == "enum" {
				var values []string
				for _, s := range e.all("string") {
					values = append(values, s.Text)
				}
				if !slices.Equal(values, []string{Off, Local}) {
					t.Errorf("policy %s: enum values %q, want exactly off and local (a policy never turns telemetry on)", name, values)
				}
			}
		}
	}
	for _, v := range []string{ValueTelemetry, ValueTelemetryEndpoint} {
		if !valueNames[v] {
			t.Errorf("no policy writes the value %s, which pace reads", v)
		}
		delete(valueNames, v)
	}
	if len(valueNames) > 0 {
		t.Errorf("policies write values pace does not read (a policy with them counts as off): %v", valueNames)
	}
	for _, c := range admx.child(t, "categories").all("parentCategory") {
		if !categories[c.attr("ref")] {
			t.Errorf("category parent %q is not a category", c.attr("ref"))
		}
	}

	// Every $(string.X) and $(presentation.X) in the ADMX is in the ADML.
	strs, presentations := map[string]bool{}, map[string]node{}
	res := adml.child(t, "resources")
	for _, s := range res.child(t, "stringTable").all("string") {
		strs[s.attr("id")] = true
	}
	for _, p := range res.child(t, "presentationTable").all("presentation") {
		presentations[p.attr("id")] = p
	}
	refs := regexp.MustCompile(`\$\((string|presentation)\.([^)]*)\)`).FindAllStringSubmatch(admxText, -1)
	if len(refs) < 5 {
		t.Fatalf("only %d references found in the ADMX", len(refs))
	}
	for _, m := range refs {
		if m[1] == "string" && !strs[m[2]] || m[1] == "presentation" && presentations[m[2]].XMLName.Local == "" {
			t.Errorf("%s is not defined in the ADML", m[0])
		}
	}
	// Each presentation's controls refer to elements of the ADMX, of a
	// kind that can show them.
	show := map[string]string{"dropdownList": "enum", "textBox": "text", "decimalTextBox": "decimal", "checkBox": "boolean", "listBox": "list", "multiTextBox": "multiText", "comboBox": "text"}
	for id, p := range presentations {
		for _, c := range p.Children {
			kind, ok := show[c.XMLName.Local]
			if !ok {
				continue
			}
			if elementIDs[c.attr("refId")] != kind {
				t.Errorf("presentation %s: <%s refId=%q> shows no <%s> of the ADMX", id, c.XMLName.Local, c.attr("refId"), kind)
			}
		}
	}
	if strings.Contains(admlText, "$(") {
		t.Error("the ADML refers to strings itself; only the ADMX does")
	}
}
