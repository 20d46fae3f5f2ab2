package policy

import "fmt"

// Expression is SQL the policy's author wrote (a condition or an
// sql_statement), with the path of the field that holds it.
type Expression struct {
	Path      string // e.g. rule_sets[0].filters[0].generic_filter.conditions[1].condition
	SQL       string
	Condition bool // a filter's condition, which must be boolean
}

// Expressions lists the author's SQL of every rule set, in policy order.
func (p *DataPolicy) Expressions() []Expression {
	var es []Expression
	for i, rs := range p.RuleSets {
		for j, ft := range rs.FieldTransforms {
			for k, t := range ft.Transforms {
				if t.SQLStatement != nil {
					es = append(es, Expression{
						Path: fmt.Sprintf("rule_sets[%d].field_transforms[%d].transforms[%d].sql_statement.statement", i, j, k),
						SQL:  t.SQLStatement.Statement,
					})
				}
			}
		}
		for j, f := range rs.Filters {
			if f.GenericFilter == nil {
				continue
			}
			for k, c := range f.GenericFilter.Conditions {
				es = append(es, Expression{
					Path:      fmt.Sprintf("rule_sets[%d].filters[%d].generic_filter.conditions[%d].condition", i, j, k),
					SQL:       c.Condition,
					Condition: true,
				})
			}
		}
	}
	return es
}

// CheckExpression is the query that tells whether sql is one expression
// over the source table: PostgreSQL prepares it (never runs it), and it is
// one expression exactly when the query's only column is named alias.
// An expression that closes the parentheses pace puts around it and goes
// on (a second column, UNION, FROM, ...) gives another column list or a
// syntax error, and alias, chosen at random for each check, cannot be
// named by the author. The parentheses are the ones the view puts around
// it.
func CheckExpression(source, sql, alias string) string {
	return "select " + authored(sql) + " as " + QuoteIdent(alias) + " from " + QuoteRef(source) + " limit 0"
}
