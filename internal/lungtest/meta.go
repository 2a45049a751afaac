package lungtest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// MetaCase is one case of analysis/testdata/meta_expected.json, written by
// analysis/testdata/meta_goldens.R: metafor's rma with methods "FE" and "DL" on per-site
// estimates yi with standard errors sei (lung_sex_by_site: coxph(Surv(time, status) ~ sex) at
// each lung institution with at least 10 events and both sexes). jsonlite writes every value
// as an array, so scalars are the first element.
type MetaCase struct {
	Name          []string   `json:"name"`
	Site          []string   `json:"site"`
	Yi            []float64  `json:"yi"`
	Sei           []float64  `json:"sei"`
	Level         []float64  `json:"level"`
	Fixed         MetaPooled `json:"fixed"`
	Random        MetaPooled `json:"random"`
	Tau2          []float64  `json:"tau2"`
	Q             []float64  `json:"Q"`
	DF            []int      `json:"df"`
	QP            []float64  `json:"Q_p"`
	I2            []float64  `json:"I2"`
	H2            []float64  `json:"H2"`
	WeightsFixed  []float64  `json:"weights_fixed"`
	WeightsRandom []float64  `json:"weights_random"`
}

// MetaPooled is a pooled estimate of a MetaCase: estimate, standard error, z, p and the
// confidence limits at the case's level.
type MetaPooled struct {
	Estimate []float64 `json:"estimate"`
	SE       []float64 `json:"se"`
	Z        []float64 `json:"z"`
	P        []float64 `json:"p"`
	Lower    []float64 `json:"lower"`
	Upper    []float64 `json:"upper"`
}

// ReadMeta returns the cases of meta_expected.json, failing the test when the file is
// missing, holds a key MetaCase does not know, or has fewer than the four cases
// meta_goldens.R writes.
func ReadMeta(tb testing.TB) []MetaCase {
	tb.Helper()
	p := filepath.Join(filepath.Dir(Path()), "meta_expected.json")
	b, err := os.ReadFile(p)
	if err != nil {
		tb.Fatalf("%v (regenerate with Rscript meta_goldens.R in analysis/testdata)", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var g struct {
		Source []string   `json:"source"`
		Cases  []MetaCase `json:"cases"`
	}
	if err := dec.Decode(&g); err != nil {
		tb.Fatalf("%s: %v", p, err)
	}
	if len(g.Cases) < 4 {
		tb.Fatalf("%s: %d cases, want at least 4", p, len(g.Cases))
	}
	return g.Cases
}

// ReadMetaCase returns the case of meta_expected.json named name, failing the test when there
// is none.
func ReadMetaCase(tb testing.TB, name string) MetaCase {
	tb.Helper()
	for _, c := range ReadMeta(tb) {
		if len(c.Name) == 1 && c.Name[0] == name {
			return c
		}
	}
	tb.Fatalf("meta_expected.json has no case %q", name)
	return MetaCase{}
}
