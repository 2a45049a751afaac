package node

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
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
	// Dictionary optionally gives labels and units of variables and labels of endpoints, by
	// name. A name that is neither a variable nor an endpoint of the file is refused.
	Dictionary []DictionaryEntry
}

// DictionaryEntry is one line of a study's data dictionary.
type DictionaryEntry struct {
	Name  string
	Label string
	Unit  string
}

// ReadDictionary reads a data dictionary CSV with the header name,label,unit (label and unit
// may be empty).
func ReadDictionary(r io.Reader) ([]DictionaryEntry, error) {
	cr := csv.NewReader(r)
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, csvError(err)
	}
	if len(recs) == 0 || len(recs[0]) != 3 || recs[0][0] != "name" || recs[0][1] != "label" || recs[0][2] != "unit" {
		return nil, &ImportError{Line: 1, Reason: "dictionary header must be name,label,unit"}
	}
	var out []DictionaryEntry
	for k, r := range recs[1:] {
		e := DictionaryEntry{Name: strings.TrimSpace(r[0]), Label: strings.TrimSpace(r[1]), Unit: strings.TrimSpace(r[2])}
		if e.Name == "" || len(e.Label) > protocol.MaxNameLen || len(e.Unit) > protocol.MaxNameLen || !utf8.ValidString(e.Label+e.Unit) {
			return nil, &ImportError{Line: k + 2, Reason: "dictionary entry needs a name; label and unit at most 256 bytes of UTF-8"}
		}
		out = append(out, e)
	}
	return out, nil
}

// applyDictionary sets labels and units from the dictionary.
func applyDictionary(st *StudyData, dict []DictionaryEntry) error {
	for _, d := range dict {
		if v := st.Variable(d.Name); v != nil {
			v.Label, v.Unit = d.Label, d.Unit
			continue
		}
		if e := st.Endpoint(d.Name); e != nil {
			if d.Unit != "" && d.Unit != "days" {
				return &ImportError{Reason: fmt.Sprintf("dictionary: endpoint %q is in days, not %q", d.Name, d.Unit)}
			}
			e.Label = d.Label
			continue
		}
		return &ImportError{Reason: fmt.Sprintf("dictionary: %q is neither a variable nor an endpoint", d.Name)}
	}
	return nil
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
func Import(ctx context.Context, store Store, spec ImportSpec, src Source) (ImportReport, error) {
	cut := spec.DataCut
	if cut == "" {
		cut = time.Now().UTC().Format("2006-01-02")
	}
	st, err := BuildStudy(ctx, spec.Study, cut, src)
	if err != nil {
		return ImportReport{}, err
	}
	if err := applyDictionary(st, spec.Dictionary); err != nil {
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
	rep := ImportReport{Study: st.Name, DataCut: st.DataCut, Patients: st.Len(), Version: info.Version}
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

// BuildStudy reads every record of src into columns: it refuses duplicate or empty ids,
// types each variable (numeric when every non-empty value parses as a finite number) and
// sorts categories.
func BuildStudy(ctx context.Context, name, dataCut string, src Source) (*StudyData, error) {
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
	st := &StudyData{Name: name, DataCut: dataCut}
	raw := make([][]string, len(vars))
	st.Endpoints = make([]EndpointData, len(eps))
	for k, e := range eps {
		st.Endpoints[k].Name = e
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
	for j, name := range vars {
		st.Variables = append(st.Variables, typeColumn(name, raw[j]))
	}
	return st, nil
}

// typeColumn makes a variable of raw values: numeric when every non-empty value is a finite
// number, categorical otherwise.
func typeColumn(name string, raw []string) VariableData {
	num := make([]float64, len(raw))
	numeric := true
	for i, s := range raw {
		if s == "" {
			num[i] = math.NaN()
			continue
		}
		x, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			numeric = false
			break
		}
		num[i] = x
	}
	if numeric {
		return VariableData{Variable: protocol.Variable{Name: name, Type: protocol.Numeric}, Numeric: num}
	}
	levels := map[string]int32{}
	for _, s := range raw {
		if s != "" {
			levels[s] = 0
		}
	}
	cats := make([]string, 0, len(levels))
	for s := range levels {
		cats = append(cats, s)
	}
	sort.Strings(cats)
	for i, s := range cats {
		levels[s] = int32(i)
	}
	codes := make([]int32, len(raw))
	for i, s := range raw {
		if s == "" {
			codes[i] = -1
		} else {
			codes[i] = levels[s]
		}
	}
	return VariableData{Variable: protocol.Variable{Name: name, Type: protocol.Categorical, Categories: cats}, Codes: codes}
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
