package analysis

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
)

// screenGolden is one case of testdata/r/screen_goldens.json.
type screenGolden struct {
	Name    string          `json:"name"`
	Strata  bool            `json:"strata"`
	Ties    string          `json:"ties"`
	Treated string          `json:"treated"` // predictive mode: (treatment == Treated) × marker
	Levels  json.RawMessage `json:"levels"`  // an object, or [] when empty
	Markers []struct {
		Marker    string          `json:"marker"`
		Estimable bool            `json:"estimable"`
		Terms     json.RawMessage `json:"terms"`
		N         int             `json:"n"`
		Events    int             `json:"events"`
		Coef      goldenFloats    `json:"coef"`
		SE        goldenFloats    `json:"se"`
		Chisq     float64         `json:"chisq"`
		DF        int             `json:"df"`
		P         float64         `json:"p"`
		Q         float64         `json:"q"`
		HetSites  json.RawMessage `json:"het_sites"`
		SiteEst   []goldenFloats  `json:"site_est"`
		SiteCov   []goldenFloats  `json:"site_cov"`
		Het       *struct {
			Q, Qp, I2 float64
			Tau2      *float64
			DF        int `json:"df"`
		} `json:"het"`
	} `json:"markers"`
}

// strs decodes a jsonlite character vector (a bare string when of length 1, or null).
func strs(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		t.Fatal(err)
	}
	return many
}

// screenData is a CSV of patients: site, time, event and covariates as text ("" missing).
type screenData struct {
	site  []string
	time  []float64
	event []bool
	cols  map[string][]string
}

func readScreenCSV(t *testing.T, path string) screenData {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	d := screenData{cols: map[string][]string{}}
	head := rows[0]
	for _, r := range rows[1:] {
		for j, h := range head {
			switch h {
			case "site":
				d.site = append(d.site, r[j])
			case "time":
				v, _ := strconv.ParseFloat(r[j], 64)
				d.time = append(d.time, v)
			case "event":
				d.event = append(d.event, r[j] == "1")
			default:
				d.cols[h] = append(d.cols[h], r[j])
			}
		}
	}
	return d
}

// column returns a covariate: numeric when every value parses, else categorical.
func (d screenData) column(name string) CovariateColumn {
	raw := d.cols[name]
	num := make([]float64, len(raw))
	for i, s := range raw {
		if s == "" {
			num[i] = math.NaN()
			continue
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return CovariateColumn{Name: name, Categorical: raw}
		}
		num[i] = v
	}
	return CovariateColumn{Name: name, Numeric: num}
}

// fitScreenMarker fits Surv(time, event) ~ marker + age (+ strata(site)) and returns the fit
// and the per-site strata (for the one-step site estimates).
func fitScreenMarker(t *testing.T, d screenData, marker string, levels map[string][]string, strata bool, ties Ties, treated string) (*CoxFit, []string, map[string]*CoxStratum) {
	t.Helper()
	mc := d.column(marker)
	cols := []CovariateColumn{mc, d.column("age")}
	var inter []Interaction
	lv := map[string][]string{}
	if treated != "" {
		// As R's factor(ifelse(treatment == treated, treated, other), c(other, treated)).
		other := "not " + treated
		trt := CovariateColumn{Name: "treatment", Categorical: make([]string, len(d.site))}
		for i, v := range d.cols["treatment"] {
			trt.Categorical[i] = other
			if v == treated {
				trt.Categorical[i] = treated
			}
		}
		cols = append([]CovariateColumn{trt}, cols...)
		lv["treatment"] = []string{other, treated}
		inter = []Interaction{{"treatment", marker}}
	}
	if mc.Categorical != nil {
		if l, ok := levels[marker]; ok {
			lv[marker] = l
		} else {
			seen := map[string]bool{}
			for _, v := range mc.Categorical {
				if v != "" && !seen[v] {
					seen[v] = true
					lv[marker] = append(lv[marker], v)
				}
			}
			sort.Strings(lv[marker])
		}
	}
	x, p, names, keep, err := BuildDesignInteractions(cols, lv, inter)
	if err != nil {
		t.Fatal(err)
	}
	bySite := map[string]*struct {
		t  []float64
		ev []bool
		x  []float64
	}{}
	var all struct {
		t  []float64
		ev []bool
	}
	r := 0
	for i := range keep {
		if !keep[i] {
			continue
		}
		s := bySite[d.site[i]]
		if s == nil {
			s = &struct {
				t  []float64
				ev []bool
				x  []float64
			}{}
			bySite[d.site[i]] = s
		}
		s.t = append(s.t, d.time[i])
		s.ev = append(s.ev, d.event[i])
		s.x = append(s.x, x[r*p:(r+1)*p]...)
		all.t = append(all.t, d.time[i])
		all.ev = append(all.ev, d.event[i])
		r++
	}
	sites := map[string]*CoxStratum{}
	for name, s := range bySite {
		st, err := NewCoxStratum(s.t, s.ev, s.x, p)
		if err != nil {
			t.Fatal(err)
		}
		sites[name] = st
	}
	var eval CoxEvaluator
	if strata {
		eval = func(beta []float64) (CoxContribution, error) {
			var sum CoxContribution
			for _, st := range sites {
				c, err := st.Contribution(beta, ties)
				if err != nil {
					return c, err
				}
				sum.Add(c)
			}
			return sum, nil
		}
	} else {
		st, err := NewCoxStratum(all.t, all.ev, x, p)
		if err != nil {
			t.Fatal(err)
		}
		eval = func(beta []float64) (CoxContribution, error) { return st.Contribution(beta, ties) }
	}
	fit, err := FitCox(eval, p, CoxOptions{Terms: names})
	if err != nil {
		t.Fatalf("%s: %v", marker, err)
	}
	return fit, names, sites
}

// TestScreenAgainstR checks every statistic of the screen against R (screen_goldens.R):
// per-marker coxph terms, the joint Wald test, BH q-values, and the per-site one-step
// estimates with their heterogeneity (metafor), on survival::lung and on synthetic NSCLC
// with candidate markers, stratified by site and pooled, Efron and Breslow.
func TestScreenAgainstR(t *testing.T) {
	var g struct{ Cases []screenGolden }
	loadGolden(t, "r/screen_goldens.json", &g)
	data := map[string]screenData{
		"lung":  readScreenCSV(t, filepath.Join("testdata", "lung.csv")),
		"nsclc": readScreenCSV(t, filepath.Join("testdata", "r", "screen_nsclc.csv")),
	}
	if len(g.Cases) != 12 {
		t.Fatalf("%d cases in the golden, want 12", len(g.Cases))
	}
	eq := func(what string, got, want, tol float64) {
		t.Helper()
		if !scalar.EqualWithinAbsOrRel(got, want, tol, tol) {
			t.Errorf("%s = %.12g, R %.12g", what, got, want)
		}
	}
	for _, c := range g.Cases {
		ties, err := ParseTies(c.Ties)
		if err != nil {
			t.Fatal(err)
		}
		d := data[c.Name]
		levels := map[string][]string{}
		if string(c.Levels) != "[]" {
			if err := json.Unmarshal(c.Levels, &levels); err != nil {
				t.Fatal(err)
			}
		}
		var ps, qs []float64
		for _, m := range c.Markers {
			where := c.Name + "/" + strconv.FormatBool(c.Strata) + "/" + c.Ties + "/" + c.Treated + "/" + m.Marker
			fit, names, sites := fitScreenMarker(t, d, m.Marker, levels, c.Strata, ties, c.Treated)
			terms := strs(t, m.Terms)
			var idx []int
			for _, term := range terms {
				k := slices.Index(names, term)
				if k < 0 {
					t.Fatalf("%s: no design column %q in %q", where, term, names)
				}
				idx = append(idx, k)
			}
			if fit.N != m.N || fit.Events != m.Events {
				t.Errorf("%s: n %d events %d, R %d %d", where, fit.N, fit.Events, m.N, m.Events)
			}
			w, err := JointWald(fit, idx)
			if !m.Estimable {
				if err == nil {
					t.Errorf("%s: estimable, R says not", where)
				}
				ps = append(ps, math.NaN())
				qs = append(qs, math.NaN())
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			for a, k := range idx {
				eq(where+" coef "+terms[a], fit.Coef[k], m.Coef[a], 1e-6)
				eq(where+" se "+terms[a], fit.SE[k], m.SE[a], 1e-6)
			}
			eq(where+" chisq", w.Stat, m.Chisq, 1e-6)
			eq(where+" p", w.P, m.P, 1e-5)
			if w.DF != m.DF {
				t.Errorf("%s: df %d, R %d", where, w.DF, m.DF)
			}
			ps = append(ps, w.P)
			qs = append(qs, m.Q)

			// Per-site one-step estimates: the same sites as R's rule (≥10 events, invertible
			// information), the same estimates, the same heterogeneity.
			var names2 []string
			for n := range sites {
				names2 = append(names2, n)
			}
			sort.Strings(names2)
			var st []SiteTerms
			for _, s := range names2 {
				if sites[s].Events() < 10 {
					continue
				}
				ct, err := sites[s].Contribution(fit.Coef, ties)
				if err != nil {
					t.Fatal(err)
				}
				est, cov, err := OneStep(fit.Coef, ct, idx)
				if err != nil {
					continue
				}
				st = append(st, SiteTerms{Site: s, Est: est, Cov: cov})
			}
			want := strs(t, m.HetSites)
			var got []string
			for _, s := range st {
				got = append(got, s.Site)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%s: heterogeneity sites %q, R %q", where, got, want)
			}
			for i, s := range st {
				for a := range s.Est {
					eq(where+" site "+s.Site+" est", s.Est[a], m.SiteEst[i][a], 1e-6)
				}
				for a := range s.Cov {
					eq(where+" site "+s.Site+" cov", s.Cov[a], m.SiteCov[i][a], 1e-6)
				}
			}
			h, err := HeterogeneityOf(st)
			if m.Het == nil {
				if err == nil {
					t.Errorf("%s: heterogeneity from %d sites, R has none", where, len(st))
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			eq(where+" Q", h.Q, m.Het.Q, 1e-6)
			eq(where+" Q p", h.QP, m.Het.Qp, 1e-5)
			eq(where+" I2", h.I2, m.Het.I2, 1e-6)
			if h.DF != m.Het.DF {
				t.Errorf("%s: heterogeneity df %d, R %d", where, h.DF, m.Het.DF)
			}
			if m.Het.Tau2 != nil {
				if !scalar.EqualWithinAbsOrRel(h.Tau2, *m.Het.Tau2, 1e-8, 1e-6) {
					t.Errorf("%s: tau2 %g, R %g", where, h.Tau2, *m.Het.Tau2)
				}
			} else if !math.IsNaN(h.Tau2) {
				t.Errorf("%s: tau2 %g for a marker of several terms", where, h.Tau2)
			}
		}
		q := BenjaminiHochberg(ps)
		for i := range q {
			if math.IsNaN(qs[i]) != math.IsNaN(q[i]) || !math.IsNaN(q[i]) && !scalar.EqualWithinAbsOrRel(q[i], qs[i], 1e-5, 1e-5) {
				t.Errorf("%s/%v/%s marker %s: q %g, R %g", c.Name, c.Strata, c.Ties, c.Markers[i].Marker, q[i], qs[i])
			}
		}
	}
}

// BH counts only the p-values that are tests, and matches R's p.adjust by hand.
func TestBenjaminiHochbergSkipsNonTests(t *testing.T) {
	// R: p.adjust(c(0.01, 0.04, 0.03, 0.5), "BH") = 0.04 0.05333333 0.05333333 0.5
	got := BenjaminiHochberg([]float64{0.01, math.NaN(), 0.04, 0.03, 0.5})
	want := []float64{0.04, math.NaN(), 0.16 / 3, 0.16 / 3, 0.5}
	for i := range want {
		if math.IsNaN(want[i]) != math.IsNaN(got[i]) || !math.IsNaN(want[i]) && math.Abs(got[i]-want[i]) > 1e-15 {
			t.Errorf("q[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

// Interaction columns follow R's model.matrix for a * b + c: main effects first, then the
// products with a's columns varying fastest, named a:b; a bad interaction is an error.
func TestBuildDesignInteractions(t *testing.T) {
	cols := []CovariateColumn{
		{Name: "trt", Categorical: []string{"no", "yes", "yes", "no"}},
		{Name: "g", Categorical: []string{"a", "b", "c", "c"}},
		{Name: "age", Numeric: []float64{50, 60, 70, 80}},
	}
	x, p, names, _, err := BuildDesignInteractions(cols, nil, []Interaction{{"trt", "g"}, {"trt", "age"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"trtyes", "gb", "gc", "age", "trtyes:gb", "trtyes:gc", "trtyes:age"}
	if !slices.Equal(names, want) || p != 7 {
		t.Fatalf("names %q, want %q", names, want)
	}
	// Row 2: trt yes, g c, age 70.
	if got := x[2*p : 3*p]; !slices.Equal(got, []float64{1, 0, 1, 70, 0, 1, 70}) {
		t.Errorf("row 2 = %v", got)
	}
	for _, bad := range [][]Interaction{{{"trt", "trt"}}, {{"trt", "nope"}}} {
		if _, _, _, _, err := BuildDesignInteractions(cols, nil, bad); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}
