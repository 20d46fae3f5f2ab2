// Package policy holds PACE data policies (the subset of PACE's format this
// CLI supports), checks them, stores them in the config folder, and turns
// them into PostgreSQL views.
package policy

// DataPolicy is PACE's data policy: who sees what of one source table.
type DataPolicy struct {
	ID       string    `yaml:"id" json:"id"`
	Metadata Metadata  `yaml:"metadata" json:"metadata"`
	Platform Platform  `yaml:"platform" json:"platform"`
	Source   Source    `yaml:"source" json:"source"`
	RuleSets []RuleSet `yaml:"rule_sets" json:"rule_sets"`
}

type Metadata struct {
	Title       string `yaml:"title" json:"title"`
	Version     int    `yaml:"version,omitempty" json:"version,omitempty"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
}

type Platform struct {
	ID           string `yaml:"id" json:"id"`
	PlatformType string `yaml:"platform_type" json:"platform_type"`
}

type Source struct {
	Ref    string  `yaml:"ref" json:"ref"` // schema.table
	Fields []Field `yaml:"fields" json:"fields"`
}

type Field struct {
	NameParts []string `yaml:"name_parts" json:"name_parts"`
	Type      string   `yaml:"type" json:"type"`
	Required  bool     `yaml:"required" json:"required"`
}

type RuleSet struct {
	Target          Target           `yaml:"target" json:"target"`
	FieldTransforms []FieldTransform `yaml:"field_transforms,omitempty" json:"field_transforms,omitempty"`
	Filters         []Filter         `yaml:"filters,omitempty" json:"filters,omitempty"`
}

type Target struct {
	Type string    `yaml:"type" json:"type"` // SQL_VIEW
	Ref  TargetRef `yaml:"ref" json:"ref"`
}

type TargetRef struct {
	IntegrationFQN string `yaml:"integration_fqn" json:"integration_fqn"` // schema.view
}

type FieldTransform struct {
	Field      FieldRef    `yaml:"field" json:"field"`
	Transforms []Transform `yaml:"transforms" json:"transforms"`
}

type FieldRef struct {
	NameParts []string `yaml:"name_parts" json:"name_parts"`
}

// Transform is one way to show a field, for the principals it names; the
// last one, without principals, is for everyone else. Exactly one kind
// is set.
type Transform struct {
	Principals   []Principal   `yaml:"principals,omitempty" json:"principals,omitempty"`
	Regexp       *Regexp       `yaml:"regexp,omitempty" json:"regexp,omitempty"`
	Identity     *struct{}     `yaml:"identity,omitempty" json:"identity,omitempty"`
	Fixed        *Fixed        `yaml:"fixed,omitempty" json:"fixed,omitempty"`
	Hash         *Hash         `yaml:"hash,omitempty" json:"hash,omitempty"`
	SQLStatement *SQLStatement `yaml:"sql_statement,omitempty" json:"sql_statement,omitempty"`
	Nullify      *struct{}     `yaml:"nullify,omitempty" json:"nullify,omitempty"`
}

type Principal struct {
	Group string `yaml:"group" json:"group"`
}

type Regexp struct {
	Regexp      string `yaml:"regexp" json:"regexp"`
	Replacement string `yaml:"replacement" json:"replacement"`
}

type Fixed struct {
	Value string `yaml:"value" json:"value"`
}

type Hash struct {
	Seed string `yaml:"seed,omitempty" json:"seed,omitempty"`
}

// SQLStatement is an SQL expression written by the policy's author, used
// as it is: it is the author's own SQL, like a condition.
type SQLStatement struct {
	Statement string `yaml:"statement" json:"statement"`
}

// Filter keeps rows: a generic filter by conditions, or a retention filter
// by age.
type Filter struct {
	GenericFilter   *GenericFilter   `yaml:"generic_filter,omitempty" json:"generic_filter,omitempty"`
	RetentionFilter *RetentionFilter `yaml:"retention_filter,omitempty" json:"retention_filter,omitempty"`
}

type GenericFilter struct {
	Conditions []Condition `yaml:"conditions" json:"conditions"`
}

// Condition is an SQL boolean expression of the policy's author.
type Condition struct {
	Principals []Principal `yaml:"principals,omitempty" json:"principals,omitempty"`
	Condition  string      `yaml:"condition" json:"condition"`
}

type RetentionFilter struct {
	Field      FieldRef             `yaml:"field" json:"field"`
	Conditions []RetentionCondition `yaml:"conditions" json:"conditions"`
}

type RetentionCondition struct {
	Principals []Principal `yaml:"principals,omitempty" json:"principals,omitempty"`
	Period     *Period     `yaml:"period,omitempty" json:"period,omitempty"`
}

// Period is how long rows stay visible; no period means forever.
type Period struct {
	Days int `yaml:"days" json:"days"`
}
