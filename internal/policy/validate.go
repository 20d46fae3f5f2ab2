package policy

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Invalid lists everything wrong with a policy, each with where it is.
type Invalid struct {
	Source   string // file name or policy id
	Problems []string
}

func (e *Invalid) Error() string {
	return fmt.Sprintf("invalid data policy %s:\n  %s", e.Source, strings.Join(e.Problems, "\n  "))
}

// IsInvalid tells whether err says a policy is invalid.
func IsInvalid(err error) bool {
	var inv *Invalid
	return errors.As(err, &inv)
}

// Parse reads a policy in YAML or JSON (JSON is YAML to the parser) and
// validates it. Unknown fields are errors: a typo must not silently drop
// a rule. source names the input in errors.
func Parse(data []byte, source string) (*DataPolicy, error) {
	var p DataPolicy
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return nil, &Invalid{Source: source, Problems: []string{strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if err := p.Validate(source); err != nil {
		return nil, err
	}
	return &p, nil
}

// validID: letters, digits, '_', '.' or '-', starting with a letter or
// digit, at most 128 bytes; it names a file. (Not a regexp: compiling one
// with a {0,127} repeat costs every pace run most of a millisecond.)
func validID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != '-') {
			return false
		}
	}
	return true
}

// Validate checks the policy on its own: every field and transform exists
// and fits its type, every list of principals ends in a default, and each
// transform has exactly one kind.
func (p *DataPolicy) Validate(source string) error {
	v := &validator{}
	if !validID(p.ID) {
		v.add("id", "%q must be letters, digits, '_', '.' or '-' (it names the stored file)", p.ID)
	}
	if p.Metadata.Title == "" {
		v.add("metadata.title", "is missing")
	}
	if p.Platform.ID == "" {
		v.add("platform.id", "is missing: name a processing platform of config.yaml")
	}
	if p.Platform.PlatformType != "POSTGRES" {
		v.add("platform.platform_type", "%q is not supported; only POSTGRES is", p.Platform.PlatformType)
	}
	if _, _, err := SplitRef(p.Source.Ref); err != nil {
		v.add("source.ref", "%v", err)
	}
	fields := map[string]string{}
	if len(p.Source.Fields) == 0 {
		v.add("source.fields", "is empty: list the table's fields")
	}
	for i, f := range p.Source.Fields {
		at := fmt.Sprintf("source.fields[%d]", i)
		if len(f.NameParts) != 1 {
			v.add(at+".name_parts", "must have exactly one part on PostgreSQL, has %d", len(f.NameParts))
			continue
		}
		name := f.NameParts[0]
		if err := checkIdent(name); err != nil {
			v.add(at+".name_parts", "%v", err)
		}
		if _, dup := fields[name]; dup {
			v.add(at, "field %q is listed twice", name)
		}
		if TypeClass(f.Type) == "" {
			v.add(at+".type", "%q is not a type we know (text, varchar, integer, bigint, numeric, boolean, date, timestamp, timestamptz, …)", f.Type)
		}
		fields[name] = TypeClass(f.Type)
	}
	if len(p.RuleSets) == 0 {
		v.add("rule_sets", "is empty: a policy needs at least one rule set")
	}
	views := map[string]bool{}
	for i, rs := range p.RuleSets {
		at := fmt.Sprintf("rule_sets[%d]", i)
		if rs.Target.Type != "SQL_VIEW" {
			v.add(at+".target.type", "%q is not supported; only SQL_VIEW is", rs.Target.Type)
		}
		if _, _, err := SplitRef(rs.Target.Ref.IntegrationFQN); err != nil {
			v.add(at+".target.ref.integration_fqn", "%v", err)
		} else if rs.Target.Ref.IntegrationFQN == p.Source.Ref {
			v.add(at+".target.ref.integration_fqn", "is the source table itself; a view needs a name of its own")
		} else if views[rs.Target.Ref.IntegrationFQN] {
			v.add(at+".target.ref.integration_fqn", "%q is the target of another rule set too", rs.Target.Ref.IntegrationFQN)
		}
		views[rs.Target.Ref.IntegrationFQN] = true
		seen := map[string]bool{}
		for j, ft := range rs.FieldTransforms {
			fat := fmt.Sprintf("%s.field_transforms[%d]", at, j)
			name := strings.Join(ft.Field.NameParts, ".")
			class, ok := fields[name]
			if !ok {
				v.add(fat+".field", "%q is not a field of the source", name)
			}
			if seen[name] {
				v.add(fat+".field", "%q has transforms twice in this rule set", name)
			}
			seen[name] = true
			if len(ft.Transforms) == 0 {
				v.add(fat+".transforms", "is empty")
			}
			for k, t := range ft.Transforms {
				tat := fmt.Sprintf("%s.transforms[%d]", fat, k)
				v.principals(tat, t.Principals, k, len(ft.Transforms))
				if ok {
					v.transform(tat, t, class)
				}
			}
		}
		for j, f := range rs.Filters {
			fat := fmt.Sprintf("%s.filters[%d]", at, j)
			switch {
			case (f.GenericFilter == nil) == (f.RetentionFilter == nil):
				v.add(fat, "must have exactly one of generic_filter and retention_filter")
			case f.GenericFilter != nil:
				cs := f.GenericFilter.Conditions
				if len(cs) == 0 {
					v.add(fat+".generic_filter.conditions", "is empty")
				}
				for k, c := range cs {
					cat := fmt.Sprintf("%s.generic_filter.conditions[%d]", fat, k)
					v.principals(cat, c.Principals, k, len(cs))
					if strings.TrimSpace(c.Condition) == "" {
						v.add(cat+".condition", "is empty: write an SQL condition, e.g. true")
					}
					v.noNUL(cat+".condition", c.Condition)
				}
			default:
				r := f.RetentionFilter
				name := strings.Join(r.Field.NameParts, ".")
				if class, ok := fields[name]; !ok {
					v.add(fat+".retention_filter.field", "%q is not a field of the source", name)
				} else if class != ClassTime {
					v.add(fat+".retention_filter.field", "%q is not a date or timestamp", name)
				}
				if len(r.Conditions) == 0 {
					v.add(fat+".retention_filter.conditions", "is empty")
				}
				for k, c := range r.Conditions {
					cat := fmt.Sprintf("%s.retention_filter.conditions[%d]", fat, k)
					v.principals(cat, c.Principals, k, len(r.Conditions))
					if c.Period != nil && (c.Period.Days < 0 || c.Period.Days > 1_000_000) {
						v.add(cat+".period.days", "%d must be between 0 and 1000000", c.Period.Days)
					}
				}
			}
		}
	}
	if len(v.problems) > 0 {
		return &Invalid{Source: source, Problems: v.problems}
	}
	return nil
}

type validator struct{ problems []string }

func (v *validator) add(at, format string, args ...any) {
	v.problems = append(v.problems, at+": "+fmt.Sprintf(format, args...))
}

func (v *validator) noNUL(at, s string) {
	if strings.ContainsRune(s, 0) {
		v.add(at, "contains a NUL character")
	}
}

// principals checks that entry k of n names principals, except the last,
// which is the default and names none.
func (v *validator) principals(at string, ps []Principal, k, n int) {
	last := k == n-1
	switch {
	case last && len(ps) > 0:
		v.add(at+".principals", "the last entry is the default for everyone else and must have no principals; add one without principals after it")
	case !last && len(ps) == 0:
		v.add(at+".principals", "only the last entry may be without principals (it is the default)")
	}
	for i, p := range ps {
		if err := checkIdent(p.Group); err != nil {
			v.add(fmt.Sprintf("%s.principals[%d].group", at, i), "%v", err)
		}
	}
}

func (v *validator) transform(at string, t Transform, class string) {
	kinds := 0
	for _, set := range []bool{t.Regexp != nil, t.Identity != nil, t.Fixed != nil, t.Hash != nil, t.SQLStatement != nil, t.Nullify != nil} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		v.add(at, "must have exactly one of regexp, identity, fixed, hash, sql_statement, nullify; has %d", kinds)
		return
	}
	switch {
	case t.Regexp != nil:
		if class != ClassText {
			v.add(at+".regexp", "works on text fields only")
		}
		v.noNUL(at+".regexp", t.Regexp.Regexp+t.Regexp.Replacement)
	case t.Hash != nil:
		if class != ClassText {
			v.add(at+".hash", "works on text fields only (the hash is text)")
		}
		v.noNUL(at+".hash.seed", t.Hash.Seed)
	case t.Fixed != nil:
		if err := fits(t.Fixed.Value, class); err != nil {
			v.add(at+".fixed.value", "%v", err)
		}
		v.noNUL(at+".fixed.value", t.Fixed.Value)
	case t.SQLStatement != nil:
		if strings.TrimSpace(t.SQLStatement.Statement) == "" {
			v.add(at+".sql_statement.statement", "is empty")
		}
		v.noNUL(at+".sql_statement.statement", t.SQLStatement.Statement)
	}
}

// Type classes decide which transforms a field takes.
const (
	ClassText    = "text"
	ClassInteger = "integer"
	ClassNumber  = "number"
	ClassBool    = "boolean"
	ClassTime    = "time"
)

// TypeClass maps a PostgreSQL type name to its class; "" if unknown.
func TypeClass(t string) string {
	t = strings.ToLower(strings.TrimSpace(t))
	if i := strings.IndexByte(t, '('); i >= 0 {
		t = strings.TrimSpace(t[:i])
	}
	switch t {
	case "text", "varchar", "character varying", "char", "character", "bpchar", "string", "citext", "uuid":
		return ClassText
	case "integer", "int", "int2", "int4", "int8", "smallint", "bigint":
		return ClassInteger
	case "numeric", "decimal", "real", "double precision", "float4", "float8", "float":
		return ClassNumber
	case "boolean", "bool":
		return ClassBool
	case "date", "timestamp", "timestamptz", "timestamp without time zone", "timestamp with time zone":
		return ClassTime
	}
	return ""
}

// fits tells whether a fixed value can stand in a field of class.
func fits(value, class string) error {
	var err error
	switch class {
	case ClassInteger:
		_, err = strconv.ParseInt(value, 10, 64)
	case ClassNumber:
		_, err = strconv.ParseFloat(value, 64)
	case ClassBool:
		_, err = strconv.ParseBool(value)
	case ClassTime:
		if _, err = time.Parse("2006-01-02", value); err != nil {
			_, err = time.Parse(time.RFC3339, value)
		}
	}
	if err != nil {
		return fmt.Errorf("%q does not fit a field of type %s", value, class)
	}
	return nil
}

// checkIdent refuses what PostgreSQL cannot name: empty names, NUL, and
// names over 63 bytes, which PostgreSQL would cut short (and so could make
// two names one). Anything else is allowed: identifiers are always quoted.
func checkIdent(s string) error {
	switch {
	case s == "":
		return errors.New("is empty")
	case strings.ContainsRune(s, 0):
		return fmt.Errorf("%q contains a NUL character", s)
	case len(s) > 63:
		return fmt.Errorf("%q is longer than PostgreSQL's 63 bytes", s)
	}
	return nil
}

// SplitRef splits "schema.table". Names containing dots are not supported.
func SplitRef(ref string) (schema, name string, err error) {
	schema, name, ok := strings.Cut(ref, ".")
	if !ok || strings.Contains(name, ".") {
		return "", "", fmt.Errorf("%q must be schema.name", ref)
	}
	if err := checkIdent(schema); err != nil {
		return "", "", fmt.Errorf("schema %v", err)
	}
	if err := checkIdent(name); err != nil {
		return "", "", fmt.Errorf("name %v", err)
	}
	return schema, name, nil
}
