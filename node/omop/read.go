package omop

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/oncofed/oncofed/protocol"
)

// Rows is one query's result; pgx.Rows has this shape.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Querier runs read-only SQL on an OMOP CDM whose tables are on the search path. Every query
// of one import must see the same snapshot of the database (node/omop/pg runs them in one
// REPEATABLE READ READ ONLY transaction), so that a CDM being loaded while we read yields
// either the old or the new data, never a mix.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (Rows, error)
}

// CDMError is data the definition cannot import: the table, and the concept, person or row
// count at fault. Its code is invalid.
type CDMError struct {
	Table  string
	Reason string
}

func (e *CDMError) Error() string { return e.Table + ": " + e.Reason }

// Unwrap gives the coded form (invalid).
func (e *CDMError) Unwrap() error {
	return &protocol.Error{Code: protocol.CodeInvalid, Message: e.Error()}
}

// TableRows says how many rows of a table an import read, and for what.
type TableRows struct {
	Table string
	Use   string
	Rows  int
}

// patient is one member of the cohort as read from the CDM.
type patient struct {
	personID   int64
	sourceID   *string
	inPerson   bool
	gender     *int64
	race       *int64
	ethnicity  *int64
	birthYear  *int64
	birthMonth *int64
	birthDay   *int64
	birthTS    *time.Time
	index      time.Time
	end        time.Time // end of follow-up: observation period's end, or the data cut
	periods    int       // observation periods seen
	inPeriod   bool      // one contains the index date
}

// reader reads one definition's cohort from a Querier.
type reader struct {
	q       Querier
	def     *Definition
	cut     *time.Time
	pats    []patient
	byID    map[int64]int
	counted []TableRows
	sources []*source
}

// cohortCTE selects the cohort: each person with a condition of $1 (or, with
// include_descendants, of a descendant of one in concept_ancestor, which lists every concept
// as its own descendant too), at the first one, first diagnosed on or before the data cut $2
// (NULL: no cut).
func (r *reader) cohortCTE() string {
	match := "condition_concept_id = ANY($1)"
	if r.def.Cohort.IncludeDescendants {
		match = "condition_concept_id IN (SELECT descendant_concept_id FROM concept_ancestor WHERE ancestor_concept_id = ANY($1))"
	}
	return `WITH cohort AS (
  SELECT person_id, MIN(condition_start_date) AS index_date
  FROM condition_occurrence WHERE ` + match + `
  GROUP BY person_id
  HAVING $2::date IS NULL OR MIN(condition_start_date) <= $2::date)
`
}

// query runs sql after the cohort's CTE ($1, $2; args are $3…) and hands each row to row; it
// counts the rows read from table for use.
func (r *reader) query(ctx context.Context, table, use, sql string, args []any, row func(Rows) error) error {
	rows, err := r.q.Query(ctx, r.cohortCTE()+sql, append([]any{r.def.Cohort.ConditionConcepts, r.cut}, args...)...)
	if err != nil {
		return fmt.Errorf("%s (%s): %w", table, use, err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		n++
		if err := row(rows); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s (%s): %w", table, use, err)
	}
	r.counted = append(r.counted, TableRows{Table: table, Use: use, Rows: n})
	return nil
}

// checkSchema refuses a CDM that lacks a table the definition reads, or a concept it names.
func (r *reader) checkSchema(ctx context.Context) error {
	need, concepts := r.def.uses()
	tables := make([]string, 0, len(need))
	for t := range need {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	for _, t := range tables {
		rows, err := r.q.Query(ctx, "SELECT to_regclass($1)::text, current_setting('search_path')", t)
		if err != nil {
			return err
		}
		var got *string
		var path string
		for rows.Next() {
			if err := rows.Scan(&got, &path); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if got == nil {
			return &CDMError{Table: t, Reason: fmt.Sprintf("no such table in the CDM (search_path %s), needed by %s", path, need[t])}
		}
	}
	ids := make([]int64, 0, len(concepts))
	for c := range concepts {
		ids = append(ids, c)
	}
	slices.Sort(ids)
	rows, err := r.q.Query(ctx, "SELECT concept_id FROM concept WHERE concept_id = ANY($1)", ids)
	if err != nil {
		return fmt.Errorf("concept: %w", err)
	}
	known := map[int64]bool{}
	for rows.Next() {
		var c int64
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return err
		}
		known[c] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("concept: %w", err)
	}
	for _, c := range ids {
		if !known[c] {
			return &CDMError{Table: tConcept, Reason: fmt.Sprintf("concept %d (%s) is not in the CDM's vocabulary", c, concepts[c])}
		}
	}
	return nil
}

// readCohort reads the cohort's people, index dates and observation periods.
func (r *reader) readCohort(ctx context.Context) error {
	r.byID = map[int64]int{}
	err := r.query(ctx, tPerson, "the cohort",
		`SELECT c.person_id, c.index_date, p.person_id IS NOT NULL, p.person_source_value, p.gender_concept_id,
  p.race_concept_id, p.ethnicity_concept_id, p.year_of_birth, p.month_of_birth, p.day_of_birth, p.birth_datetime
FROM cohort c LEFT JOIN person p USING (person_id) ORDER BY c.person_id`, nil,
		func(rows Rows) error {
			var p patient
			if err := rows.Scan(&p.personID, &p.index, &p.inPerson, &p.sourceID, &p.gender, &p.race, &p.ethnicity,
				&p.birthYear, &p.birthMonth, &p.birthDay, &p.birthTS); err != nil {
				return fmt.Errorf("person: %w", err)
			}
			if _, dup := r.byID[p.personID]; dup {
				return &CDMError{Table: tPerson, Reason: fmt.Sprintf("person %d has more than one row", p.personID)}
			}
			if !p.inPerson {
				return &CDMError{Table: tPerson, Reason: fmt.Sprintf("person %d has a condition_occurrence of the cohort but no person row", p.personID)}
			}
			r.byID[p.personID] = len(r.pats)
			r.pats = append(r.pats, p)
			return nil
		})
	if err != nil {
		return err
	}
	if len(r.pats) == 0 {
		return &CDMError{Table: tCondition, Reason: fmt.Sprintf("no person has a condition of the cohort's concepts %v%s (0 rows)", r.def.Cohort.ConditionConcepts, r.cutText())}
	}
	err = r.query(ctx, tObsPeriod, "the cohort",
		`SELECT o.person_id, o.observation_period_start_date, o.observation_period_end_date
FROM observation_period o JOIN cohort c USING (person_id)`, nil,
		func(rows Rows) error {
			var id int64
			var start, end time.Time
			if err := rows.Scan(&id, &start, &end); err != nil {
				return fmt.Errorf("observation_period: %w", err)
			}
			p := &r.pats[r.byID[id]]
			p.periods++
			if p.index.Before(start) || p.index.After(end) {
				return nil
			}
			if p.inPeriod {
				return &CDMError{Table: tObsPeriod, Reason: fmt.Sprintf("person %d: two observation periods contain the first diagnosis on %s", id, day(p.index))}
			}
			p.inPeriod, p.end = true, end
			return nil
		})
	if err != nil {
		return err
	}
	for i := range r.pats {
		p := &r.pats[i]
		switch {
		case p.periods == 0:
			return &CDMError{Table: tObsPeriod, Reason: fmt.Sprintf("person %d (first diagnosis on %s) has no observation period", p.personID, day(p.index))}
		case !p.inPeriod:
			return &CDMError{Table: tObsPeriod, Reason: fmt.Sprintf("person %d: the first diagnosis on %s lies in none of the person's %d observation periods", p.personID, day(p.index), p.periods)}
		}
		if r.cut != nil && r.cut.Before(p.end) {
			p.end = *r.cut
		}
	}
	return nil
}

func (r *reader) cutText() string {
	if r.cut == nil {
		return ""
	}
	return " on or before the data cut " + day(*r.cut)
}

func day(t time.Time) string { return t.Format(time.DateOnly) }

// days is the number of days from a to b (dates at midnight UTC, as the driver gives them).
func days(a, b time.Time) int { return int((b.Unix() - a.Unix()) / 86400) }
