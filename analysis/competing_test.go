package analysis

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"testing"
)

// competingGoldens is testdata/competing_goldens.json, written by competing_goldens.R.
type competingGoldens struct {
	Datasets map[string]competingDataset `json:"datasets"`
	CIF      []struct {
		Name     string `json:"name"`
		Dataset  string `json:"dataset"`
		Bin      float64
		ConfType string `json:"conf_type"`
		Groups   []struct {
			Group  string          `json:"group"`
			Time   goldenFloats    `json:"time"`
			NRisk  goldenFloats    `json:"n_risk"`
			Surv   goldenFloats    `json:"surv"`
			CIF    [2]goldenFloats `json:"cif"`
			StdErr [2]goldenFloats `json:"std_err"`
			Lower  [2]goldenFloats `json:"lower"`
			Upper  [2]goldenFloats `json:"upper"`
		} `json:"groups"`
	} `json:"cif"`
	Gray []struct {
		Name       string  `json:"name"`
		Dataset    string  `json:"dataset"`
		GroupBy    string  `json:"group_by"`
		Stratified bool    `json:"stratified"`
		Rho        float64 `json:"rho"`
		Tests      []struct {
			Cause int     `json:"cause"`
			Stat  float64 `json:"stat"`
			P     float64 `json:"p"`
			DF    int     `json:"df"`
		} `json:"tests"`
	} `json:"gray"`
	Entry []struct {
		Name    string  `json:"name"`
		Dataset string  `json:"dataset"`
		Bin     float64 `json:"bin"`
		Groups  []struct {
			Group     string       `json:"group"`
			Time      goldenFloats `json:"time"`
			NRisk     goldenFloats `json:"n_risk"`
			NEvent    goldenFloats `json:"n_event"`
			NCensor   goldenFloats `json:"n_censor"`
			Surv      goldenFloats `json:"surv"`
			StdErrLog goldenFloats `json:"std_err_log"`
			Lower     goldenFloats `json:"lower"`
			Upper     goldenFloats `json:"upper"`
			Median    goldenFloat  `json:"median"`
		} `json:"groups"`
		LogRank struct {
			ChiSq float64 `json:"chisq"`
			DF    int     `json:"df"`
		} `json:"logrank"`
		LogRankSite struct {
			ChiSq float64 `json:"chisq"`
			DF    int     `json:"df"`
		} `json:"logrank_site"`
	} `json:"entry"`
}

// competingDataset is one data set, patient by patient.
type competingDataset struct {
	Time   goldenFloats  `json:"time"`
	Status goldenFloats  `json:"status"`
	Entry  goldenFloats  `json:"entry"`
	Site   goldenStrings `json:"site"`
	Group  goldenStrings `json:"group"`
	Age    goldenStrings `json:"age"`
	X1     goldenFloats  `json:"x1"`
	X2     goldenFloats  `json:"x2"`
	X3     goldenFloats  `json:"x3"`
}

func (d competingDataset) column(name string) []string {
	switch name {
	case "group":
		return d.Group
	case "age":
		return d.Age
	}
	panic("competing test: no column " + name)
}

// siteTable tabulates the patients of one site (all sites when site is "") and one level of
// column (all when level is ""), as a node does: exits coarsened up to bins of w, entries down,
// events split into causes.
func (d competingDataset) siteTable(column, level, site string, w float64, causes int) SurvivalTable {
	var t SurvivalTable
	type row struct {
		time         float64
		status       int
		entry, delay bool
	}
	var rows []row
	for i := range d.Time {
		if site != "" && d.Site[i] != site {
			continue
		}
		if level != "" && d.column(column)[i] != level {
			continue
		}
		rows = append(rows, row{time: CoarsenTime(d.Time[i], w), status: int(d.Status[i])})
		if len(d.Entry) > 0 && d.Entry[i] > 0 {
			e := d.Entry[i]
			if w > 0 {
				e = math.Floor(e/w) * w
			}
			rows = append(rows, row{time: e, entry: true, delay: e > 0})
		}
	}
	sort.SliceStable(rows, func(a, b int) bool { return rows[a].time < rows[b].time })
	withEntries := len(d.Entry) > 0
	for _, r := range rows {
		if r.entry && !r.delay {
			continue
		}
		m := len(t.Time)
		if m == 0 || t.Time[m-1] != r.time {
			t.Time = append(t.Time, r.time)
			t.Events = append(t.Events, 0)
			t.Censor = append(t.Censor, 0)
			if withEntries {
				t.Entries = append(t.Entries, 0)
			}
			for len(t.Causes) < causes {
				t.Causes = append(t.Causes, make([]int, m))
			}
			for c := range t.Causes {
				t.Causes[c] = append(t.Causes[c], 0)
			}
			m++
		}
		switch {
		case r.entry:
			t.Entries[m-1]++
		case r.status == 0:
			t.Censor[m-1]++
		default:
			t.Events[m-1]++
			if causes > 0 {
				t.Causes[r.status-1][m-1]++
			}
		}
	}
	return t
}

// sites returns the dataset's sites in order.
func (d competingDataset) sites() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range d.Site {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// mergedTable merges the per-site tables, as the client does with the sites' replies.
func (d competingDataset) mergedTable(column, level string, w float64, causes int) SurvivalTable {
	var parts []SurvivalTable
	for _, s := range d.sites() {
		parts = append(parts, d.siteTable(column, level, s, w, causes))
	}
	return MergeTables(parts...)
}

func loadCompeting(tb testing.TB) competingGoldens {
	var g competingGoldens
	loadGolden(tb, "competing_goldens.json", &g)
	return g
}

// R 4.x survival 3.5 survfit(Surv(time, factor(status)) ~ 1): pstate and std.err per cause,
// on tables merged from fake sites.
func TestCumulativeIncidenceGoldens(t *testing.T) {
	g := loadCompeting(t)
	if len(g.CIF) == 0 {
		t.Fatal("no cumulative incidence goldens")
	}
	for _, c := range g.CIF {
		t.Run(c.Name, func(t *testing.T) {
			ct, err := ParseConfType(c.ConfType)
			if err != nil {
				t.Fatal(err)
			}
			d := g.Datasets[c.Dataset]
			for _, gr := range c.Groups {
				what := fmt.Sprintf("%s group %s", c.Name, gr.Group)
				e, err := CumulativeIncidence(d.mergedTable("group", gr.Group, c.Bin, 2), KMOptions{ConfType: ct})
				if err != nil {
					t.Fatal(err)
				}
				checkGoldenFloats(t, what+" time", e.Time, gr.Time)
				checkGoldenInts(t, what+" n.risk", e.NRisk, gr.NRisk.Ints())
				checkGoldenFloatsTol(t, what+" (s0)", e.Surv, gr.Surv, 1e-14, 1e-14)
				for cause := range 2 {
					w := fmt.Sprintf("%s cause %d", what, cause+1)
					cc := e.Causes[cause]
					checkGoldenFloatsTol(t, w+" pstate", cc.CIF, gr.CIF[cause], 1e-14, 1e-14)
					checkGoldenFloatsTol(t, w+" std.err", cc.StdErr, gr.StdErr[cause], 1e-14, 1e-12)
					checkGoldenFloats(t, w+" lower", cc.Lower, gr.Lower[cause])
					checkGoldenFloats(t, w+" upper", cc.Upper, gr.Upper[cause])
				}
			}
		})
	}
}

// cmprsk 2.2 cuminc(time, status, group[, strata])$Tests.
func TestGrayTestGoldens(t *testing.T) {
	g := loadCompeting(t)
	if len(g.Gray) == 0 {
		t.Fatal("no Gray goldens")
	}
	for _, c := range g.Gray {
		t.Run(c.Name, func(t *testing.T) {
			d := g.Datasets[c.Dataset]
			levels := map[string]bool{}
			for _, v := range d.column(c.GroupBy) {
				levels[v] = true
			}
			var names []string
			for v := range levels {
				names = append(names, v)
			}
			sort.Strings(names)
			var strata [][]SurvivalTable
			if c.Stratified {
				for _, s := range d.sites() {
					var groups []SurvivalTable
					for _, l := range names {
						groups = append(groups, d.siteTable(c.GroupBy, l, s, 0, 2))
					}
					strata = append(strata, groups)
				}
			} else {
				var groups []SurvivalTable
				for _, l := range names {
					groups = append(groups, d.mergedTable(c.GroupBy, l, 0, 2))
				}
				strata = [][]SurvivalTable{groups}
			}
			for _, want := range c.Tests {
				got, err := GrayTest(strata, want.Cause, c.Rho)
				if err != nil {
					t.Fatal(err)
				}
				if got.DF != want.DF {
					t.Errorf("cause %d: df = %d, want %d", want.Cause, got.DF, want.DF)
				}
				if !goldenEqual(got.Stat, want.Stat, 1e-12, 1e-9) {
					t.Errorf("cause %d: stat = %.15g, want %.15g", want.Cause, got.Stat, want.Stat)
				}
				if !goldenEqual(got.P, want.P, 1e-15, 1e-7) {
					t.Errorf("cause %d: p = %.15g, want %.15g", want.Cause, got.P, want.P)
				}
			}
		})
	}
}

// R survfit(Surv(entry, exit, status) ~ 1) and the exact-ties Cox score test (the log-rank test
// with risk sets entry < t ≤ exit), on tables merged from fake sites; with bins of 30 days the
// entries go down and the exits up to the bin edges.
func TestDelayedEntryGoldens(t *testing.T) {
	g := loadCompeting(t)
	if len(g.Entry) == 0 {
		t.Fatal("no delayed-entry goldens")
	}
	for _, c := range g.Entry {
		t.Run(c.Name, func(t *testing.T) {
			d := g.Datasets[c.Dataset]
			var groups []SurvivalTable
			var strata [][]SurvivalTable
			for _, s := range d.sites() {
				var row []SurvivalTable
				for _, gr := range c.Groups {
					row = append(row, d.siteTable("group", gr.Group, s, c.Bin, 0))
				}
				strata = append(strata, row)
			}
			for _, gr := range c.Groups {
				what := fmt.Sprintf("%s group %s", c.Name, gr.Group)
				tb := d.mergedTable("group", gr.Group, c.Bin, 0)
				groups = append(groups, tb)
				e, err := KaplanMeier(tb, KMOptions{})
				if err != nil {
					t.Fatal(err)
				}
				checkGoldenFloats(t, what+" time", e.Time, gr.Time)
				checkGoldenInts(t, what+" n.risk", e.NRisk, gr.NRisk.Ints())
				checkGoldenInts(t, what+" n.event", e.NEvent, gr.NEvent.Ints())
				checkGoldenInts(t, what+" n.censor", e.NCensor, gr.NCensor.Ints())
				checkGoldenFloats(t, what+" surv", e.Surv, gr.Surv)
				// jsonlite writes R's Inf as null: fit$std.err is +Inf once S = 0.
				seLog := append([]float64(nil), e.StdErrLog...)
				for i, v := range seLog {
					if math.IsInf(v, 1) && e.Surv[i] == 0 {
						seLog[i] = math.NaN()
					}
				}
				checkGoldenFloats(t, what+" std.err", seLog, gr.StdErrLog)
				checkGoldenFloats(t, what+" lower", e.Lower, gr.Lower)
				checkGoldenFloats(t, what+" upper", e.Upper, gr.Upper)
				checkGoldenFloats(t, what+" median", []float64{e.Median().Time}, []float64{float64(gr.Median)})
			}
			lr, err := LogRank(groups)
			if err != nil {
				t.Fatal(err)
			}
			if !goldenEqual(lr.ChiSq, c.LogRank.ChiSq, 1e-12, 1e-9) || lr.DF != c.LogRank.DF {
				t.Errorf("log-rank: chisq %.15g df %d, want %.15g df %d", lr.ChiSq, lr.DF, c.LogRank.ChiSq, c.LogRank.DF)
			}
			st, err := StratifiedLogRank(strata)
			if err != nil {
				t.Fatal(err)
			}
			if !goldenEqual(st.ChiSq, c.LogRankSite.ChiSq, 1e-12, 1e-9) {
				t.Errorf("log-rank by site: chisq %.15g, want %.15g", st.ChiSq, c.LogRankSite.ChiSq)
			}
		})
	}
}

func TestCompetingErrors(t *testing.T) {
	plain := SurvivalTable{Time: []float64{1, 2}, Events: []int{1, 0}, Censor: []int{0, 1}}
	if _, err := CumulativeIncidence(plain, KMOptions{}); !errors.Is(err, ErrNoCauses) {
		t.Errorf("table without causes: err = %v, want ErrNoCauses", err)
	}
	late := SurvivalTable{Time: []float64{1, 2}, Events: []int{0, 1}, Censor: []int{0, 1}, Entries: []int{1, 0},
		Causes: [][]int{{0, 1}}}
	if _, err := CumulativeIncidence(late, KMOptions{}); !errors.Is(err, ErrCompetingDelayedEntry) {
		t.Errorf("delayed entry: err = %v, want ErrCompetingDelayedEntry", err)
	}
	bad := SurvivalTable{Time: []float64{1}, Events: []int{2}, Censor: []int{0}, Causes: [][]int{{1}, {0}}}
	if _, err := CumulativeIncidence(bad, KMOptions{}); err == nil {
		t.Error("causes that do not add up to the events: no error")
	}
	two := SurvivalTable{Time: []float64{1, 2}, Events: []int{1, 1}, Censor: []int{0, 0}, Causes: [][]int{{1, 0}, {0, 1}}}
	if _, err := GrayTest([][]SurvivalTable{{two, {}}}, 1, 0); !errors.Is(err, ErrGrayTooFewGroups) {
		t.Errorf("one group with subjects: err = %v, want ErrGrayTooFewGroups", err)
	}
	if _, err := GrayTest([][]SurvivalTable{{two, two}}, 3, 0); err == nil {
		t.Error("cause 3 of a table with two causes: no error")
	}
}

// Merging keeps the cause split: the merged table's causes add up to its events, and equal the
// table of the pooled records.
func TestMergeTablesCauses(t *testing.T) {
	a := SurvivalTable{Time: []float64{1, 3}, Events: []int{1, 2}, Censor: []int{1, 0}, Causes: [][]int{{1, 1}, {0, 1}}}
	b := SurvivalTable{Time: []float64{1, 2}, Events: []int{1, 0}, Censor: []int{0, 2}, Entries: []int{0, 1}, Causes: [][]int{{0, 0}, {1, 0}}}
	m := MergeTables(a, b)
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	want := SurvivalTable{Time: []float64{1, 2, 3}, Events: []int{2, 0, 2}, Censor: []int{1, 2, 0}, Entries: []int{0, 1, 0},
		Causes: [][]int{{1, 0, 1}, {1, 0, 1}}}
	if fmt.Sprint(m) != fmt.Sprint(want) {
		t.Errorf("merged = %v, want %v", m, want)
	}
}

// R 4.x survival 3.5 coxph(Surv(entry, exit, status) ~ x1 + x2 [+ strata(site)]) on mgus2 on
// the age scale and lung with entries: one stratum of all patients (what a single site
// computes), and stratified by site as the sum of the sites' contributions (the federated
// stratified form), Efron and Breslow, and with 30-day bins (entries down, exits up).
func TestCoxDelayedEntryGoldens(t *testing.T) {
	var g struct {
		Datasets map[string]competingDataset `json:"datasets"`
		Cox      []struct {
			Name       string       `json:"name"`
			Dataset    string       `json:"dataset"`
			Bin        float64      `json:"bin"`
			Ties       string       `json:"ties"`
			Stratified bool         `json:"stratified"`
			Coef       goldenFloats `json:"coef"`
			SE         goldenFloats `json:"se"`
			LogLik     goldenFloats `json:"loglik"`
		} `json:"cox"`
	}
	loadGolden(t, "competing_goldens.json", &g)
	if len(g.Cox) == 0 {
		t.Fatal("no Cox goldens")
	}
	for _, c := range g.Cox {
		t.Run(c.Name, func(t *testing.T) {
			d := g.Datasets[c.Dataset]
			ties, err := ParseTies(c.Ties)
			if err != nil {
				t.Fatal(err)
			}
			var strata []*CoxStratum
			for _, site := range d.sites() {
				var entry, exit []float64
				var event []bool
				var x []float64
				for i := range d.Time {
					if c.Stratified && d.Site[i] != site {
						continue
					}
					e := d.Entry[i]
					if c.Bin > 0 {
						e = math.Floor(e/c.Bin) * c.Bin
					}
					entry = append(entry, e)
					exit = append(exit, CoarsenTime(d.Time[i], c.Bin))
					event = append(event, d.Status[i] > 0)
					x = append(x, d.X1[i], d.X2[i])
				}
				s, err := NewCoxStratumEntry(entry, exit, event, x, 2)
				if err != nil {
					t.Fatal(err)
				}
				strata = append(strata, s)
				if !c.Stratified {
					break
				}
			}
			fit, err := FitCox(func(beta []float64) (CoxContribution, error) {
				var total CoxContribution
				for _, s := range strata {
					part, err := s.Contribution(beta, ties)
					if err != nil {
						return total, err
					}
					if total.Gradient == nil {
						total = part
					} else {
						total.Add(part)
					}
				}
				return total, nil
			}, 2, CoxOptions{})
			if err != nil {
				t.Fatal(err)
			}
			checkGoldenFloatsTol(t, "coef", fit.Coef, c.Coef, 1e-9, 1e-6)
			checkGoldenFloatsTol(t, "se", fit.SE, c.SE, 1e-9, 1e-6)
			checkGoldenFloatsTol(t, "loglik", []float64{fit.LogLik0, fit.LogLik}, c.LogLik, 1e-9, 1e-9)
		})
	}
}

// cmprsk 2.2 crr(time, status, cbind(x1, x2, x3), failcode): coefficients and the sandwich
// standard errors, fitted over four fake sites of mgus2 (and a small hand-made set) from the
// sites' rows, the pooled censoring distribution and each site's part of the variance.
func TestFineGrayGoldens(t *testing.T) {
	var g struct {
		Datasets map[string]competingDataset `json:"datasets"`
		CRR      []struct {
			Name     string       `json:"name"`
			Dataset  string       `json:"dataset"`
			Failcode int          `json:"failcode"`
			Coef     goldenFloats `json:"coef"`
			SE       goldenFloats `json:"se"`
		} `json:"crr"`
	}
	loadGolden(t, "competing_goldens.json", &g)
	if len(g.CRR) == 0 {
		t.Fatal("no crr goldens")
	}
	for _, c := range g.CRR {
		t.Run(c.Name, func(t *testing.T) {
			d := g.Datasets[c.Dataset]
			sites := fineGraySites(t, d, c.Failcode)
			gd, err := NewCensoringDistribution(d.mergedTable("group", "", 0, 0))
			if err != nil {
				t.Fatal(err)
			}
			rowsAt := func(beta []float64) [][]FineGrayRow {
				var all [][]FineGrayRow
				for _, s := range sites {
					r, err := s.Rows(beta)
					if err != nil {
						t.Fatal(err)
					}
					all = append(all, r)
				}
				return all
			}
			fit, err := FitCox(func(beta []float64) (CoxContribution, error) {
				return FineGrayContribution(rowsAt(beta), gd, 3, beta)
			}, 3, CoxOptions{})
			if err != nil {
				t.Fatal(err)
			}
			checkGoldenFloatsTol(t, "coef", fit.Coef, c.Coef, 1e-9, 1e-6)
			gl, err := NewFineGrayGlobals(rowsAt(fit.Coef), gd, 3, fit.Coef)
			if err != nil {
				t.Fatal(err)
			}
			meat := make([]float64, 9)
			for _, s := range sites {
				m, err := s.Meat(fit.Coef, gl)
				if err != nil {
					t.Fatal(err)
				}
				for k := range meat {
					meat[k] += m[k]
				}
			}
			se := make([]float64, 3)
			for a := range 3 {
				v := 0.0
				for k := range 3 {
					for l := range 3 {
						v += fit.Vcov[a*3+k] * meat[k*3+l] * fit.Vcov[l*3+a]
					}
				}
				se[a] = math.Sqrt(v)
			}
			checkGoldenFloatsTol(t, "se", se, c.SE, 1e-9, 1e-6)
		})
	}
}
