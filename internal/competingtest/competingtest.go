// Package competingtest gives tests outside analysis R's competing-risks results of
// analysis/testdata/competing_goldens.json (written by analysis/testdata/competing_goldens.R:
// survival's survfit and coxph and cmprsk's cuminc and crr on survival::mgus2, lung and a toy
// data set), decoded with one schema everywhere.
//
// It is test support only: it imports testing and fails the calling test on any error.
// analysis reads the same file with its own, NA-aware schema (analysis/competing_test.go).
package competingtest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Goldens is competing_goldens.json: its data sets and R's results on them, by section.
type Goldens struct {
	Datasets map[string]Dataset `json:"datasets"`
	CIF      []CIFCase          `json:"cif"`
	Gray     []GrayCase         `json:"gray"`
	Entry    []EntryCase        `json:"entry"`
	Cox      []ModelCase        `json:"cox"`
	CRR      []CRRCase          `json:"crr"`
}

// Dataset is one data set, patient by patient: Status is 0 for a censoring, else the cause
// (1, 2); Entry is the delayed entry (0 without); X1 and X2 are its covariates.
type Dataset struct {
	Time   []float64 `json:"time"`
	Status []int     `json:"status"`
	Entry  []float64 `json:"entry"`
	Site   []string  `json:"site"`
	Group  []string  `json:"group"`
	X1     []float64 `json:"x1"`
	X2     []float64 `json:"x2"`
}

// CIFCase is survfit(Surv(time, factor(status)) ~ group)'s cumulative incidence of each cause
// and its standard error, by group, at the distinct times.
type CIFCase struct {
	Name    string     `json:"name"`
	Dataset string     `json:"dataset"`
	Groups  []CIFGroup `json:"groups"`
}

// CIFGroup is one group of a CIFCase; CIF[c] and StdErr[c] are cause c+1's.
type CIFGroup struct {
	Group  string       `json:"group"`
	Time   []float64    `json:"time"`
	CIF    [2][]float64 `json:"cif"`
	StdErr [2][]float64 `json:"std_err"`
}

// GrayCase is cmprsk::cuminc's Gray test of each cause.
type GrayCase struct {
	Name    string `json:"name"`
	Dataset string `json:"dataset"`
	Tests   []struct {
		Cause int     `json:"cause"`
		Stat  float64 `json:"stat"`
		P     float64 `json:"p"`
	} `json:"tests"`
}

// EntryCase is survfit and survdiff with delayed entry (Surv(entry, time, status)), times
// binned by Bin days (0: exact).
type EntryCase struct {
	Name    string `json:"name"`
	Dataset string `json:"dataset"`
	Groups  []struct {
		Group string    `json:"group"`
		Time  []float64 `json:"time"`
		NRisk []int     `json:"n_risk"`
		Surv  []float64 `json:"surv"`
	} `json:"groups"`
	LogRank struct {
		ChiSq float64 `json:"chisq"`
	} `json:"logrank"`
}

// ModelCase is a coxph fit with delayed entry: its coefficients and standard errors.
type ModelCase struct {
	Name    string    `json:"name"`
	Dataset string    `json:"dataset"`
	Coef    []float64 `json:"coef"`
	SE      []float64 `json:"se"`
}

// CRRCase is cmprsk::crr's Fine–Gray fit of cause Failcode (crr(time, status, cbind(x…),
// failcode, gtol = 1e-12)): coefficients and sandwich standard errors.
type CRRCase struct {
	Name     string    `json:"name"`
	Dataset  string    `json:"dataset"`
	Failcode int       `json:"failcode"`
	Coef     []float64 `json:"coef"`
	SE       []float64 `json:"se"`
}

// Path returns the path of analysis/testdata/competing_goldens.json, found from this source
// file so that it works from any package's test directory.
func Path() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("competingtest: cannot locate the source file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "analysis", "testdata", "competing_goldens.json")
}

// Load reads the goldens.
func Load(tb testing.TB) *Goldens {
	tb.Helper()
	b, err := os.ReadFile(Path())
	if err != nil {
		tb.Fatal(err)
	}
	var g Goldens
	if err := json.Unmarshal(b, &g); err != nil {
		tb.Fatalf("%s: %v", Path(), err)
	}
	return &g
}

// Dataset returns the data set name, failing the test when there is none.
func (g *Goldens) Dataset(tb testing.TB, name string) Dataset {
	tb.Helper()
	d, ok := g.Datasets[name]
	if !ok {
		tb.Fatalf("competing goldens: no data set %q", name)
	}
	return d
}

// CIFCase returns the cumulative incidence case name, failing the test when there is none.
func (g *Goldens) CIFCase(tb testing.TB, name string) CIFCase {
	tb.Helper()
	for _, c := range g.CIF {
		if c.Name == name {
			return c
		}
	}
	tb.Fatalf("competing goldens: no cumulative incidence case %q", name)
	return CIFCase{}
}

// EntryCase returns the delayed-entry case name, failing the test when there is none.
func (g *Goldens) EntryCase(tb testing.TB, name string) EntryCase {
	tb.Helper()
	for _, c := range g.Entry {
		if c.Name == name {
			return c
		}
	}
	tb.Fatalf("competing goldens: no delayed-entry case %q", name)
	return EntryCase{}
}
