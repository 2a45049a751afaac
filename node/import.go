package node

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
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
}

// Dictionary is a study's declared data dictionary, the same at every site of the study: the
// catalog publishes it whatever the site's rows hold, so that it says nothing about them. A
// category absent at a site is an empty set there, answered like any small one.
type Dictionary struct {
	// Study, when set (a dictionary file's "study"), must be the study imported.
	Study string
	// Version is the study's declared version. A re-import may change the dictionary only
	// under another version (Store.ReplaceStudy refuses otherwise).
	Version string
	Entries []DictionaryEntry
}

// DictionaryEntry declares one variable or endpoint.
type DictionaryEntry struct {
	Name string
	// Endpoint marks an endpoint's entry (label only; its unit is days). An entry of the old
	// name,label,unit CSV format is neither marked nor typed: it applies to the variable or
	// the endpoint of that name.
	Endpoint bool
	// Type is categorical, numeric, or empty: categorical when Categories are given, numeric
	// when a range is, else as the values say (a column with a non-numeric value and no
	// declared categories is refused).
	Type  protocol.VariableType
	Label string
	Unit  string
	// Categories are the declared levels in the study's order (stage I < II < III < IV): the
	// catalog, groups and the reference level of a Cox model keep this order.
	Categories []string
	// Min and Max are a numeric variable's declared range; a value outside it is refused.
	Min, Max *float64
}

// maxDeclaredCategories bounds the categories a variable may declare.
const maxDeclaredCategories = 1000

// ReadDictionary reads a data dictionary: JSON (the declared form, below) or, for files made
// before categories were declared, a CSV with the header name,label,unit (labels and units
// only; categorical columns then need --categories). The JSON form:
//
//	{"study": "lung", "version": "2026-1",
//	 "variables": [
//	   {"name": "sex", "type": "categorical", "label": "Sex", "categories": ["female", "male"]},
//	   {"name": "age", "type": "numeric", "label": "Age", "unit": "years", "min": 18, "max": 100}],
//	 "endpoints": [{"name": "OS", "label": "Overall survival"}]}
//
// Unknown fields are refused, so a misspelt "categores" is not silently ignored.
func ReadDictionary(r io.Reader) (Dictionary, error) {
	br := bufio.NewReader(r)
	for {
		b, err := br.Peek(1)
		if err != nil {
			return Dictionary{}, &ImportError{Line: 1, Reason: "empty dictionary"}
		}
		if b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n' {
			br.ReadByte()
			continue
		}
		if b[0] == '{' {
			return readJSONDictionary(br)
		}
		break
	}
	cr := csv.NewReader(br)
	recs, err := cr.ReadAll()
	if err != nil {
		return Dictionary{}, csvError(err)
	}
	if len(recs) == 0 || len(recs[0]) != 3 || strings.TrimPrefix(recs[0][0], "\ufeff") != "name" || recs[0][1] != "label" || recs[0][2] != "unit" {
		return Dictionary{}, &ImportError{Line: 1, Reason: `dictionary must be JSON ({"version": …, "variables": […]}) or a CSV with the header name,label,unit`}
	}
	var d Dictionary
	for k, r := range recs[1:] {
		e := DictionaryEntry{Name: strings.TrimSpace(r[0]), Label: strings.TrimSpace(r[1]), Unit: strings.TrimSpace(r[2])}
		if err := checkEntry(e); err != nil {
			err.Line = k + 2
			return Dictionary{}, err
		}
		d.Entries = append(d.Entries, e)
	}
	if err := d.check(); err != nil {
		return Dictionary{}, err
	}
	return d, nil
}

func readJSONDictionary(r io.Reader) (Dictionary, error) {
	var f struct {
		Study     string `json:"study"`
		Version   string `json:"version"`
		Variables []struct {
			Name       string                `json:"name"`
			Type       protocol.VariableType `json:"type"`
			Label      string                `json:"label"`
			Unit       string                `json:"unit"`
			Categories []string              `json:"categories"`
			Min        *float64              `json:"min"`
			Max        *float64              `json:"max"`
		} `json:"variables"`
		Endpoints []struct {
			Name  string `json:"name"`
			Label string `json:"label"`
			Unit  string `json:"unit"`
		} `json:"endpoints"`
	}
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return Dictionary{}, &ImportError{Reason: "dictionary: " + err.Error()}
	}
	if dec.More() {
		return Dictionary{}, &ImportError{Reason: "dictionary: trailing data after the JSON object"}
	}
	d := Dictionary{Study: f.Study, Version: f.Version}
	for _, v := range f.Variables {
		d.Entries = append(d.Entries, DictionaryEntry{Name: v.Name, Type: v.Type, Label: v.Label, Unit: v.Unit, Categories: v.Categories, Min: v.Min, Max: v.Max})
	}
	for _, e := range f.Endpoints {
		d.Entries = append(d.Entries, DictionaryEntry{Name: e.Name, Endpoint: true, Label: e.Label, Unit: e.Unit})
	}
	if err := d.check(); err != nil {
		return Dictionary{}, err
	}
	return d, nil
}

// ParseCategories parses VAR=a,b,c (as given to --categories): a categorical variable and its
// categories in the study's order.
func ParseCategories(s string) (name string, categories []string, err error) {
	name, list, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.TrimSpace(list) == "" {
		return "", nil, &ImportError{Reason: fmt.Sprintf("categories %q: want VAR=a,b,c", s)}
	}
	for _, c := range strings.Split(list, ",") {
		categories = append(categories, strings.TrimSpace(c))
	}
	return name, categories, nil
}

// AddCategories declares the categories of variable name (--categories): on the variable's
// entry when the dictionary has one without categories, else as a new entry. Declaring a
// variable's categories twice, or categories of a numeric variable, is refused.
func (d *Dictionary) AddCategories(name string, categories []string) error {
	for i := range d.Entries {
		e := &d.Entries[i]
		if e.Name != name || e.Endpoint {
			continue
		}
		if e.Categories != nil || e.Type == protocol.Numeric || e.Min != nil || e.Max != nil {
			return &ImportError{Column: name, Reason: "categories declared twice (the dictionary already declares this variable's type or categories)"}
		}
		e.Type, e.Categories = protocol.Categorical, categories
		return checkEntryErr(*e)
	}
	e := DictionaryEntry{Name: name, Type: protocol.Categorical, Categories: categories}
	if err := checkEntryErr(e); err != nil {
		return err
	}
	d.Entries = append(d.Entries, e)
	return nil
}

func checkEntryErr(e DictionaryEntry) error {
	if err := checkEntry(e); err != nil {
		return err
	}
	return nil
}

// check refuses a malformed dictionary: bad names, types, categories or ranges, an entry given
// twice.
func (d *Dictionary) check() error {
	if len(d.Version) > protocol.MaxNameLen || !utf8.ValidString(d.Version) {
		return &ImportError{Reason: "dictionary: version longer than 256 bytes or not UTF-8"}
	}
	seen := map[string]bool{}
	for _, e := range d.Entries {
		if err := checkEntry(e); err != nil {
			return err
		}
		if seen[e.Name] {
			return &ImportError{Column: e.Name, Reason: "dictionary: declared twice"}
		}
		seen[e.Name] = true
	}
	return nil
}

// checkEntry refuses a malformed entry.
func checkEntry(e DictionaryEntry) *ImportError {
	bad := func(f string, a ...any) *ImportError {
		return &ImportError{Column: e.Name, Reason: "dictionary: " + fmt.Sprintf(f, a...)}
	}
	if e.Name == "" {
		return &ImportError{Reason: "dictionary entry without a name"}
	}
	if err := checkName("variable", e.Name); err != nil {
		return err.(*ImportError)
	}
	if len(e.Label) > protocol.MaxNameLen || len(e.Unit) > protocol.MaxNameLen || !utf8.ValidString(e.Label+e.Unit) {
		return bad("label and unit at most 256 bytes of UTF-8")
	}
	if e.Endpoint {
		if e.Unit != "" && e.Unit != "days" {
			return bad("an endpoint is in days, not %q", e.Unit)
		}
		return nil
	}
	switch e.Type {
	case "", protocol.Categorical, protocol.Numeric:
	default:
		return bad("type %q: want categorical or numeric", e.Type)
	}
	ranged := e.Min != nil || e.Max != nil
	if e.Categories != nil {
		if e.Type == protocol.Numeric || ranged {
			return bad("categories given to a numeric variable")
		}
		if len(e.Categories) == 0 || len(e.Categories) > maxDeclaredCategories {
			return bad("1 to %d categories needed", maxDeclaredCategories)
		}
		dup := map[string]bool{}
		for _, c := range e.Categories {
			if c == "" || c != strings.TrimSpace(c) || len(c) > protocol.MaxNameLen || !utf8.ValidString(c) {
				return bad("category %q: empty, padded with spaces, longer than 256 bytes or not UTF-8", c)
			}
			if dup[c] {
				return bad("category %q declared twice", c)
			}
			dup[c] = true
		}
	} else if e.Type == protocol.Categorical {
		return bad("a categorical variable needs its declared categories")
	}
	for _, b := range []*float64{e.Min, e.Max} {
		if b != nil && (math.IsNaN(*b) || math.IsInf(*b, 0)) {
			return bad("range bound is not finite")
		}
	}
	if e.Min != nil && e.Max != nil && *e.Min > *e.Max {
		return bad("range min %v above max %v", *e.Min, *e.Max)
	}
	return nil
}

// declaration is what the dictionary says of one CSV variable (nil entry: undeclared).
type declaration struct {
	entry *DictionaryEntry
	label string
	unit  string
}

// resolveDictionary matches the dictionary's entries to the source's variables and endpoints:
// per variable its entry (nil when undeclared), per endpoint its label, and the declared
// variables' order. An entry naming neither a variable nor an endpoint is refused: a
// dictionary is the study's, and a site's file lacking a declared column is an error (an
// empty column says the site does not collect it).
func resolveDictionary(d Dictionary, vars, eps []string) (decl []*DictionaryEntry, epLabels []string, order []int, err error) {
	vi := map[string]int{}
	for j, v := range vars {
		vi[v] = j
	}
	ei := map[string]int{}
	for k, e := range eps {
		ei[e] = k
	}
	decl = make([]*DictionaryEntry, len(vars))
	epLabels = make([]string, len(eps))
	for i := range d.Entries {
		e := &d.Entries[i]
		j, isVar := vi[e.Name]
		k, isEp := ei[e.Name]
		switch {
		case isVar && !e.Endpoint:
			if decl[j] != nil {
				return nil, nil, nil, &ImportError{Column: e.Name, Reason: "dictionary: declared twice"}
			}
			decl[j] = e
			order = append(order, j)
		case isEp && (e.Endpoint || (e.Type == "" && e.Categories == nil && e.Min == nil && e.Max == nil)):
			if e.Unit != "" && e.Unit != "days" {
				return nil, nil, nil, &ImportError{Reason: fmt.Sprintf("dictionary: endpoint %q is in days, not %q", e.Name, e.Unit)}
			}
			epLabels[k] = e.Label
		case e.Endpoint:
			return nil, nil, nil, &ImportError{Reason: fmt.Sprintf("dictionary: endpoint %q is not an endpoint of the import (--endpoint)", e.Name)}
		default:
			return nil, nil, nil, &ImportError{Line: 1, Column: e.Name, Reason: "declared in the dictionary but not a variable of the file (a site that does not collect it gives an empty column)"}
		}
	}
	declared := map[int]bool{}
	for _, j := range order {
		declared[j] = true
	}
	for j := range vars {
		if !declared[j] {
			order = append(order, j)
		}
	}
	return decl, epLabels, order, nil
}

// EndpointReport summarises one imported endpoint.
type EndpointReport struct {
	Name     string
	Events   int
	Censored int
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
		StudyVersion: st.StudyVersion, DictionaryHash: st.DictionaryHash()}
	for _, v := range st.Variables {
		rep.Variables = append(rep.Variables, v.Variable)
	}
	for _, e := range st.Endpoints {
		er := EndpointReport{Name: e.Name}
		for _, ev := range e.Event {
			if ev {
				er.Events++
			} else {
				er.Censored++
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
	decl, epLabels, order, err := resolveDictionary(dict, vars, eps)
	if err != nil {
		return nil, err
	}
	st := &StudyData{Name: name, DataCut: dataCut, StudyVersion: dict.Version}
	raw := make([][]string, len(vars))
	var lines []int
	st.Endpoints = make([]EndpointData, len(eps))
	for k, e := range eps {
		st.Endpoints[k].Name, st.Endpoints[k].Label = e, epLabels[k]
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
			st.Endpoints[k].Time = append(st.Endpoints[k].Time, rec.Times[k])
			st.Endpoints[k].Event = append(st.Endpoints[k].Event, rec.Events[k])
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
	return st, nil
}

// typeColumn makes a variable of raw values (lines: each row's source line) as its
// declaration says: categorical with the declared categories, numeric within the declared
// range, or, undeclared, numeric when every non-empty value is a finite number.
func typeColumn(name string, raw []string, lines []int, d *DictionaryEntry) (VariableData, error) {
	v := VariableData{Variable: protocol.Variable{Name: name}}
	if d != nil {
		v.Label, v.Unit = d.Label, d.Unit
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
		v.Min, v.Max = cloneFloat(d.Min), cloneFloat(d.Max)
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

// CSVSource reads patient records from a CSV file with a header line.
type CSVSource struct {
	r        *csv.Reader
	header   []string
	idCol    int
	varCols  []int
	timeCols []int
	evCols   []int
	vars     []string
	eps      []string
}

// NewCSVSource reads the header and maps the id, endpoint and variable columns. A missing or
// duplicated column is refused.
func NewCSVSource(r io.Reader, idColumn string, endpoints []EndpointSpec) (*CSVSource, error) {
	if idColumn == "" {
		return nil, &ImportError{Reason: "no id column given"}
	}
	if len(endpoints) == 0 {
		return nil, &ImportError{Reason: "no endpoint given (NAME=TIMECOL:EVENTCOL)"}
	}
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &ImportError{Line: 1, Reason: "empty file: no header line"}
	}
	if err != nil {
		return nil, csvError(err)
	}
	header = append([]string(nil), header...)
	index := map[string]int{}
	for j, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		header[j] = h
		if h == "" {
			return nil, &ImportError{Line: 1, Reason: fmt.Sprintf("column %d has no name", j+1)}
		}
		if _, dup := index[h]; dup {
			return nil, &ImportError{Line: 1, Column: h, Reason: "duplicate column name"}
		}
		index[h] = j
	}
	s := &CSVSource{r: cr, header: header}
	used := map[int]string{}
	col := func(name, role string) (int, error) {
		j, ok := index[name]
		if !ok {
			return 0, &ImportError{Line: 1, Column: name, Reason: "missing column (" + role + ")"}
		}
		if other, taken := used[j]; taken {
			return 0, &ImportError{Line: 1, Column: name, Reason: "used both as " + other + " and as " + role}
		}
		used[j] = role
		return j, nil
	}
	if s.idCol, err = col(idColumn, "id"); err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, e := range endpoints {
		if names[e.Name] {
			return nil, &ImportError{Reason: fmt.Sprintf("endpoint %q given twice", e.Name)}
		}
		names[e.Name] = true
		tj, err := col(e.TimeColumn, "time of "+e.Name)
		if err != nil {
			return nil, err
		}
		ej, err := col(e.EventColumn, "event of "+e.Name)
		if err != nil {
			return nil, err
		}
		s.timeCols = append(s.timeCols, tj)
		s.evCols = append(s.evCols, ej)
		s.eps = append(s.eps, e.Name)
	}
	for j, h := range header {
		if _, taken := used[j]; !taken {
			s.varCols = append(s.varCols, j)
			s.vars = append(s.vars, h)
		}
	}
	return s, nil
}

// Variables implements Source.
func (s *CSVSource) Variables() []string { return s.vars }

// Endpoints implements Source.
func (s *CSVSource) Endpoints() []string { return s.eps }

// Next implements Source.
func (s *CSVSource) Next() (Record, error) {
	fields, err := s.r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return Record{}, io.EOF
		}
		return Record{}, csvError(err)
	}
	line, _ := s.r.FieldPos(0)
	rec := Record{Line: line, ID: strings.TrimSpace(fields[s.idCol])}
	rec.Values = make([]string, len(s.varCols))
	for k, j := range s.varCols {
		rec.Values[k] = strings.TrimSpace(fields[j])
	}
	rec.Times = make([]float64, len(s.eps))
	rec.Events = make([]bool, len(s.eps))
	for k := range s.eps {
		tcol, ecol := s.header[s.timeCols[k]], s.header[s.evCols[k]]
		ts := strings.TrimSpace(fields[s.timeCols[k]])
		t, err := strconv.ParseFloat(ts, 64)
		switch {
		case ts == "":
			return Record{}, &ImportError{Line: line, Column: tcol, Reason: "missing time"}
		case err != nil || math.IsNaN(t) || math.IsInf(t, 0):
			return Record{}, &ImportError{Line: line, Column: tcol, Reason: fmt.Sprintf("time %q is not a number", ts)}
		case t < 0:
			return Record{}, &ImportError{Line: line, Column: tcol, Reason: fmt.Sprintf("negative time %v", t)}
		}
		rec.Times[k] = t
		ev, ok := parseEvent(strings.TrimSpace(fields[s.evCols[k]]))
		if !ok {
			return Record{}, &ImportError{Line: line, Column: ecol, Reason: fmt.Sprintf("event flag %q is not 0/1 (or true/false)", fields[s.evCols[k]])}
		}
		rec.Events[k] = ev
	}
	return rec, nil
}

func parseEvent(s string) (event, ok bool) {
	switch strings.ToLower(s) {
	case "1", "true":
		return true, true
	case "0", "false":
		return false, true
	}
	return false, false
}

// csvError turns the csv package's errors (wrong field count, bad quoting) into an ImportError
// with the line.
func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &ImportError{Line: pe.Line, Reason: pe.Err.Error()}
	}
	return err
}
