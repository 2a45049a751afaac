package analysis

import (
	"slices"
	"sort"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"

	"github.com/oncofed/oncofed/internal/lungtest"
)

// zphCase is a case of testdata/zph_goldens.json (zph_goldens.R: R 4.2, survival 3.5).
type zphCase struct{ lungtest.ZPHCase }

func loadZPHGoldens(t *testing.T) []zphCase {
	t.Helper()
	var out []zphCase
	for _, c := range lungtest.ReadZPH(t) {
		out = append(out, zphCase{c})
	}
	if len(out) < 8 {
		t.Fatalf("%d cases in zph_goldens.json", len(out))
	}
	return out
}

func (c *zphCase) terms() []ZPHTerm {
	out := make([]ZPHTerm, len(c.TermNames))
	for k, n := range c.TermNames {
		out[k] = ZPHTerm{Name: n, Columns: c.TermColumns[k]}
	}
	return out
}

// pooledTable is the survival table of every subject of the case (what the client merges
// from the sites' released tables).
func (c *zphCase) pooledTable(t *testing.T) SurvivalTable {
	ev := make([]bool, len(c.Event))
	for i, e := range c.Event {
		ev[i] = e == 1
	}
	tab, err := NewSurvivalTable(c.Time, ev)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// strata splits the case's patients by site (Strata) or keeps them as one stratum.
func (c *zphCase) strata(t *testing.T) []*CoxStratum {
	groups := map[string][]int{}
	for i, s := range c.Site {
		if !c.Strata {
			s = ""
		}
		groups[s] = append(groups[s], i)
	}
	names := make([]string, 0, len(groups))
	for s := range groups {
		names = append(names, s)
	}
	sort.Strings(names)
	p := len(c.Columns)
	var out []*CoxStratum
	for _, s := range names {
		var tm, x []float64
		var ev []bool
		for _, i := range groups[s] {
			tm = append(tm, c.Time[i])
			ev = append(ev, c.Event[i] == 1)
			x = append(x, c.X[i]...)
		}
		st, err := NewCoxStratum(tm, ev, x, p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, st)
	}
	return out
}

// zphAt returns h at the distinct event times of st from the pooled table's h.
func zphAt(st *CoxStratum, tab SurvivalTable, h []float64) []float64 {
	var out []float64
	for g := 0; g+1 < len(st.groups); g++ {
		if st.HasEvent(g) {
			k := sort.SearchFloat64s(tab.Time, st.time[st.groups[g]])
			out = append(out, h[k])
		}
	}
	return out
}

// stratifiedZPH is the table from every stratum's sums at beta for the transform of the pooled
// table tab.
func stratifiedZPH(t *testing.T, c zphCase, strata []*CoxStratum, tab SurvivalTable, beta []float64, ties Ties, transform string) []ZPHRow {
	t.Helper()
	h, err := ZPHTransform(transform, tab)
	if err != nil {
		t.Fatal(err)
	}
	sum := NewZPHSums(len(c.Columns))
	for _, st := range strata {
		z, err := st.ZPHSums(beta, ties, zphAt(st, tab, h))
		if err != nil {
			t.Fatal(err)
		}
		sum.Add(z)
	}
	rows, err := ZPHTest(sum, c.terms())
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func checkZPHRows(t *testing.T, name string, got []ZPHRow, want []string, chisq []float64, df []int, p []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", name, len(got), len(want))
	}
	for k, r := range got {
		if r.Term != want[k] || r.DF != df[k] {
			t.Errorf("%s: row %d is %s df %d, want %s df %d", name, k, r.Term, r.DF, want[k], df[k])
		}
		if !scalar.EqualWithinAbsOrRel(r.ChiSq, chisq[k], tol, tol) || !scalar.EqualWithinAbsOrRel(r.P, p[k], tol, tol) {
			t.Errorf("%s %s: chisq %.12g p %.12g, want (R cox.zph) %.12g p %.12g", name, r.Term, r.ChiSq, r.P, chisq[k], p[k])
		}
	}
}

// TestZPHSumsMatchR: the sums of every stratum (site) at R's β̂, added, give R's cox.zph table
// for every transform: stratified by site (each site's own risk sets) and the pooled model on
// one stratum.
func TestZPHSumsMatchR(t *testing.T) {
	for _, c := range loadZPHGoldens(t) {
		ties, err := ParseTies(c.Ties)
		if err != nil {
			t.Fatal(err)
		}
		strata := c.strata(t)
		tab := c.pooledTable(t)
		for _, want := range c.ZPH {
			rows := stratifiedZPH(t, c, strata, tab, c.Coef, ties, want.Transform)
			checkZPHRows(t, c.Name+" "+want.Transform, rows, want.Terms, want.ChiSq, want.DF, want.P, 1e-9)
		}
	}
}

// TestZPHFitMatchesR: the whole path with this package's own fit (FitCox on the summed
// contributions) instead of R's β̂.
func TestZPHFitMatchesR(t *testing.T) {
	for _, c := range loadZPHGoldens(t) {
		ties, _ := ParseTies(c.Ties)
		strata := c.strata(t)
		p := len(c.Columns)
		fit, err := FitCox(func(beta []float64) (CoxContribution, error) {
			var sum CoxContribution
			for _, st := range strata {
				ct, err := st.Contribution(beta, ties)
				if err != nil {
					return ct, err
				}
				sum.Add(ct)
			}
			return sum, nil
		}, p, CoxOptions{Terms: c.Columns})
		if err != nil {
			t.Fatal(err)
		}
		want := c.ZPH[0]
		rows := stratifiedZPH(t, c, strata, c.pooledTable(t), fit.Coef, ties, want.Transform)
		checkZPHRows(t, c.Name+" own fit", rows, want.Terms, want.ChiSq, want.DF, want.P, 1e-9)
	}
}

func TestZPHTransformRank(t *testing.T) {
	// R: rank(c(1, 2, 2, 3, 5, 5, 5)) = 1 2.5 2.5 4 6 6 6
	tab, _ := NewSurvivalTable([]float64{1, 2, 2, 3, 5, 5, 5}, []bool{true, false, true, true, false, true, true})
	h, err := ZPHTransform(ZPHRank, tab)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{1, 2.5, 4, 6}; !slices.Equal(h, want) {
		t.Fatalf("rank %v, want %v", h, want)
	}
	if _, err := ZPHTransform("log", tab); err == nil {
		t.Fatal("an unknown transform was accepted")
	}
}

// sitesOf splits a case's patients by site into strata (the sites of a pooled model).
func (c *zphCase) sitesOf(t *testing.T) []*CoxStratum {
	saved := c.Strata
	c.Strata = true
	defer func() { c.Strata = saved }()
	return c.strata(t)
}

// TestPooledZPHMatchesR: the pooled model's test from the two-phase round's releases only —
// each site's phase-1 rows at β = 0 and at R's β̂, and its phase-2 second moments for the
// three sets of weights — equals R's cox.zph on the pooled data, with the pooled table for km
// and rank built from the β = 0 rows.
func TestPooledZPHMatchesR(t *testing.T) {
	tested := 0
	for _, c := range loadZPHGoldens(t) {
		if c.Strata {
			continue
		}
		tested++
		ties, _ := ParseTies(c.Ties)
		p := len(c.Columns)
		sites := c.sitesOf(t)
		at0, at := make([][]RiskSetRow, len(sites)), make([][]RiskSetRow, len(sites))
		for s, st := range sites {
			var err error
			if at0[s], _, err = st.TimeSums(make([]float64, p)); err != nil {
				t.Fatal(err)
			}
			if at[s], _, err = st.TimeSums(c.Coef); err != nil {
				t.Fatal(err)
			}
		}
		tab, err := ZPHTableFromRows(at0)
		if err != nil {
			t.Fatal(err)
		}
		if want := c.pooledTable(t); !slices.Equal(tab.Time, want.Time) || !slices.Equal(tab.Events, want.Events) || !slices.Equal(tab.Censor, want.Censor) {
			t.Fatalf("%s: the table from the rows differs from the pooled data's", c.Name)
		}
		for _, want := range c.ZPH {
			h, _ := ZPHTransform(want.Transform, tab)
			times, values := ZPHEventValues(tab, h)
			step, err := NewPooledZPH(at0, at, p, c.Coef, ties, times, values)
			if err != nil {
				t.Fatal(err)
			}
			var moments [3][][]float64
			for k := range moments {
				for s, st := range sites {
					a, b := step.Weights(s, k)
					m, err := st.WeightedSecondMoment(c.Coef, a, b)
					if err != nil {
						t.Fatal(err)
					}
					moments[k] = append(moments[k], m)
				}
			}
			sums, err := step.Complete(moments)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := ZPHTest(sums, c.terms())
			if err != nil {
				t.Fatal(err)
			}
			checkZPHRows(t, c.Name+" pooled "+want.Transform, rows, want.Terms, want.ChiSq, want.DF, want.P, 1e-9)
		}
	}
	if tested < 3 {
		t.Fatalf("%d pooled cases", tested)
	}
}
