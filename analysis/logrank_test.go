package analysis

import (
	"errors"
	"testing"
)

type logRankGoldenCase struct {
	Name       string        `json:"name"`
	Dataset    string        `json:"dataset"`
	GroupBy    string        `json:"group_by"`
	Bin        float64       `json:"bin"`
	Stratified bool          `json:"stratified"`
	Groups     goldenStrings `json:"groups"`
	Error      string        `json:"error"`
	N          goldenFloats  `json:"n"`
	Observed   goldenFloats  `json:"observed"`
	Expected   goldenFloats  `json:"expected"`
	Var        goldenFloats  `json:"var"`
	ChiSq      float64       `json:"chisq"`
	DF         int           `json:"df"`
	P          float64       `json:"p"`
}

// TestLogRankGoldens checks LogRank and StratifiedLogRank against R's survdiff on the pooled
// records (testdata/km_goldens.json from km_goldens.R): observed, expected, variance matrix,
// chi-square, df and p, with tables built per site (and per group), coarsened per site and merged.
func TestLogRankGoldens(t *testing.T) {
	g := loadKMGoldens(t)
	for _, c := range g.LogRank {
		t.Run(c.Name, func(t *testing.T) {
			d := g.Datasets[c.Dataset]
			var res *LogRankResult
			var err error
			if c.Stratified {
				res, err = StratifiedLogRank(lungStrata(t, d, c.GroupBy, c.Groups, c.Bin))
			} else {
				var groups []SurvivalTable
				for _, level := range c.Groups {
					groups = append(groups, d.pooledTable(t, c.GroupBy, level, c.Bin))
				}
				res, err = LogRank(groups)
			}
			if c.Error != "" {
				if err == nil {
					t.Fatalf("got %+v; R fails: %s", res, c.Error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.DF != c.DF {
				t.Errorf("df = %d, R: %d", res.DF, c.DF)
			}
			checkGoldenInts(t, "n", res.N, c.N.Ints())
			checkGoldenFloats(t, "observed", res.Observed, c.Observed)
			checkGoldenFloats(t, "expected", res.Expected, c.Expected)
			// Entries that cancel to ~0 in R's accumulation order are compared absolutely.
			checkGoldenFloatsTol(t, "var", res.Variance, c.Var, 1e-11, goldenRelEst)
			checkGoldenFloats(t, "chisq", []float64{res.ChiSq}, []float64{c.ChiSq})
			checkGoldenFloatsTol(t, "p", []float64{res.P}, []float64{c.P}, goldenAbsP, goldenRelP)
		})
	}
}

func TestLogRankErrors(t *testing.T) {
	one := SurvivalTable{Time: []float64{1, 2}, Events: []int{1, 0}, Censor: []int{0, 1}}
	cens := SurvivalTable{Time: []float64{1, 2}, Events: []int{0, 0}, Censor: []int{1, 1}}
	late := SurvivalTable{Time: []float64{5}, Events: []int{0}, Censor: []int{1}}
	for _, tc := range []struct {
		name   string
		strata [][]SurvivalTable
		want   error
	}{
		{"no groups", nil, ErrLogRankTooFewGroups},
		{"one group", [][]SurvivalTable{{one}}, ErrLogRankTooFewGroups},
		{"no events", [][]SurvivalTable{{cens, cens}}, ErrLogRankNoEvents},
		{"empty group", [][]SurvivalTable{{one, {}}}, ErrLogRankOneGroup},
		// The second group's patients were censored before the only event: expected 0 (R drops
		// such a group), leaving a single group to compare.
		{"group never at risk", [][]SurvivalTable{{SurvivalTable{Time: []float64{3}, Events: []int{1}, Censor: []int{0}},
			SurvivalTable{Time: []float64{1}, Events: []int{0}, Censor: []int{2}}}}, ErrLogRankOneGroup},
		{"singular", [][]SurvivalTable{{{Time: []float64{1}, Events: []int{1}, Censor: []int{0}},
			{Time: []float64{1}, Events: []int{1}, Censor: []int{0}}}}, ErrLogRankSingular},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := StratifiedLogRank(tc.strata)
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := StratifiedLogRank([][]SurvivalTable{{one, late}, {one}}); err == nil {
		t.Error("strata with different group counts: no error")
	}
	bad := SurvivalTable{Time: []float64{1}, Events: []int{-1}, Censor: []int{0}}
	if _, err := LogRank([]SurvivalTable{one, bad}); err == nil {
		t.Error("invalid table: no error")
	}
}
