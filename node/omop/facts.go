package omop

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// source is what one endpoint event or one variable reads from a table: the rows of its
// concepts (every row of death), restricted to the cohort, handed to row.
type source struct {
	table, use string
	concepts   []int64
	// event: only each person's first record on or after the index date matters (an
	// endpoint's event), so the database sends that one alone.
	event bool
	row   func(id int64, d time.Time, f *fact) error
}

// fact is one row of a table as the facts query returns it: the record's concept and its
// value columns, with NULL as 0, NaN or "" (OMOP's concept 0 is "no matching concept").
type fact struct {
	concept  int64
	number   float64
	vconcept int64
	str      string
}

// raw is the value one record gives a variable: a number, a concept or a string.
type raw struct {
	num float64
	id  int64
	str string
}

// value is the raw value a variable of the kind takes from f; false when the record has none.
func (f *fact) value(kind string) (raw, bool) {
	switch kind {
	case "number":
		return raw{num: f.number}, !math.IsNaN(f.number)
	case "concept", "object_concept":
		return raw{id: f.vconcept}, f.vconcept != 0
	case "string":
		return raw{str: f.str}, f.str != ""
	}
	return raw{id: f.concept}, f.concept != 0 // record_concept, drug_set
}

// text writes a raw value of the kind for a message.
func (v raw) text(kind string) string {
	switch kind {
	case "number":
		return strconv.FormatFloat(v.num, 'g', -1, 64)
	case "string":
		return strconv.Quote(v.str)
	}
	return strconv.FormatInt(v.id, 10)
}

// factColumns gives, per table, the SQL of its date and concept columns and of its value
// columns (number, value concept, string) with NULL as NaN, 0 and "".
var factColumns = map[string][5]string{
	tMeasurement: {"measurement_date", "measurement_concept_id", "COALESCE(t.value_as_number::float8, 'NaN')", "COALESCE(t.value_as_concept_id, 0)::int8", "''::text"},
	tObservation: {"observation_date", "observation_concept_id", "COALESCE(t.value_as_number::float8, 'NaN')", "COALESCE(t.value_as_concept_id, 0)::int8", "COALESCE(t.value_as_string, '')"},
	tEpisode:     {"episode_start_date", "episode_concept_id", "'NaN'::float8", "t.episode_object_concept_id::int8", "''::text"},
	tDrug:        {"drug_exposure_start_date", "drug_concept_id", "'NaN'::float8", "0::int8", "''::text"},
	tCondition:   {"condition_start_date", "condition_concept_id", "'NaN'::float8", "0::int8", "''::text"},
}

// noValues are the value columns of a row that has none (a death, an endpoint's event).
const noValues = "0::int8, 'NaN'::float8, 0::int8, ''::text"

// addSource queues a source for readFacts.
func (r *reader) addSource(s *source) { r.sources = append(r.sources, s) }

// branch is one SELECT of the facts query and the sources its rows go to.
type branch struct {
	sql       string
	sources   []int
	byConcept map[int64][]int // variable branches: the sources of each concept
}

// readFacts reads every queued source in one UNION ALL statement: the cohort is computed once,
// each table the variables read is scanned once for all their concepts, every death once,
// and each endpoint event's first record per person comes alone. Rows go to their sources.
func (r *reader) readFacts(ctx context.Context) error {
	var branches []*branch
	var args []any
	param := func(ids []int64) string {
		args = append(args, ids)
		return fmt.Sprintf("$%d", len(args)+2)
	}
	var deaths *branch
	tables := map[string]*branch{}
	tableConcepts := map[string][]int64{}
	for k, s := range r.sources {
		switch {
		case s.table == tDeath:
			if deaths == nil {
				deaths = &branch{sql: "SELECT d.person_id, d.death_date, " + noValues + " FROM death d JOIN cohort c USING (person_id)"}
				branches = append(branches, deaths)
			}
			deaths.sources = append(deaths.sources, k)
		case s.event:
			c := factColumns[s.table]
			branches = append(branches, &branch{sources: []int{k}, sql: fmt.Sprintf(
				"SELECT t.person_id, MIN(t.%[1]s), %[5]s FROM %[3]s t JOIN cohort c USING (person_id) WHERE t.%[2]s = ANY(%[4]s) AND t.%[1]s >= c.index_date GROUP BY t.person_id",
				c[0], c[1], s.table, param(s.concepts), noValues)})
		default:
			b := tables[s.table]
			if b == nil {
				b = &branch{byConcept: map[int64][]int{}}
				tables[s.table] = b
				branches = append(branches, b)
			}
			for _, c := range s.concepts {
				if !slices.Contains(b.byConcept[c], k) {
					b.byConcept[c] = append(b.byConcept[c], k)
				}
			}
			tableConcepts[s.table] = append(tableConcepts[s.table], s.concepts...)
		}
	}
	for table, b := range tables {
		ids := slices.Clone(tableConcepts[table])
		slices.Sort(ids)
		c := factColumns[table]
		b.sql = fmt.Sprintf("SELECT t.person_id, t.%s, t.%s::int8, %s, %s, %s FROM %s t JOIN cohort c USING (person_id) WHERE t.%[2]s = ANY(%[7]s)",
			c[0], c[1], c[2], c[3], c[4], table, param(slices.Compact(ids)))
	}
	if len(branches) == 0 {
		return nil
	}
	var sql strings.Builder
	for k, b := range branches {
		if k > 0 {
			sql.WriteString("\nUNION ALL\n")
		}
		fmt.Fprintf(&sql, "SELECT %d AS branch, q.* FROM (%s) q", k, b.sql)
	}
	counts := make([]int, len(r.sources))
	var (
		k  int
		id int64
		d  time.Time
		f  fact
	)
	err := r.query(ctx, "the CDM", "endpoints and variables", sql.String(), args, func(rows Rows) error {
		if err := rows.Scan(&k, &id, &d, &f.concept, &f.number, &f.vconcept, &f.str); err != nil {
			return fmt.Errorf("reading the CDM: %w", err)
		}
		b := branches[k]
		targets := b.sources
		if b.byConcept != nil {
			targets = b.byConcept[f.concept]
		}
		for _, src := range targets {
			counts[src]++
			if err := r.sources[src].row(id, d, &f); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.counted = r.counted[:len(r.counted)-1] // the query as a whole: counted per source instead
	for k, s := range r.sources {
		r.counted = append(r.counted, TableRows{Table: s.table, Use: s.use, Rows: counts[k]})
	}
	return nil
}
