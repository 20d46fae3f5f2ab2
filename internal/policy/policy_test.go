package policy

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden SQL files")

func demo(t *testing.T) *DataPolicy {
	t.Helper()
	data, err := os.ReadFile("testdata/demo-policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(data, "testdata/demo-policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTranspileGolden(t *testing.T) {
	got := Transpile(demo(t))
	const golden = "testdata/demo-policy.sql"
	if *update {
		os.WriteFile(golden, []byte(got), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("transpiled SQL differs from %s (go test ./internal/policy -update to accept):\n%s", golden, got)
	}
}

func TestJSONIsAcceptedToo(t *testing.T) {
	p, err := Parse([]byte(`{"id": "j", "metadata": {"title": "t"}, "platform": {"id": "pg", "platform_type": "POSTGRES"},
		"source": {"ref": "s.t", "fields": [{"name_parts": ["a"], "type": "text"}]},
		"rule_sets": [{"target": {"type": "SQL_VIEW", "ref": {"integration_fqn": "s.v"}},
		  "field_transforms": [{"field": {"name_parts": ["a"]}, "transforms": [{"nullify": {}}]}]}]}`), "j.json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(Transpile(p), `null as "a"`) {
		t.Fatalf("SQL: %s", Transpile(p))
	}
}

// Every kind of mistake is found, and named by where it is.
func TestValidationNamesEachProblem(t *testing.T) {
	cases := map[string]struct {
		edit func(p *DataPolicy)
		want string
	}{
		"bad id":             {func(p *DataPolicy) { p.ID = "../etc/passwd" }, "id: "},
		"no title":           {func(p *DataPolicy) { p.Metadata.Title = "" }, "metadata.title: is missing"},
		"other platform":     {func(p *DataPolicy) { p.Platform.PlatformType = "SNOWFLAKE" }, "platform.platform_type"},
		"bad source ref":     {func(p *DataPolicy) { p.Source.Ref = "demo" }, "source.ref"},
		"unknown type":       {func(p *DataPolicy) { p.Source.Fields[0].Type = "blob" }, "source.fields[0].type"},
		"two name parts":     {func(p *DataPolicy) { p.Source.Fields[0].NameParts = []string{"a", "b"} }, "source.fields[0].name_parts"},
		"long name":          {func(p *DataPolicy) { p.Source.Fields[0].NameParts = []string{strings.Repeat("x", 64)} }, "63 bytes"},
		"duplicate field":    {func(p *DataPolicy) { p.Source.Fields[1].NameParts = []string{"transactionid"} }, "listed twice"},
		"no rule sets":       {func(p *DataPolicy) { p.RuleSets = nil }, "rule_sets: is empty"},
		"target not a view":  {func(p *DataPolicy) { p.RuleSets[0].Target.Type = "TABLE" }, "rule_sets[0].target.type"},
		"view is the source": {func(p *DataPolicy) { p.RuleSets[0].Target.Ref.IntegrationFQN = "public.demo" }, "source table itself"},
		"unknown field": {func(p *DataPolicy) { p.RuleSets[0].FieldTransforms[0].Field.NameParts = []string{"nope"} },
			`rule_sets[0].field_transforms[0].field: "nope" is not a field`},
		"no default": {func(p *DataPolicy) {
			ts := p.RuleSets[0].FieldTransforms[0].Transforms
			p.RuleSets[0].FieldTransforms[0].Transforms = ts[:2]
		}, "rule_sets[0].field_transforms[0].transforms[1].principals: the last entry is the default"},
		"principals missing": {func(p *DataPolicy) { p.RuleSets[0].FieldTransforms[0].Transforms[0].Principals = nil }, "only the last entry may be without principals"},
		"two kinds": {func(p *DataPolicy) { p.RuleSets[0].FieldTransforms[0].Transforms[2].Nullify = &struct{}{} },
			"transforms[2]: must have exactly one of regexp, identity, fixed, hash, sql_statement, nullify; has 2"},
		"no kind": {func(p *DataPolicy) { p.RuleSets[0].FieldTransforms[1].Transforms[1] = Transform{} }, "has 0"},
		"regexp on integer": {func(p *DataPolicy) {
			p.RuleSets[0].FieldTransforms[1].Transforms[1] = Transform{Regexp: &Regexp{"1", "2"}}
		}, "works on text fields only"},
		"fixed misfit":      {func(p *DataPolicy) { p.RuleSets[0].FieldTransforms[1].Transforms[1] = Transform{Fixed: &Fixed{"abc"}} }, `"abc" does not fit a field of type integer`},
		"hash on integer":   {func(p *DataPolicy) { p.RuleSets[0].FieldTransforms[1].Transforms[1] = Transform{Hash: &Hash{"s"}} }, "works on text fields only"},
		"empty group":       {func(p *DataPolicy) { p.RuleSets[0].FieldTransforms[0].Transforms[0].Principals[0].Group = "" }, "group: is empty"},
		"NUL in value":      {func(p *DataPolicy) { p.RuleSets[0].FieldTransforms[0].Transforms[2].Fixed.Value = "a\x00b" }, "NUL"},
		"empty condition":   {func(p *DataPolicy) { p.RuleSets[0].Filters[0].GenericFilter.Conditions[1].Condition = " " }, "condition: is empty"},
		"retention on text": {func(p *DataPolicy) { p.RuleSets[0].Filters[1].RetentionFilter.Field.NameParts = []string{"email"} }, "is not a date or timestamp"},
		"negative days":     {func(p *DataPolicy) { p.RuleSets[0].Filters[1].RetentionFilter.Conditions[0].Period.Days = -1 }, "period.days: -1"},
		"two filter kinds":  {func(p *DataPolicy) { p.RuleSets[0].Filters[0].RetentionFilter = &RetentionFilter{} }, "exactly one of generic_filter and retention_filter"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p := demo(t)
			c.edit(p)
			err := p.Validate("policy.yaml")
			if err == nil || !strings.Contains(err.Error(), c.want) || !IsInvalid(err) || !strings.Contains(err.Error(), "policy.yaml") {
				t.Fatalf("Validate = %v, want an error naming the file and containing %q", err, c.want)
			}
		})
	}
}

func TestParseRefusesUnknownFieldsAndBadSyntax(t *testing.T) {
	data, _ := os.ReadFile("testdata/demo-policy.yaml")
	typo := strings.Replace(string(data), "field_transforms:", "field_transfroms:", 1)
	if _, err := Parse([]byte(typo), "typo.yaml"); err == nil || !strings.Contains(err.Error(), "field_transfroms not found") || !strings.Contains(err.Error(), "typo.yaml") {
		t.Fatalf("typo: %v", err)
	}
	if _, err := Parse([]byte("id: [unclosed"), "bad.yaml"); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("bad syntax: %v", err)
	}
}

// Names and values cannot break out of their quotes; only conditions and
// SQL statements, the author's own SQL, are used as written.
func TestQuotingOfHostileNames(t *testing.T) {
	p := demo(t)
	p.Source.Ref = `public.we"ird; drop table x; --`
	p.Source.Fields[2].NameParts = []string{`e"mail`}
	p.RuleSets[0].FieldTransforms[0].Field.NameParts = []string{`e"mail`}
	p.RuleSets[0].FieldTransforms[0].Transforms[0].Principals[0].Group = `x'); drop table demo; --`
	p.RuleSets[0].FieldTransforms[0].Transforms[2].Fixed.Value = `'; drop table public.demo; --\`
	if err := p.Validate("hostile"); err != nil {
		t.Fatal(err)
	}
	sql := Transpile(p)
	for _, want := range []string{
		`from "public"."we""ird; drop table x; --"`,
		`pg_has_role(current_user, 'x''); drop table demo; --', 'member')`,
		`else E'''; drop table public.demo; --\\' end as "e""mail"`,
		`grant select on "public"."demo_view" to "administrator", "fraud_and_risk", "marketing", "x'); drop table demo; --"`,
	} {
		if !strings.Contains(strings.Join(strings.Fields(sql), " "), want) {
			t.Errorf("SQL lacks %s:\n%s", want, sql)
		}
	}
}

// The worked example in docs/ is this package's test policy and SQL,
// verbatim, so the page cannot drift from what pace does.
func TestDocsShowTheTestedExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/data-policies.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"testdata/demo-policy.yaml", "testdata/demo-policy.sql"} {
		want, _ := os.ReadFile(f)
		if !strings.Contains(string(doc), string(want)) {
			t.Errorf("docs/data-policies.md does not show %s as it is", f)
		}
	}
}

func TestQuoteLiteral(t *testing.T) {
	for in, want := range map[string]string{
		`plain`:     `'plain'`,
		`it's`:      `'it''s'`,
		`a\b`:       `E'a\\b'`,
		`\'; drop`:  `E'\\''; drop'`,
		"line\nnew": "'line\nnew'",
	} {
		if got := QuoteLiteral(in); got != want {
			t.Errorf("QuoteLiteral(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestAuthorsCommentCannotEatTheParenthesis(t *testing.T) {
	p := demo(t)
	p.RuleSets[0].Filters[0].GenericFilter.Conditions[1].Condition = "age > 18 -- adults only"
	if sql := Transpile(p); !strings.Contains(sql, "(age > 18 -- adults only\n)") {
		t.Fatalf("SQL:\n%s", sql)
	}
}

// Apply sends each statement on its own: none holds a ';' of pace's, and
// the printed script is those statements, in order.
func TestStatementsAreTheScript(t *testing.T) {
	p := demo(t)
	stmts := Statements(p)
	if len(stmts) != 1 || len(stmts[0]) != 3 || !strings.HasPrefix(stmts[0][0], "drop view") ||
		!strings.HasPrefix(stmts[0][1], "create view") || !strings.HasPrefix(stmts[0][2], "grant select") {
		t.Fatalf("statements: %q", stmts)
	}
	script := Transpile(p)
	for _, s := range stmts[0] {
		if strings.Contains(s, ";") {
			t.Errorf("statement holds a ';': %s", s)
		}
		if !strings.Contains(script, s+";\n") {
			t.Errorf("the script lacks %s", s)
		}
	}
}

func TestExpressionsNameTheirFields(t *testing.T) {
	got := demo(t).Expressions()
	want := []Expression{
		{"rule_sets[0].field_transforms[2].transforms[0].sql_statement.statement", "CASE WHEN brand = 'MC' THEN 'MasterCard' ELSE brand END", false},
		{"rule_sets[0].filters[0].generic_filter.conditions[0].condition", "true", true},
		{"rule_sets[0].filters[0].generic_filter.conditions[1].condition", "age > 18", true},
	}
	if len(got) != len(want) {
		t.Fatalf("expressions: %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("expression %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// The check wraps the expression as the view does, a -- comment included.
func TestCheckExpression(t *testing.T) {
	for sql, want := range map[string]string{
		"age > 18":          `select (age > 18) as "pace_x" from "public"."demo" limit 0`,
		"age > 18 -- adult": "select (age > 18 -- adult\n) as \"pace_x\" from \"public\".\"demo\" limit 0",
	} {
		if got := CheckExpression("public.demo", sql, "pace_x"); got != want {
			t.Errorf("CheckExpression(%q) = %q, want %q", sql, got, want)
		}
	}
}
