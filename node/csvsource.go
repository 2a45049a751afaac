package node

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

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
	extras   []EndpointExtras
	entCols  []int // per endpoint, the entry column or -1
	used     map[int]string
	index    map[string]int
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
		s.entCols = append(s.entCols, -1)
		s.eps = append(s.eps, e.Name)
		s.extras = append(s.extras, EndpointExtras{})
	}
	s.used, s.index = used, index
	s.mapVariables()
	return s, nil
}

// mapVariables makes every column not used otherwise a variable.
func (s *CSVSource) mapVariables() {
	s.varCols, s.vars = nil, nil
	for j, h := range s.header {
		if _, taken := s.used[j]; !taken {
			s.varCols = append(s.varCols, j)
			s.vars = append(s.vars, h)
		}
	}
}

// Declare gives endpoints competing causes (labels by endpoint name) and entry columns
// (column by endpoint name), before the first Next. An unknown endpoint or a missing or
// already used entry column is refused.
func (s *CSVSource) Declare(causes map[string][]string, entry map[string]string) error {
	find := func(name, what string) (int, error) {
		for k, e := range s.eps {
			if e == name {
				return k, nil
			}
		}
		return 0, &ImportError{Reason: fmt.Sprintf("%s given for %q, which is not an endpoint (--endpoint)", what, name)}
	}
	for name, labels := range causes {
		k, err := find(name, "causes")
		if err != nil {
			return err
		}
		s.extras[k].Causes = labels
	}
	for name, column := range entry {
		k, err := find(name, "entry")
		if err != nil {
			return err
		}
		j, ok := s.index[column]
		if !ok {
			return &ImportError{Line: 1, Column: column, Reason: "missing column (entry of " + name + ")"}
		}
		if other, taken := s.used[j]; taken {
			return &ImportError{Line: 1, Column: column, Reason: "used both as " + other + " and as entry of " + name}
		}
		s.used[j] = "entry of " + name
		s.entCols[k] = j
		s.extras[k].EntryColumn = column
	}
	s.mapVariables()
	return nil
}

// Variables implements Source.
func (s *CSVSource) Variables() []string { return s.vars }

// Endpoints implements Source.
func (s *CSVSource) Endpoints() []string { return s.eps }

// EndpointExtras implements ExtrasSource.
func (s *CSVSource) EndpointExtras() []EndpointExtras { return s.extras }

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
		if err := s.readStatus(&rec, k, fields[s.evCols[k]], line, ecol); err != nil {
			return Record{}, err
		}
		if err := s.readEntry(&rec, k, fields, line, t); err != nil {
			return Record{}, err
		}
	}
	return rec, nil
}

// readStatus reads endpoint k's event column: 0/1 (or true/false), or for an endpoint with
// competing causes 0 (censored) or a cause code 1..k.
func (s *CSVSource) readStatus(rec *Record, k int, field string, line int, col string) error {
	causes := s.extras[k].Causes
	if len(causes) == 0 {
		ev, ok := parseEvent(strings.TrimSpace(field))
		if !ok {
			return &ImportError{Line: line, Column: col, Reason: fmt.Sprintf("event flag %q is not 0/1 (or true/false)", field)}
		}
		rec.Events[k] = ev
		return nil
	}
	c, err := strconv.Atoi(strings.TrimSpace(field))
	if err != nil || c < 0 || c > len(causes) {
		return &ImportError{Line: line, Column: col, Reason: fmt.Sprintf("status %q is not 0 (censored) or a declared cause 1..%d", field, len(causes))}
	}
	if rec.Causes == nil {
		rec.Causes = make([]int, len(s.eps))
	}
	rec.Causes[k], rec.Events[k] = c, c > 0
	return nil
}

// readEntry reads endpoint k's entry time, if it has an entry column: a number ≥ 0, and
// before the exit time when positive (a patient must be under observation for some time).
func (s *CSVSource) readEntry(rec *Record, k int, fields []string, line int, exit float64) error {
	j := s.entCols[k]
	if j < 0 {
		return nil
	}
	col := s.header[j]
	es := strings.TrimSpace(fields[j])
	e, err := strconv.ParseFloat(es, 64)
	switch {
	case es == "":
		return &ImportError{Line: line, Column: col, Reason: "missing entry time (0 for a patient observed from the start)"}
	case err != nil || math.IsNaN(e) || math.IsInf(e, 0):
		return &ImportError{Line: line, Column: col, Reason: fmt.Sprintf("entry time %q is not a number", es)}
	case e < 0:
		return &ImportError{Line: line, Column: col, Reason: fmt.Sprintf("negative entry time %v", e)}
	case e > 0 && e >= exit:
		return &ImportError{Line: line, Column: col, Reason: fmt.Sprintf("entry time %v is not before the exit time %v of %s", e, exit, s.eps[k])}
	}
	if rec.Entries == nil {
		rec.Entries = make([]float64, len(s.eps))
	}
	rec.Entries[k] = e
	return nil
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
