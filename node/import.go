package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oncofed/oncofed/protocol"
)

// ImportError is a refused import with the position of the offending input (Line 0 when the
// problem is not on one line, e.g. a missing column in a spec). Its code is invalid.
type ImportError struct {
	Line   int
	Column string
	Reason string
}

func (e *ImportError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Column != "" {
		fmt.Fprintf(&b, "column %q: ", e.Column)
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Unwrap gives the coded form, so ErrorCode reports invalid.
func (e *ImportError) Unwrap() error {
	return &protocol.Error{Code: protocol.CodeInvalid, Message: e.Error()}
}

// Record is one patient as an import Source yields it: raw variable values ("" = missing) in
// the order of Source.Variables, and one time and event per endpoint of Source.Endpoints.
type Record struct {
	Line   int // position for error messages (the CSV line; 0 when the source has none)
	ID     string
	Values []string
	Times  []float64
	Events []bool
	// Causes, per endpoint, is the cause of the event (1..k) or 0 for a censoring, for the
	// endpoints that declare causes; nil when none does (Events then says it all).
	Causes []int
	// Entries, per endpoint, is the time of entry into observation (0: from the start); nil
	// when no endpoint has entry times.
	Entries []float64
}

// Source is the import seam: anything that yields patient records (a CSV file today, an
// OMOP CDM database or a warehouse extract later). Next returns io.EOF after the last record.
type Source interface {
	Variables() []string
	Endpoints() []string
	Next() (Record, error)
}

// EndpointSpec maps an endpoint to its time and event columns.
type EndpointSpec struct {
	Name        string
	TimeColumn  string
	EventColumn string
}

// EndpointExtras declares what an endpoint records beyond time and event.
type EndpointExtras struct {
	// Causes labels the endpoint's competing causes (oncofed-node import --causes): the event
	// column then holds 0 for a censoring and c in 1..len(Causes) for an event of cause c.
	Causes []string
	// EntryColumn names the column with each patient's time of entry into observation
	// (--entry): risk sets then hold the patients with entry < t ≤ exit. "" when none.
	EntryColumn string
}

// ParseCausesSpec parses --causes NAME=1:label,2:label,…: the endpoint's name and its causes'
// labels in cause order. Causes must be numbered 1..k, each once, with non-empty distinct labels.
func ParseCausesSpec(s string) (endpoint string, labels []string, err error) {
	name, list, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.TrimSpace(list) == "" {
		return "", nil, errorf(protocol.CodeInvalid, "causes %q: want NAME=1:label,2:label,...", s)
	}
	parts := strings.Split(list, ",")
	labels = make([]string, len(parts))
	seen := map[string]bool{}
	for _, p := range parts {
		num, label, ok := strings.Cut(p, ":")
		c, err := strconv.Atoi(strings.TrimSpace(num))
		label = strings.TrimSpace(label)
		switch {
		case !ok || err != nil:
			return "", nil, errorf(protocol.CodeInvalid, "causes of %s: %q is not CODE:label", name, p)
		case c < 1 || c > len(parts):
			return "", nil, errorf(protocol.CodeInvalid, "causes of %s: code %d is not in 1..%d (causes are numbered from 1, 0 is a censoring)", name, c, len(parts))
		case labels[c-1] != "":
			return "", nil, errorf(protocol.CodeInvalid, "causes of %s: code %d given twice", name, c)
		case label == "" || seen[label] || len(label) > protocol.MaxNameLen || !utf8.ValidString(label):
			return "", nil, errorf(protocol.CodeInvalid, "causes of %s: label %q of code %d is empty, repeated, too long or not UTF-8", name, label, c)
		}
		labels[c-1], seen[label] = label, true
	}
	if len(labels) < 2 {
		return "", nil, errorf(protocol.CodeInvalid, "causes of %s: competing risks need at least two causes", name)
	}
	return name, labels, nil
}

// ParseEntrySpec parses --entry NAME=COLUMN.
func ParseEntrySpec(s string) (endpoint, column string, err error) {
	name, col, ok := strings.Cut(s, "=")
	name, col = strings.TrimSpace(name), strings.TrimSpace(col)
	if !ok || name == "" || col == "" {
		return "", "", errorf(protocol.CodeInvalid, "entry %q: want NAME=COLUMN", s)
	}
	return name, col, nil
}

// ExtrasSource is a Source that knows its endpoints' causes and entry columns (as CSVSource
// does once Declare was called); BuildStudy stores them with the endpoints.
type ExtrasSource interface {
	Source
	// EndpointExtras returns one entry per endpoint, in the order of Endpoints.
	EndpointExtras() []EndpointExtras
}

// ParseEndpointSpec parses NAME=TIMECOL:EVENTCOL (as given to --endpoint).
func ParseEndpointSpec(s string) (EndpointSpec, error) {
	name, cols, ok := strings.Cut(s, "=")
	tc, ec, ok2 := strings.Cut(cols, ":")
	if !ok || !ok2 || name == "" || tc == "" || ec == "" {
		return EndpointSpec{}, errorf(protocol.CodeInvalid, "endpoint %q: want NAME=TIMECOL:EVENTCOL", s)
	}
	return EndpointSpec{Name: strings.TrimSpace(name), TimeColumn: strings.TrimSpace(tc), EventColumn: strings.TrimSpace(ec)}, nil
}

// ImportSpec says how a CSV file maps onto a study.
type ImportSpec struct {
	Study     string
	IDColumn  string
	Endpoints []EndpointSpec
	// DataCut is the data-cut date, YYYY-MM-DD; empty means the day of the import.
	DataCut string
	// Site, when set, is stored as the site name the network sees.
	Site string
	// Dictionary is the study's declared data dictionary (ReadDictionary, AddCategories): its
	// version, and per variable its type, label, unit, categories and range, per endpoint its
	// label. Every column with non-numeric values must have declared categories.
	Dictionary Dictionary
	// StudyVersion, when set, is the study's declared version; it must agree with
	// Dictionary.Version when both are set.
	StudyVersion string
	// Title, when set, is the study's title; it replaces the dictionary's.
	Title string
	// Causes gives endpoints competing causes: labels in cause order, by endpoint name
	// (--causes). Entry gives endpoints an entry-time column, by endpoint name (--entry).
	Causes map[string][]string
	Entry  map[string]string
}

// EndpointReport summarises one imported endpoint.
type EndpointReport struct {
	Name     string
	Events   int
	Censored int
	Causes   []string // labels of the competing causes, nil when none
	ByCause  []int    // events per cause
	Delayed  int      // patients entering observation after time 0
}

// ImportReport describes a successful import.
type ImportReport struct {
	Study     string
	DataCut   string
	Patients  int
	Version   int64
	Variables []protocol.Variable
	Endpoints []EndpointReport
	// StudyVersion and DictionaryHash are what the catalog publishes for the study.
	StudyVersion   string
	DictionaryHash string
	Title          string
}

// ImportCSV reads a CSV file (header on line 1) into the study spec.Study of store, replacing
// any previous load of that study atomically. Every column other than the id and endpoint
// columns becomes a variable: numeric when all its non-empty values parse as numbers,
// categorical otherwise; an empty cell is missing. Any bad line refuses the whole file with
// its line number and leaves the store unchanged.
func ImportCSV(ctx context.Context, store Store, spec ImportSpec, r io.Reader) (ImportReport, error) {
	src, err := NewCSVSource(r, spec.IDColumn, spec.Endpoints)
	if err != nil {
		return ImportReport{}, err
	}
	if err := src.Declare(spec.Causes, spec.Entry); err != nil {
		return ImportReport{}, err
	}
	return Import(ctx, store, spec, src)
}

// Import builds a study from src (see BuildStudy) and stores it, replacing any previous load
// atomically; spec.IDColumn and spec.Endpoints are the source's business and ignored here.
// The store refuses a re-import that changes the study's dictionary under the same declared
// version.
func Import(ctx context.Context, store Store, spec ImportSpec, src Source) (ImportReport, error) {
	cut := spec.DataCut
	if cut == "" {
		cut = time.Now().UTC().Format("2006-01-02")
	}
	dict := spec.Dictionary
	if dict.Study != "" && dict.Study != spec.Study {
		return ImportReport{}, &ImportError{Reason: fmt.Sprintf("the dictionary declares study %q, not %q", dict.Study, spec.Study)}
	}
	switch {
	case spec.StudyVersion != "" && dict.Version != "" && spec.StudyVersion != dict.Version:
		return ImportReport{}, &ImportError{Reason: fmt.Sprintf("study version %q given, but the dictionary declares version %q", spec.StudyVersion, dict.Version)}
	case spec.StudyVersion != "":
		dict.Version = spec.StudyVersion
	}
	if spec.Title != "" {
		dict.Title = spec.Title
	}
	if err := dict.check(); err != nil {
		return ImportReport{}, err
	}
	st, err := BuildStudy(ctx, spec.Study, cut, dict, src)
	if err != nil {
		return ImportReport{}, err
	}
	info, err := store.ReplaceStudy(ctx, st)
	if err != nil {
		return ImportReport{}, err
	}
	if spec.Site != "" {
		if err := store.SetSiteName(ctx, spec.Site); err != nil {
			return ImportReport{}, err
		}
	}
	rep := ImportReport{Study: st.Name, DataCut: st.DataCut, Patients: st.Len(), Version: info.Version,
		StudyVersion: st.StudyVersion, DictionaryHash: st.DictionaryHash(), Title: st.Title}
	for _, v := range st.Variables {
		rep.Variables = append(rep.Variables, v.Variable)
	}
	for _, e := range st.Endpoints {
		er := EndpointReport{Name: e.Name, Causes: e.Causes, ByCause: make([]int, len(e.Causes))}
		for i, ev := range e.Event {
			if ev {
				er.Events++
				if e.Cause != nil {
					er.ByCause[e.Cause[i]]++
				}
			} else {
				er.Censored++
			}
			if e.Entry != nil && e.Entry[i] > 0 {
				er.Delayed++
			}
		}
		rep.Endpoints = append(rep.Endpoints, er)
	}
	return rep, nil
}

// BuildStudy reads every record of src into columns: it refuses duplicate or empty ids and
// types each variable by the dictionary (see DictionaryEntry): a value that is not a declared
// category, or a number outside the declared range, is refused with its line; a column with a
// non-numeric value and no declared categories is refused. Declared variables come first, in
// the dictionary's order, then the undeclared (numeric) ones in the source's order.
func BuildStudy(ctx context.Context, name, dataCut string, dict Dictionary, src Source) (*StudyData, error) {
	if err := checkName("study", name); err != nil {
		return nil, err
	}
	if dataCut != "" {
		if _, err := time.Parse("2006-01-02", dataCut); err != nil {
			return nil, &ImportError{Reason: fmt.Sprintf("data cut %q is not a date YYYY-MM-DD", dataCut)}
		}
	}
	vars, eps := src.Variables(), src.Endpoints()
	for _, v := range vars {
		if err := checkName("variable", v); err != nil {
			return nil, err
		}
	}
	for _, e := range eps {
		if err := checkName("endpoint", e); err != nil {
			return nil, err
		}
	}
	decl, epLabels, epHorizons, order, err := resolveDictionary(dict, vars, eps)
	if err != nil {
		return nil, err
	}
	st := &StudyData{Name: name, DataCut: dataCut, StudyVersion: dict.Version, Title: dict.Title}
	raw := make([][]string, len(vars))
	var lines []int
	st.Endpoints = make([]EndpointData, len(eps))
	for k, e := range eps {
		st.Endpoints[k].Name, st.Endpoints[k].Label, st.Endpoints[k].HorizonDays = e, epLabels[k], epHorizons[k]
	}
	entries := make([]bool, len(eps)) // endpoints with an entry column
	if ss, ok := src.(ExtrasSource); ok {
		for k, spec := range ss.EndpointExtras() {
			if len(spec.Causes) > 0 {
				st.Endpoints[k].Causes = append([]string(nil), spec.Causes...)
				st.Endpoints[k].Cause = []int32{}
			}
			if spec.EntryColumn != "" {
				entries[k] = true
				st.Endpoints[k].Entry = []float64{}
			}
		}
	}
	seen := make(map[string]int)
	for n := 0; ; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		rec, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if rec.ID == "" {
			return nil, &ImportError{Line: rec.Line, Reason: "empty patient id"}
		}
		if prev, dup := seen[rec.ID]; dup {
			return nil, &ImportError{Line: rec.Line, Reason: fmt.Sprintf("duplicate patient id %q (first on line %d)", rec.ID, prev)}
		}
		seen[rec.ID] = rec.Line
		if !utf8.ValidString(rec.ID) {
			return nil, &ImportError{Line: rec.Line, Reason: "patient id is not valid UTF-8"}
		}
		for j, v := range rec.Values {
			if !utf8.ValidString(v) {
				return nil, &ImportError{Line: rec.Line, Column: vars[j], Reason: "value is not valid UTF-8"}
			}
			if len(v) > protocol.MaxNameLen {
				return nil, &ImportError{Line: rec.Line, Column: vars[j], Reason: fmt.Sprintf("value longer than %d bytes", protocol.MaxNameLen)}
			}
		}
		if len(rec.Values) != len(vars) || len(rec.Times) != len(eps) || len(rec.Events) != len(eps) {
			panic("node: import source yielded a record of the wrong shape")
		}
		st.IDs = append(st.IDs, rec.ID)
		lines = append(lines, rec.Line)
		for j, v := range rec.Values {
			raw[j] = append(raw[j], v)
		}
		for k := range eps {
			ep := &st.Endpoints[k]
			ep.Time = append(ep.Time, rec.Times[k])
			ep.Event = append(ep.Event, rec.Events[k])
			if ep.Causes != nil {
				ep.Cause = append(ep.Cause, int32(rec.Causes[k]-1))
			}
			if entries[k] {
				ep.Entry = append(ep.Entry, rec.Entries[k])
			}
		}
	}
	if st.Len() == 0 {
		return nil, &ImportError{Reason: "no patient records"}
	}
	for k := range st.Endpoints {
		if st.Endpoints[k].Time == nil {
			st.Endpoints[k].Time, st.Endpoints[k].Event = []float64{}, []bool{}
		}
	}
	for _, j := range order {
		v, err := typeColumn(vars[j], raw[j], lines, decl[j])
		if err != nil {
			return nil, err
		}
		st.Variables = append(st.Variables, v)
	}
	if err := checkPanels(st.Variables, lines); err != nil {
		return nil, err
	}
	return st, nil
}

// checkPanels refuses a row where some variables of a declared panel are missing and others
// are not (protocol.Variable.Panel): the overlap guard relies on it.
func checkPanels(vars []VariableData, lines []int) error {
	panels := map[string][]*VariableData{}
	var names []string
	for i := range vars {
		if p := vars[i].Panel; p != "" {
			if panels[p] == nil {
				names = append(names, p)
			}
			panels[p] = append(panels[p], &vars[i])
		}
	}
	for _, p := range names {
		vs := panels[p]
		for i := range lines {
			for _, v := range vs[1:] {
				if v.Missing(i) != vs[0].Missing(i) {
					lacking, having := vs[0], v
					if v.Missing(i) {
						lacking, having = v, vs[0]
					}
					return &ImportError{Line: lines[i], Column: lacking.Name, Reason: fmt.Sprintf("missing while %s is not: the variables of panel %q are missing together (declared in the dictionary)", having.Name, p)}
				}
			}
		}
	}
	return nil
}

// typeColumn makes a variable of raw values (lines: each row's source line) as its
// declaration says: categorical with the declared categories, numeric within the declared
// range, or, undeclared, numeric when every non-empty value is a finite number.
func typeColumn(name string, raw []string, lines []int, d *DictionaryEntry) (VariableData, error) {
	v := VariableData{Variable: protocol.Variable{Name: name}}
	if d != nil {
		v.Label, v.Unit, v.Panel = d.Label, d.Unit, d.Panel
	}
	if d != nil && d.Categories != nil {
		v.Type, v.Categories = protocol.Categorical, append([]string(nil), d.Categories...)
		levels := make(map[string]int32, len(d.Categories))
		for i, c := range d.Categories {
			levels[c] = int32(i)
		}
		v.Codes = make([]int32, len(raw))
		for i, s := range raw {
			if s == "" {
				v.Codes[i] = -1
				continue
			}
			c, ok := levels[s]
			if !ok {
				return VariableData{}, &ImportError{Line: lines[i], Column: name, Reason: fmt.Sprintf("value %q is not a declared category (declared: %s)", clip(s), clip(strings.Join(d.Categories, ", ")))}
			}
			v.Codes[i] = c
		}
		return v, nil
	}
	v.Type = protocol.Numeric
	if d != nil {
		v.Min, v.Max, v.Discrete = cloneFloat(d.Min), cloneFloat(d.Max), d.Discrete
	}
	v.Numeric = make([]float64, len(raw))
	for i, s := range raw {
		if s == "" {
			v.Numeric[i] = math.NaN()
			continue
		}
		x, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			if d == nil {
				return VariableData{}, &ImportError{Line: lines[i], Column: name, Reason: fmt.Sprintf("non-numeric value %q in a column without declared categories: declare them (oncofed-node import --categories %s=a,b,c, or \"categories\" in the dictionary)", clip(s), name)}
			}
			return VariableData{}, &ImportError{Line: lines[i], Column: name, Reason: fmt.Sprintf("value %q is not a number (declared numeric)", clip(s))}
		}
		if (v.Min != nil && x < *v.Min) || (v.Max != nil && x > *v.Max) {
			return VariableData{}, &ImportError{Line: lines[i], Column: name, Reason: fmt.Sprintf("value %v outside the declared range %s", x, rangeText(v.Min, v.Max))}
		}
		if v.Discrete && x != math.Trunc(x) {
			return VariableData{}, &ImportError{Line: lines[i], Column: name, Reason: fmt.Sprintf("value %v is not a whole number (declared discrete)", x)}
		}
		v.Numeric[i] = x
	}
	return v, nil
}

func cloneFloat(p *float64) *float64 {
	if p == nil {
		return nil
	}
	x := *p
	return &x
}

func rangeText(lo, hi *float64) string {
	l, h := "-∞", "+∞"
	if lo != nil {
		l = strconv.FormatFloat(*lo, 'g', -1, 64)
	}
	if hi != nil {
		h = strconv.FormatFloat(*hi, 'g', -1, 64)
	}
	return "[" + l + ", " + h + "]"
}

// checkName refuses names a query could not name.
func checkName(what, s string) error {
	if s == "" {
		return &ImportError{Reason: "empty " + what + " name"}
	}
	if len(s) > protocol.MaxNameLen {
		return &ImportError{Reason: fmt.Sprintf("%s name %.20q… longer than %d bytes", what, s, protocol.MaxNameLen)}
	}
	if !utf8.ValidString(s) {
		return &ImportError{Reason: fmt.Sprintf("%s name %q is not valid UTF-8", what, s)}
	}
	return nil
}
