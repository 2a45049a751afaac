package omop

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// endpoint collects one endpoint: the first of its events on or after the index date and up
// to the end of follow-up (an event), else the end of follow-up (censored). A death before the
// index date is an error; other events before it (a history of progression) are not this
// endpoint's.
type endpoint struct {
	def   Endpoint
	first []time.Time // zero: no event
	rank  []int       // the position in def.Events of the first event (a tie: the lowest)
	entry []time.Time // delayed entry (def.Entry): the first entry record; nil without
}

// addEndpoint queues the sources of e.
func (r *reader) addEndpoint(e Endpoint) *endpoint {
	ep := &endpoint{def: e, first: make([]time.Time, len(r.pats)), rank: make([]int, len(r.pats))}
	keep := func(i int, d time.Time, k int) {
		p := &r.pats[i]
		if d.Before(p.index) || d.After(p.end) {
			return
		}
		if ep.first[i].IsZero() || d.Before(ep.first[i]) || (d.Equal(ep.first[i]) && k < ep.rank[i]) {
			ep.first[i], ep.rank[i] = d, k
		}
	}
	if len(e.Entry) > 0 {
		ep.entry = make([]time.Time, len(r.pats))
	}
	for _, ev := range e.Entry {
		r.addSource(&source{table: ev.Table, use: "entry of endpoint " + e.Name, concepts: ev.Concepts, event: true,
			row: func(id int64, d time.Time, _ *fact) error {
				i := r.byID[id]
				if p := &r.pats[i]; !d.Before(p.index) && !d.After(p.end) && (ep.entry[i].IsZero() || d.Before(ep.entry[i])) {
					ep.entry[i] = d
				}
				return nil
			}})
	}
	for k, ev := range e.Events {
		use := "endpoint " + e.Name
		if ev.Table == tDeath {
			r.addSource(&source{table: tDeath, use: use,
				row: func(id int64, d time.Time, _ *fact) error {
					i := r.byID[id]
					if p := &r.pats[i]; d.Before(p.index) {
						return &CDMError{Table: tDeath, Reason: fmt.Sprintf("person %d died on %s, before the first diagnosis on %s", id, day(d), day(p.index))}
					}
					keep(i, d, k)
					return nil
				}})
			continue
		}
		r.addSource(&source{table: ev.Table, use: use, concepts: ev.Concepts, event: true,
			row: func(id int64, d time.Time, _ *fact) error {
				keep(r.byID[id], d, k)
				return nil
			}})
	}
	return ep
}

// endpointExtras returns each patient's cause code (1..k by def.Causes, 0 censored; nil
// without causes) and entry day (days from the index; nil without entry records). An entry on
// or after the end of the patient's time is an error naming the person.
func (r *reader) endpointExtras(ep *endpoint, times []float64) (causes []int, entries []float64, err error) {
	if len(ep.def.Causes) > 0 {
		causes = make([]int, len(r.pats))
		for i := range r.pats {
			if !ep.first[i].IsZero() {
				causes[i] = 1 + slices.Index(ep.def.Causes, ep.def.Events[ep.rank[i]].Cause)
			}
		}
	}
	// A site without any entry record declares no entry (the catalog's delayed_entry is the
	// site's: a registry among hospitals sharing one definition).
	if ep.entry != nil && slices.ContainsFunc(ep.entry, func(d time.Time) bool { return !d.IsZero() }) {
		entries = make([]float64, len(r.pats))
		for i := range r.pats {
			if d := ep.entry[i]; !d.IsZero() {
				p := &r.pats[i]
				entries[i] = float64(days(p.index, d))
				if entries[i] > 0 && entries[i] >= times[i] {
					return nil, nil, &CDMError{Table: ep.def.Entry[0].Table, Reason: fmt.Sprintf("person %d entered observation of endpoint %s on day %v, not before its end on day %v", p.personID, ep.def.Name, entries[i], times[i])}
				}
			}
		}
	}
	return causes, entries, nil
}

// columns returns each patient's time (days from the index) and event flag.
func (r *reader) endpointColumns(ep *endpoint) (times []float64, events []bool) {
	times, events = make([]float64, len(r.pats)), make([]bool, len(r.pats))
	for i := range r.pats {
		p := &r.pats[i]
		if !ep.first[i].IsZero() {
			times[i], events[i] = float64(days(p.index, ep.first[i])), true
		} else {
			times[i] = float64(days(p.index, p.end))
		}
	}
	return times, events
}

// pick is the record chosen so far for one patient: the nearest to the index date.
type pick struct {
	have   bool
	offset int     // days from the index
	value  raw     // the record's value (drug_set: unused)
	set    []int64 // drug_set: the drugs started that day
}

// addVariable queues the source of v (none for a person-table variable) and returns the
// records it will pick.
func (r *reader) addVariable(v *Variable) []pick {
	if v.Table == tPerson {
		return nil
	}
	from, to := math.MinInt, math.MaxInt
	if v.Table == tEpisode || v.Table == tDrug {
		from = 0
	} else {
		to = 0
	}
	if v.FromDay != nil {
		from = *v.FromDay
	}
	if v.ToDay != nil {
		to = *v.ToDay
	}
	concepts := v.Concepts
	if v.Table == tDrug {
		concepts = v.drugConcepts()
	}
	picks := make([]pick, len(r.pats))
	kind := v.kind()
	r.addSource(&source{table: v.Table, use: "variable " + v.Name, concepts: concepts,
		row: func(id int64, d time.Time, f *fact) error {
			val, ok := f.value(kind)
			i := r.byID[id]
			p := &r.pats[i]
			off := days(p.index, d)
			if !ok || off < from || off > to || d.After(p.end) {
				return nil
			}
			return r.consider(v, &picks[i], id, off, val)
		}})
	return picks
}

// variableColumn returns each patient's value of v as the import takes it ("" = missing): a
// number, or a category by the map; picks are what addVariable collected.
func (r *reader) variableColumn(v *Variable, picks []pick) ([]string, error) {
	out := make([]string, len(r.pats))
	if v.Table == tPerson {
		for i := range r.pats {
			s, err := r.personValue(v, &r.pats[i])
			if err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, nil
	}
	kind := v.kind()
	concepts := map[int64]string{} // the map of a concept-valued variable, by concept id
	if kind != "string" && kind != "drug_set" {
		for key, cat := range v.Map {
			c, _ := strconv.ParseInt(key, 10, 64)
			concepts[c] = cat
		}
	}
	unmapped := map[string]int{}
	firstPerson := map[string]int64{}
	for i := range picks {
		pk := &picks[i]
		if !pk.have {
			continue
		}
		var s, key string
		ok := true
		switch kind {
		case "number":
			x, err := r.numberValue(v, pk.value.num, r.pats[i].personID)
			if err != nil {
				return nil, err
			}
			s = x
		case "string":
			key = pk.value.str
			s, ok = v.Map[key]
		case "drug_set":
			slices.Sort(pk.set)
			key = joinIDs(pk.set)
			s, ok = v.Map[key]
		default:
			s, ok = concepts[pk.value.id]
			if !ok {
				key = strconv.FormatInt(pk.value.id, 10)
			}
		}
		if !ok {
			if unmapped[key] == 0 {
				firstPerson[key] = r.pats[i].personID
			}
			unmapped[key]++
			continue
		}
		out[i] = s
	}
	if len(unmapped) > 0 {
		return nil, &CDMError{Table: v.Table, Reason: fmt.Sprintf("variable %s: %s not in the definition's map", v.Name, describeUnmapped(unmapped, firstPerson))}
	}
	return out, nil
}

// consider keeps the record nearer the index date (an earlier one on a tie); two records on
// the chosen day with different values are an error, except drug_set, which collects them.
func (r *reader) consider(v *Variable, pk *pick, person int64, off int, val raw) error {
	dist, pdist := abs(off), abs(pk.offset)
	switch {
	case !pk.have || dist < pdist || (dist == pdist && off < pk.offset):
		pk.have, pk.offset, pk.value, pk.set = true, off, val, append(pk.set[:0], val.id)
	case off != pk.offset:
	case v.kind() == "drug_set":
		if !slices.Contains(pk.set, val.id) {
			pk.set = append(pk.set, val.id)
		}
	case val != pk.value:
		d := r.pats[r.byID[person]].index.AddDate(0, 0, off)
		return &CDMError{Table: v.Table, Reason: fmt.Sprintf("variable %s: person %d has two records on %s with different values (%s and %s): which one is meant?",
			v.Name, person, day(d), pk.value.text(v.kind()), val.text(v.kind()))}
	}
	return nil
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// numberValue is a number as the import takes it, refused outside the declared range.
func (r *reader) numberValue(v *Variable, x float64, person int64) (string, error) {
	if math.IsInf(x, 0) {
		return "", &CDMError{Table: v.Table, Reason: fmt.Sprintf("variable %s: person %d: value %v is not a finite number", v.Name, person, x)}
	}
	if (v.Min != nil && x < *v.Min) || (v.Max != nil && x > *v.Max) {
		return "", &CDMError{Table: v.Table, Reason: fmt.Sprintf("variable %s: person %d: value %v outside the declared range [%s, %s]", v.Name, person, x, bound(v.Min, "-∞"), bound(v.Max, "+∞"))}
	}
	return strconv.FormatFloat(x, 'f', -1, 64), nil
}

func bound(p *float64, none string) string {
	if p == nil {
		return none
	}
	return strconv.FormatFloat(*p, 'g', -1, 64)
}

// describeUnmapped lists up to three unmapped values with their row counts.
func describeUnmapped(n map[string]int, first map[string]int64) string {
	vals := make([]string, 0, len(n))
	for v := range n {
		vals = append(vals, v)
	}
	sort.Slice(vals, func(i, j int) bool { return n[vals[i]] > n[vals[j]] || (n[vals[i]] == n[vals[j]] && vals[i] < vals[j]) })
	var parts []string
	for k, v := range vals {
		if k == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(vals)-3))
			break
		}
		pl := "s"
		if n[v] == 1 {
			pl = ""
		}
		parts = append(parts, fmt.Sprintf("value %s (%d patient%s, first person %d)", v, n[v], pl, first[v]))
	}
	verb := "is"
	if len(vals) > 1 {
		verb = "are"
	}
	return strings.Join(parts, ", ") + " " + verb
}

// personValue is a person-table variable: age at the index date, or a mapped concept
// (concept 0, "no matching concept", is missing).
func (r *reader) personValue(v *Variable, p *patient) (string, error) {
	var c *int64
	switch v.kind() {
	case "age":
		age, ok := ageAt(p)
		if !ok {
			return "", nil
		}
		return r.numberValue(v, float64(age), p.personID)
	case "gender":
		c = p.gender
	case "race":
		c = p.race
	case "ethnicity":
		c = p.ethnicity
	}
	if c == nil || *c == 0 {
		return "", nil
	}
	s, ok := v.Map[strconv.FormatInt(*c, 10)]
	if !ok {
		return "", &CDMError{Table: tPerson, Reason: fmt.Sprintf("variable %s: person %d: %s_concept_id %d is not in the definition's map", v.Name, p.personID, v.kind(), *c)}
	}
	return s, nil
}

// ageAt is the completed years from birth to the index date: from birth_datetime, else
// year, month and day of birth (the 1st of the month, or January, when missing).
func ageAt(p *patient) (int, bool) {
	var by, bm, bd int
	switch {
	case p.birthTS != nil:
		by, bm, bd = p.birthTS.Year(), int(p.birthTS.Month()), p.birthTS.Day()
	case p.birthYear != nil:
		by, bm, bd = int(*p.birthYear), 1, 1
		if p.birthMonth != nil {
			bm = int(*p.birthMonth)
		}
		if p.birthDay != nil {
			bd = int(*p.birthDay)
		}
	default:
		return 0, false
	}
	age := p.index.Year() - by
	if m := int(p.index.Month()); m < bm || (m == bm && p.index.Day() < bd) {
		age--
	}
	return age, true
}
