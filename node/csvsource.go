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
