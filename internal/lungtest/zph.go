package lungtest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// ZPHTable is R's cox.zph(fit, transform)$table: a row per term and GLOBAL.
type ZPHTable struct {
	Transform string    `json:"transform"`
	Terms     []string  `json:"terms"`
	ChiSq     []float64 `json:"chisq"`
	DF        []int     `json:"df"`
	P         []float64 `json:"p"`
}

// ZPHCase is one case of analysis/testdata/zph_goldens.json (zph_goldens.R): a Cox model's
// patient-level data (site, time, event and its design matrix X as coxph builds it, columns
// Columns), the terms (TermColumns[k] the 0-based columns of TermNames[k]), R's β̂ and its
// cox.zph tables for km, identity and rank. Strata: stratified by site.
type ZPHCase struct {
	Name        string      `json:"name"`
	Strata      bool        `json:"strata"`
	Ties        string      `json:"ties"`
	Columns     []string    `json:"columns"`
	TermNames   []string    `json:"term_names"`
	TermColumns [][]int     `json:"-"`
	Site        []string    `json:"site"`
	Time        []float64   `json:"time"`
	Event       []int       `json:"event"`
	X           [][]float64 `json:"x"`
	Coef        []float64   `json:"coef"`
	ZPH         []ZPHTable  `json:"zph"`
}

// ReadZPH returns every case of zph_goldens.json.
func ReadZPH(tb testing.TB) []ZPHCase {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(filepath.Dir(Path()), "zph_goldens.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var raw []struct {
		ZPHCase
		TermColumns []json.RawMessage `json:"term_columns"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		tb.Fatal(err)
	}
	out := make([]ZPHCase, len(raw))
	for i, r := range raw {
		out[i] = r.ZPHCase
		for _, col := range r.TermColumns { // jsonlite writes a one-column term as a number
			var cols []int
			if err := json.Unmarshal(col, &cols); err != nil {
				var one int
				if err := json.Unmarshal(col, &one); err != nil {
					tb.Fatalf("zph_goldens.json: %s: term columns %s", r.Name, col)
				}
				cols = []int{one}
			}
			out[i].TermColumns = append(out[i].TermColumns, cols)
		}
	}
	return out
}

// ReadZPHCase returns the case of zph_goldens.json named name.
func ReadZPHCase(tb testing.TB, name string) ZPHCase {
	tb.Helper()
	for _, c := range ReadZPH(tb) {
		if c.Name == name {
			return c
		}
	}
	tb.Fatalf("zph_goldens.json has no case %s", name)
	return ZPHCase{}
}
