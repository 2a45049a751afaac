package omop

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/oncofed/oncofed/node"
)

// Snapshot is a study read whole from a CDM, ready for node.Import: it implements
// node.Source, yielding one record per cohort member in person_id order.
type Snapshot struct {
	vars, eps []string
	ids       []string
	values    [][]string // per variable, per patient
	times     [][]float64
	events    [][]bool
	causes    [][]int     // per endpoint: nil without causes
	entries   [][]float64 // per endpoint: nil without entry
	extras    []node.EndpointExtras
	next      int
	// Rows says what was read from each table.
	Rows []TableRows
}

// Read reads def's study from the CDM behind q: it checks that every table the definition
// reads exists and every concept it names is in the vocabulary, then reads the cohort, its
// endpoints and its variables. Any problem (a person without an observation period, a value
// the map does not cover, two different values on one day) refuses the whole study with the
// table and the person, concept or row count at fault.
func Read(ctx context.Context, q Querier, def *Definition) (*Snapshot, error) {
	if err := def.Check(); err != nil {
		return nil, err
	}
	r := &reader{q: q, def: def}
	if def.DataCut != "" {
		t, _ := time.Parse(time.DateOnly, def.DataCut)
		r.cut = &t
	}
	if err := r.checkSchema(ctx); err != nil {
		return nil, err
	}
	if err := r.readCohort(ctx); err != nil {
		return nil, err
	}
	s := &Snapshot{}
	seen := map[string]int64{}
	for _, p := range r.pats {
		id := strconv.FormatInt(p.personID, 10)
		if def.ID == "person_source_value" {
			if p.sourceID == nil || *p.sourceID == "" {
				return nil, &CDMError{Table: tPerson, Reason: fmt.Sprintf("person %d has no person_source_value (the definition's id)", p.personID)}
			}
			id = *p.sourceID
			if other, dup := seen[id]; dup {
				return nil, &CDMError{Table: tPerson, Reason: fmt.Sprintf("persons %d and %d share the person_source_value %q (the definition's id)", other, p.personID, id)}
			}
			seen[id] = p.personID
		}
		s.ids = append(s.ids, id)
	}
	eps := make([]*endpoint, len(def.Endpoints))
	for k, e := range def.Endpoints {
		eps[k] = r.addEndpoint(e)
	}
	picks := make([][]pick, len(def.Variables))
	for j := range def.Variables {
		picks[j] = r.addVariable(&def.Variables[j])
	}
	if err := r.readFacts(ctx); err != nil {
		return nil, err
	}
	for k, e := range def.Endpoints {
		t, ev := r.endpointColumns(eps[k])
		c, en, err := r.endpointExtras(eps[k], t)
		if err != nil {
			return nil, err
		}
		s.eps = append(s.eps, e.Name)
		s.times, s.events = append(s.times, t), append(s.events, ev)
		s.causes, s.entries = append(s.causes, c), append(s.entries, en)
		x := node.EndpointExtras{Causes: slices.Clone(e.Causes)}
		if en != nil {
			x.EntryColumn = "entry" // from the definition's entry records
		}
		s.extras = append(s.extras, x)
	}
	for j := range def.Variables {
		v := &def.Variables[j]
		vals, err := r.variableColumn(v, picks[j])
		if err != nil {
			return nil, err
		}
		s.vars = append(s.vars, v.Name)
		s.values = append(s.values, vals)
	}
	s.Rows = r.counted
	return s, nil
}

// Len is the number of patients.
func (s *Snapshot) Len() int { return len(s.ids) }

// Variables implements node.Source.
func (s *Snapshot) Variables() []string { return s.vars }

// Endpoints implements node.Source.
func (s *Snapshot) Endpoints() []string { return s.eps }

// Next implements node.Source.
func (s *Snapshot) Next() (node.Record, error) {
	i := s.next
	if i >= len(s.ids) {
		return node.Record{}, io.EOF
	}
	s.next++
	rec := node.Record{ID: s.ids[i], Values: make([]string, len(s.vars)), Times: make([]float64, len(s.eps)), Events: make([]bool, len(s.eps))}
	for j := range s.vars {
		rec.Values[j] = s.values[j][i]
	}
	for k := range s.eps {
		rec.Times[k], rec.Events[k] = s.times[k][i], s.events[k][i]
		if s.causes[k] != nil {
			if rec.Causes == nil {
				rec.Causes = make([]int, len(s.eps))
			}
			rec.Causes[k] = s.causes[k][i]
		}
		if s.entries[k] != nil {
			if rec.Entries == nil {
				rec.Entries = make([]float64, len(s.eps))
			}
			rec.Entries[k] = s.entries[k][i]
		}
	}
	return rec, nil
}

// EndpointExtras implements node.ExtrasSource: the definition's causes and entries.
func (s *Snapshot) EndpointExtras() []node.EndpointExtras { return s.extras }

// Options are the import's settings that are the site's, not the study's.
type Options struct {
	// Site, when set, is the site name the network sees.
	Site string
	// DataCut, when set, is the data cut the store records when the definition declares none
	// (default: today). A different one from the definition's is refused.
	DataCut string
}

// Report is a finished import: the node's report and what was read from each table.
type Report struct {
	node.ImportReport
	Rows []TableRows
}

// Import snapshots def's study from the CDM behind q into store, replacing any previous load of
// the study atomically; on any error the store is unchanged.
func Import(ctx context.Context, store node.Store, q Querier, def *Definition, opt Options) (Report, error) {
	if err := def.Check(); err != nil {
		return Report{}, err
	}
	cut := def.DataCut
	switch {
	case cut == "":
		cut = opt.DataCut
	case opt.DataCut != "" && opt.DataCut != cut:
		return Report{}, &DefinitionError{Reason: fmt.Sprintf("data cut %s given, but the definition declares %s", opt.DataCut, cut)}
	}
	dict, err := def.dictionary()
	if err != nil {
		return Report{}, err
	}
	snap, err := Read(ctx, q, def)
	if err != nil {
		return Report{}, err
	}
	spec := node.ImportSpec{Study: def.Study, DataCut: cut, Site: opt.Site, Dictionary: dict, Title: def.Title}
	rep, err := node.Import(ctx, store, spec, snap)
	if err != nil {
		return Report{}, err
	}
	return Report{ImportReport: rep, Rows: snap.Rows}, nil
}
