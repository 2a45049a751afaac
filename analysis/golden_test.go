package analysis

// Shared helpers for tests that compare with golden files written by R (testdata/*.R with
// jsonlite::toJSON(..., digits = NA, auto_unbox = TRUE, na = "null")). Keep them generic: the
// Kaplan–Meier, log-rank, Cox and summary tests all read goldens through them.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"

	"github.com/oncofed/oncofed/internal/lungtest"
)

// Tolerances of the project's correctness bar (issue 3): relative error on estimates and on
// p-values. The absolute parts only admit exact zeros and values printed as 0 by R.
const (
	goldenRelEst = 1e-9
	goldenAbsEst = 1e-12
	goldenRelP   = 1e-6
	goldenAbsP   = 1e-15
)

// loadGolden decodes testdata/name into v, failing the test if it cannot.
func loadGolden(tb testing.TB, name string, v any) {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatalf("golden %s: %v (regenerate with the R script next to it)", name, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		tb.Fatalf("golden %s: %v", name, err)
	}
}

// goldenFloats is an R numeric vector as jsonlite writes it: an array, or a bare number for a
// vector of length 1 (auto_unbox), with null for NA, NaN and ±Inf. null decodes to NaN.
type goldenFloats []float64

// UnmarshalJSON accepts null, a number, or an array of numbers and nulls.
func (g *goldenFloats) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] != '[' {
		b = append(append([]byte{'['}, b...), ']')
	}
	return json.Unmarshal(b, (*lungtest.Floats)(g)) // null as NaN, as in the lung goldens
}

// Ints returns the values as ints (counts), panicking on a non-integer: a malformed golden.
func (g goldenFloats) Ints() []int {
	out := make([]int, len(g))
	for i, v := range g {
		if v != math.Trunc(v) {
			panic(fmt.Sprintf("golden value %v is not an integer", v))
		}
		out[i] = int(v)
	}
	return out
}

// goldenFloat is an R numeric scalar: a number, or null (NA, NaN, ±Inf) decoded as NaN.
type goldenFloat float64

// UnmarshalJSON accepts null or a number.
func (g *goldenFloat) UnmarshalJSON(b []byte) error {
	var p *float64
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*g = goldenFloat(math.NaN())
	if p != nil {
		*g = goldenFloat(*p)
	}
	return nil
}

// goldenStrings is an R character vector: an array, or a bare string for length 1; NA (null)
// decodes to "".
type goldenStrings []string

// UnmarshalJSON accepts null, a string, or an array of strings and nulls.
func (g *goldenStrings) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] != '[' {
		b = append(append([]byte{'['}, b...), ']')
	}
	var raw []*string
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make(goldenStrings, len(raw))
	for i, p := range raw {
		if p != nil {
			out[i] = *p
		}
	}
	*g = out
	return nil
}

// goldenEqual reports whether got agrees with R's want within the tolerances; NaN (R's NA)
// agrees only with NaN.
func goldenEqual(got, want, abs, rel float64) bool {
	if math.IsNaN(want) || math.IsNaN(got) {
		return math.IsNaN(want) && math.IsNaN(got)
	}
	if math.IsInf(want, 0) || math.IsInf(got, 0) {
		return got == want
	}
	return scalar.EqualWithinAbsOrRel(got, want, abs, rel)
}

// checkGoldenFloats compares a vector element by element with goldenEqual at the estimate
// tolerance, reporting the first few differences under the name what.
func checkGoldenFloats(tb testing.TB, what string, got []float64, want []float64) {
	tb.Helper()
	checkGoldenFloatsTol(tb, what, got, want, goldenAbsEst, goldenRelEst)
}

// checkGoldenFloatsTol is checkGoldenFloats with explicit tolerances.
func checkGoldenFloatsTol(tb testing.TB, what string, got, want []float64, abs, rel float64) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Errorf("%s: %d values, R has %d", what, len(got), len(want))
		return
	}
	bad := 0
	for i := range got {
		if !goldenEqual(got[i], want[i], abs, rel) {
			if bad < 5 {
				tb.Errorf("%s[%d] = %.17g, R: %.17g", what, i, got[i], want[i])
			}
			bad++
		}
	}
	if bad > 5 {
		tb.Errorf("%s: %d values differ from R in all", what, bad)
	}
}

// checkGoldenInts compares counts exactly.
func checkGoldenInts(tb testing.TB, what string, got []int, want []int) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Errorf("%s: %d values, R has %d", what, len(got), len(want))
		return
	}
	for i := range got {
		if got[i] != want[i] {
			tb.Errorf("%s[%d] = %d, R: %d", what, i, got[i], want[i])
			return
		}
	}
}

// goldenDataset is a patient-level data set as the golden scripts write it: columns by name,
// time and event numeric, site and grouping columns character.
type goldenDataset struct {
	Time  []float64
	Event []bool
	Site  []string
	Cols  map[string][]string // other character columns; "" is NA
}

// UnmarshalJSON reads an object of columns.
func (d *goldenDataset) UnmarshalJSON(b []byte) error {
	var cols map[string]json.RawMessage
	if err := json.Unmarshal(b, &cols); err != nil {
		return err
	}
	var time, event goldenFloats
	if err := json.Unmarshal(cols["time"], &time); err != nil {
		return fmt.Errorf("time: %w", err)
	}
	if err := json.Unmarshal(cols["event"], &event); err != nil {
		return fmt.Errorf("event: %w", err)
	}
	var site goldenStrings
	if err := json.Unmarshal(cols["site"], &site); err != nil {
		return fmt.Errorf("site: %w", err)
	}
	if len(event) != len(time) || len(site) != len(time) {
		return fmt.Errorf("columns differ in length")
	}
	d.Time = time
	d.Site = site
	d.Event = make([]bool, len(event))
	for i, e := range event {
		d.Event[i] = e == 1
	}
	d.Cols = map[string][]string{}
	for name, raw := range cols {
		if name == "time" || name == "event" || name == "site" {
			continue
		}
		var s goldenStrings
		if err := json.Unmarshal(raw, &s); err != nil {
			continue // not a character column
		}
		if len(s) != len(time) {
			return fmt.Errorf("column %s has %d values, time has %d", name, len(s), len(time))
		}
		d.Cols[name] = s
	}
	return nil
}

// siteTables returns, for the records whose column col equals level (all records when col is
// ""), one SurvivalTable per site, built with NewSurvivalTable as a site node would and
// coarsened to bins of w days (0: exact), in order of first appearance of the site.
func (d *goldenDataset) siteTables(tb testing.TB, col, level string, w float64) (sites []string, tables []SurvivalTable) {
	tb.Helper()
	type recs struct {
		time  []float64
		event []bool
	}
	by := map[string]*recs{}
	for i := range d.Time {
		if col != "" && d.Cols[col][i] != level {
			continue
		}
		s := d.Site[i]
		if by[s] == nil {
			by[s] = &recs{}
			sites = append(sites, s)
		}
		by[s].time = append(by[s].time, d.Time[i])
		by[s].event = append(by[s].event, d.Event[i])
	}
	for _, s := range sites {
		t, err := NewSurvivalTable(by[s].time, by[s].event)
		if err != nil {
			tb.Fatalf("site %s: %v", s, err)
		}
		tables = append(tables, t.Coarsen(w))
	}
	return sites, tables
}

// pooledTable merges the site tables of siteTables: what the client computes on.
func (d *goldenDataset) pooledTable(tb testing.TB, col, level string, w float64) SurvivalTable {
	tb.Helper()
	_, tables := d.siteTables(tb, col, level, w)
	return MergeTables(tables...)
}
