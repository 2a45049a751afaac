package analysis

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/internal/lungtest"
)

// kmGoldens mirrors testdata/km_goldens.json, written by testdata/km_goldens.R
// (R 4.2.2, survival 3.5-3).
type kmGoldens struct {
	RVersion        string                   `json:"r_version"`
	SurvivalVersion string                   `json:"survival_version"`
	Datasets        map[string]goldenDataset `json:"datasets"`
	KM              []kmGoldenCase           `json:"km"`
	LogRank         []logRankGoldenCase      `json:"logrank"`
}

type kmGoldenCase struct {
	Name          string        `json:"name"`
	Dataset       string        `json:"dataset"`
	GroupBy       string        `json:"group_by"`
	Bin           float64       `json:"bin"`
	ConfType      string        `json:"conf_type"`
	ConfInt       float64       `json:"conf_int"`
	LandmarkTimes goldenFloats  `json:"landmark_times"`
	Groups        []kmGoldenGrp `json:"groups"`
}

type kmGoldenGrp struct {
	Group       string          `json:"group"`
	N           int             `json:"n"`
	Events      int             `json:"events"`
	KM          survfitRows     `json:"km"`
	Landmarks   survfitRows     `json:"landmarks"`
	Quantiles   goldenQuantiles `json:"quantiles"`
	TableMedian struct {
		Median goldenFloat `json:"median"`
		LCL    goldenFloat `json:"lcl"`
		UCL    goldenFloat `json:"ucl"`
	} `json:"table_median"`
	RMean []struct {
		Tau   float64     `json:"tau"`
		RMean goldenFloat `json:"rmean"`
		SE    goldenFloat `json:"se"`
		Error string      `json:"error"`
	} `json:"rmean"`
	FollowUp goldenQuantiles `json:"followup"`
}

type goldenQuantiles struct {
	Prob     goldenFloats `json:"prob"`
	Quantile goldenFloats `json:"quantile"`
	Lower    goldenFloats `json:"lower"`
	Upper    goldenFloats `json:"upper"`
}

func loadKMGoldens(tb testing.TB) *kmGoldens {
	tb.Helper()
	var g kmGoldens
	loadGolden(tb, "km_goldens.json", &g)
	if len(g.KM) == 0 || len(g.LogRank) == 0 || len(g.Datasets) == 0 {
		tb.Fatal("km_goldens.json holds no cases")
	}
	return &g
}

func quantileColumns(q []QuantileEstimate) (t, lo, hi []float64) {
	for _, e := range q {
		t = append(t, e.Time)
		lo = append(lo, e.Lower)
		hi = append(hi, e.Upper)
	}
	return t, lo, hi
}

// TestKaplanMeierGoldens checks every Kaplan–Meier quantity against R on the pooled records:
// the curve (summary(fit, censored = TRUE)), landmarks (summary(fit, times, extend = TRUE)),
// quantiles (quantile.survfit), RMST (summary(fit, rmean = τ)$table) and the reverse-KM median
// follow-up, each computed from per-site tables merged as the client does.
func TestKaplanMeierGoldens(t *testing.T) {
	g := loadKMGoldens(t)
	groupsChecked := 0
	for _, c := range g.KM {
		t.Run(c.Name, func(t *testing.T) {
			d, ok := g.Datasets[c.Dataset]
			if !ok {
				t.Fatalf("no data set %q", c.Dataset)
			}
			ct, err := ParseConfType(c.ConfType)
			if err != nil {
				t.Fatal(err)
			}
			opts := KMOptions{ConfType: ct, ConfLevel: c.ConfInt}
			for _, grp := range c.Groups {
				col, level := c.GroupBy, grp.Group
				if col == "" {
					level = ""
				}
				table := d.pooledTable(t, col, level, c.Bin)
				e, err := KaplanMeier(table, opts)
				if err != nil {
					t.Fatalf("%s: %v", grp.Group, err)
				}
				groupsChecked++
				p := grp.Group + ": "
				if e.N != grp.N || e.Events != grp.Events {
					t.Errorf("%sn = %d, events = %d; R: %d, %d", p, e.N, e.Events, grp.N, grp.Events)
				}
				checkGoldenFloats(t, p+"time", e.Time, grp.KM.Time)
				checkGoldenInts(t, p+"n.risk", e.NRisk, grp.KM.NRisk.Ints())
				checkGoldenInts(t, p+"n.event", e.NEvent, grp.KM.NEvent.Ints())
				checkGoldenInts(t, p+"n.censor", e.NCensor, grp.KM.NCensor.Ints())
				checkGoldenFloats(t, p+"surv", e.Surv, grp.KM.Surv)
				checkGoldenFloats(t, p+"std.err", e.StdErr, grp.KM.StdErr)
				// jsonlite writes R's Inf as null: fit$std.err is +Inf once S = 0.
				seLog := append([]float64(nil), e.StdErrLog...)
				for i, v := range seLog {
					if math.IsInf(v, 1) && e.Surv[i] == 0 {
						seLog[i] = math.NaN()
					}
				}
				checkGoldenFloats(t, p+"fit$std.err", seLog, grp.KM.StdErrLog)
				checkGoldenFloats(t, p+"lower", e.Lower, grp.KM.Lower)
				checkGoldenFloats(t, p+"upper", e.Upper, grp.KM.Upper)

				lm, err := e.At(c.LandmarkTimes)
				if err != nil {
					t.Fatalf("%sAt: %v", p, err)
				}
				var lt, ls, lse, llo, lhi []float64
				var lr, lev, lc []int
				for _, l := range lm {
					lt = append(lt, l.Time)
					lr = append(lr, l.NRisk)
					lev = append(lev, l.NEvent)
					lc = append(lc, l.NCensor)
					ls = append(ls, l.Surv)
					lse = append(lse, l.StdErr)
					llo = append(llo, l.Lower)
					lhi = append(lhi, l.Upper)
					if want := l.Time > e.Time[len(e.Time)-1]; l.Beyond != want {
						t.Errorf("%slandmark %v: Beyond = %v", p, l.Time, l.Beyond)
					}
				}
				checkGoldenFloats(t, p+"landmark time", lt, grp.Landmarks.Time)
				checkGoldenInts(t, p+"landmark n.risk", lr, grp.Landmarks.NRisk.Ints())
				checkGoldenInts(t, p+"landmark n.event", lev, grp.Landmarks.NEvent.Ints())
				checkGoldenInts(t, p+"landmark n.censor", lc, grp.Landmarks.NCensor.Ints())
				checkGoldenFloats(t, p+"landmark surv", ls, grp.Landmarks.Surv)
				checkGoldenFloats(t, p+"landmark std.err", lse, grp.Landmarks.StdErr)
				checkGoldenFloats(t, p+"landmark lower", llo, grp.Landmarks.Lower)
				checkGoldenFloats(t, p+"landmark upper", lhi, grp.Landmarks.Upper)

				q, err := e.Quantile(grp.Quantiles.Prob...)
				if err != nil {
					t.Fatalf("%sQuantile: %v", p, err)
				}
				qt, qlo, qhi := quantileColumns(q)
				checkGoldenFloats(t, p+"quantile", qt, grp.Quantiles.Quantile)
				checkGoldenFloats(t, p+"quantile lower", qlo, grp.Quantiles.Lower)
				checkGoldenFloats(t, p+"quantile upper", qhi, grp.Quantiles.Upper)

				for _, r := range grp.RMean {
					got, err := e.RMST(r.Tau)
					if r.Error != "" {
						if err == nil {
							t.Errorf("%sRMST(%v) = %+v; R fails: %s", p, r.Tau, got, r.Error)
						}
						continue
					}
					if err != nil {
						t.Errorf("%sRMST(%v): %v", p, r.Tau, err)
						continue
					}
					checkGoldenFloats(t, p+"rmean", []float64{got.Mean, got.SE}, []float64{float64(r.RMean), float64(r.SE)})
				}

				fu, err := MedianFollowUp(table, opts)
				if err != nil {
					t.Fatalf("%sMedianFollowUp: %v", p, err)
				}
				checkGoldenFloats(t, p+"follow-up median", []float64{fu.Time, fu.Lower, fu.Upper},
					[]float64{grp.FollowUp.Quantile[0], grp.FollowUp.Lower[0], grp.FollowUp.Upper[0]})
			}
		})
	}
	if groupsChecked < 100 {
		t.Errorf("only %d curves checked", groupsChecked)
	}
}

// TestMedianMatchesPrintSurvfit compares TableMedian with the median R's print(fit) and
// summary(fit)$table report (survmean) on every golden curve, and Median with it: they agree
// except for a curve that ends flat at exactly 0.5 (documented on Quantile and TableMedian).
func TestMedianMatchesPrintSurvfit(t *testing.T) {
	g := loadKMGoldens(t)
	differ := 0
	for _, c := range g.KM {
		d := g.Datasets[c.Dataset]
		ct, _ := ParseConfType(c.ConfType)
		for _, grp := range c.Groups {
			col, level := c.GroupBy, grp.Group
			if col == "" {
				level = ""
			}
			e, err := KaplanMeier(d.pooledTable(t, col, level, c.Bin), KMOptions{ConfType: ct, ConfLevel: c.ConfInt})
			if err != nil {
				t.Fatal(err)
			}
			want := []float64{float64(grp.TableMedian.Median), float64(grp.TableMedian.LCL), float64(grp.TableMedian.UCL)}
			tm := e.TableMedian()
			checkGoldenFloats(t, c.Name+" "+grp.Group+" TableMedian", []float64{tm.Time, tm.Lower, tm.Upper}, want)
			m := e.Median()
			got := []float64{m.Time, m.Lower, m.Upper}
			same := true
			for i := range got {
				same = same && goldenEqual(got[i], want[i], goldenAbsEst, goldenRelEst)
			}
			if !same {
				differ++
				if grp.Group != "ends_half" {
					t.Errorf("%s %s: median %v, print(fit): %v", c.Name, grp.Group, got, want)
				}
			}
		}
	}
	if differ != 3 { // ends_half under the three interval types
		t.Errorf("%d curves differ from print(fit); want exactly the 3 ending flat at 0.5", differ)
	}
}

// survfitRows is a table of rows of R's summary(survfit): the curve (censored = TRUE) or its
// landmarks (times = ...). A column R did not write stays nil.
type survfitRows struct {
	Group     goldenStrings `json:"group"`
	Time      goldenFloats  `json:"time"`
	NRisk     goldenFloats  `json:"n_risk"`
	NEvent    goldenFloats  `json:"n_event"`
	NCensor   goldenFloats  `json:"n_censor"`
	Surv      goldenFloats  `json:"surv"`
	StdErr    goldenFloats  `json:"std_err"`
	StdErrLog goldenFloats  `json:"std_err_log"`
	Lower     goldenFloats  `json:"lower"`
	Upper     goldenFloats  `json:"upper"`
}

// TestLungReference checks against the lead's reference files: R on the pooled lung records with
// exact times (bin 0) and with times coarsened to 30 days (bin 30), while Go coarsens each site's
// table and merges, as the nodes and the client do.
func TestLungReference(t *testing.T) {
	g := loadKMGoldens(t)
	lung := g.Datasets["lung"]
	for _, bin := range []int{0, 30} {
		t.Run(fmt.Sprintf("lung_expected_bin%d.json", bin), func(t *testing.T) {
			ref := lungtest.ReadExpected(t, bin)
			w := float64(bin)
			all := lung.pooledTable(t, "", "", w)
			for _, k := range []struct {
				ct  ConfType
				ref lungtest.Survfit
			}{{ConfLog, ref.Overall.KM}, {ConfLogLog, ref.Overall.KMLogLog}, {ConfPlain, ref.Overall.KMPlain}} {
				e, err := KaplanMeier(all, KMOptions{ConfType: k.ct})
				if err != nil {
					t.Fatal(err)
				}
				checkLungKM(t, "overall "+k.ct.String(), e, k.ref, "all")
			}
			checkLungMedians(t, "overall", []SurvivalTable{all}, ref.Overall.Median)

			sexes := []string{"female", "male"}
			var bySex []SurvivalTable
			for _, s := range sexes {
				tab := lung.pooledTable(t, "sex", s, w)
				bySex = append(bySex, tab)
				e, err := KaplanMeier(tab, KMOptions{})
				if err != nil {
					t.Fatal(err)
				}
				checkLungKM(t, "sex "+s, e, ref.BySex.KM, s)
			}
			checkLungMedians(t, "sex", bySex, ref.BySex.Median)
			lr, err := LogRank(bySex)
			if err != nil {
				t.Fatal(err)
			}
			checkLungLogRank(t, "by sex", lr, ref.BySex.LogRank)
			strat := lungStrata(t, lung, "sex", sexes, w)
			slr, err := StratifiedLogRank(strat)
			if err != nil {
				t.Fatal(err)
			}
			checkLungLogRank(t, "by sex, site strata", slr, ref.BySex.LogRankSiteStrata)

			var byECOG []SurvivalTable
			for _, s := range []string{"ecog0", "ecog1", "ecog2", "ecog3"} {
				byECOG = append(byECOG, lung.pooledTable(t, "ecog", s, w))
			}
			checkLungMedians(t, "ecog", byECOG, ref.ByECOG.Median)
			elr, err := LogRank(byECOG)
			if err != nil {
				t.Fatal(err)
			}
			checkLungLogRank(t, "by ecog", elr, ref.ByECOG.LogRank)
		})
	}
}

// lungStrata returns the group tables of every site (coarsened per site), groups in the order given.
func lungStrata(tb testing.TB, d goldenDataset, col string, levels []string, w float64) [][]SurvivalTable {
	tb.Helper()
	sites, _ := d.siteTables(tb, "", "", w)
	idx := map[string]int{}
	strata := make([][]SurvivalTable, len(sites))
	for i, s := range sites {
		idx[s] = i
		strata[i] = make([]SurvivalTable, len(levels))
	}
	for g, level := range levels {
		ss, ts := d.siteTables(tb, col, level, w)
		for i, s := range ss {
			strata[idx[s]][g] = ts[i]
		}
	}
	return strata
}

func checkLungKM(t *testing.T, what string, e *KMEstimate, ref lungtest.Survfit, group string) {
	t.Helper()
	var time, surv, se, lo, hi []float64
	var nrisk, nevent, ncensor []int
	for i, g := range ref.Group {
		if g != group {
			continue
		}
		time = append(time, ref.Time[i])
		nrisk = append(nrisk, ref.NRisk[i])
		nevent = append(nevent, ref.NEvent[i])
		ncensor = append(ncensor, ref.NCensor[i])
		surv = append(surv, ref.Surv[i])
		se = append(se, ref.StdErr[i])
		lo = append(lo, ref.Lower[i])
		hi = append(hi, ref.Upper[i])
	}
	if len(time) == 0 {
		t.Fatalf("%s: no reference rows for group %q", what, group)
	}
	checkGoldenFloats(t, what+" time", e.Time, time)
	checkGoldenInts(t, what+" n.risk", e.NRisk, nrisk)
	checkGoldenInts(t, what+" n.event", e.NEvent, nevent)
	checkGoldenInts(t, what+" n.censor", e.NCensor, ncensor)
	checkGoldenFloats(t, what+" surv", e.Surv, surv)
	checkGoldenFloats(t, what+" std.err", e.StdErr, se)
	checkGoldenFloats(t, what+" lower", e.Lower, lo)
	checkGoldenFloats(t, what+" upper", e.Upper, hi)
}

func checkLungMedians(t *testing.T, what string, tables []SurvivalTable, ref lungtest.Medians) {
	t.Helper()
	if len(ref.Median) != len(tables) {
		t.Fatalf("%s: %d groups, reference has %d", what, len(tables), len(ref.Median))
	}
	for i, tab := range tables {
		e, err := KaplanMeier(tab, KMOptions{})
		if err != nil {
			t.Fatal(err)
		}
		m := e.Median()
		r, err := e.RMST(365)
		if err != nil {
			t.Fatal(err)
		}
		w := what + " " + ref.Group[i]
		checkGoldenInts(t, w+" n, events", []int{e.N, e.Events}, []int{ref.N[i], ref.Events[i]})
		checkGoldenFloats(t, w+" median, LCL, UCL", []float64{m.Time, m.Lower, m.Upper}, []float64{ref.Median[i], ref.LCL[i], ref.UCL[i]})
		checkGoldenFloats(t, w+" rmean(365), se", []float64{r.Mean, r.SE}, []float64{ref.RMean365[i], ref.RMeanSE[i]})
	}
}

func checkLungLogRank(t *testing.T, what string, got *LogRankResult, ref lungtest.LogRank) {
	t.Helper()
	if got.DF != ref.DF {
		t.Errorf("%s: df = %d, R: %d", what, got.DF, ref.DF)
	}
	checkGoldenFloats(t, what+" chisq", []float64{got.ChiSq}, []float64{ref.ChiSq})
	checkGoldenFloatsTol(t, what+" p", []float64{got.P}, []float64{ref.P}, goldenAbsP, goldenRelP)
}

func TestKaplanMeierErrors(t *testing.T) {
	if _, err := KaplanMeier(SurvivalTable{}, KMOptions{}); !errors.Is(err, ErrKMEmpty) {
		t.Errorf("empty table: err = %v, want ErrKMEmpty", err)
	}
	bad := SurvivalTable{Time: []float64{2, 1}, Events: []int{1, 1}, Censor: []int{0, 0}}
	if _, err := KaplanMeier(bad, KMOptions{}); err == nil || !strings.Contains(err.Error(), "row 1") {
		t.Errorf("unsorted table: err = %v, want an error naming row 1", err)
	}
	// Subjects entering at 1 are not at risk at 1: two events at 1 among one at risk.
	entry := SurvivalTable{Time: []float64{1, 2}, Events: []int{2, 1}, Censor: []int{0, 0}, Entries: []int{2, 0}}
	if _, err := KaplanMeier(entry, KMOptions{}); err == nil || !strings.Contains(err.Error(), "at risk") {
		t.Errorf("more events than entered subjects: err = %v, want an error about the number at risk", err)
	}
	e, err := KaplanMeier(SurvivalTable{Time: []float64{1, 2}, Events: []int{1, 0}, Censor: []int{0, 1}}, KMOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []float64{-0.1, 1.5, math.NaN()} {
		if _, err := e.Quantile(p); err == nil {
			t.Errorf("Quantile(%v): no error", p)
		}
	}
	if _, err := e.At([]float64{1, math.Inf(1)}); err == nil {
		t.Error("At(+Inf): no error")
	}
	if _, err := e.RMST(math.NaN()); err == nil {
		t.Error("RMST(NaN): no error")
	}
	if _, err := ParseConfType("logit"); err == nil {
		t.Error(`ParseConfType("logit"): no error`)
	}
	for _, s := range []string{"log", "log-log", "plain", "none"} {
		c, err := ParseConfType(s)
		if err != nil || c.String() != s {
			t.Errorf("ParseConfType(%q) = %v, %v", s, c, err)
		}
	}
	// A conf type of none keeps the estimate and leaves the interval undefined.
	n, err := KaplanMeier(SurvivalTable{Time: []float64{1, 2}, Events: []int{1, 1}, Censor: []int{1, 0}}, KMOptions{ConfType: ConfNone})
	if err != nil {
		t.Fatal(err)
	}
	if n.Surv[0] != 2.0/3 || !math.IsNaN(n.Lower[0]) || !math.IsNaN(n.Upper[0]) {
		t.Errorf("conf none: surv %v lower %v upper %v", n.Surv[0], n.Lower[0], n.Upper[0])
	}
	defer func() {
		if r := recover(); r == nil || !strings.HasPrefix(r.(string), "analysis: ") {
			t.Errorf("ConfLevel 1.5: recovered %v, want an analysis: panic", r)
		}
	}()
	KaplanMeier(SurvivalTable{Time: []float64{1}, Events: []int{1}, Censor: []int{0}}, KMOptions{ConfLevel: 1.5})
}

// TestKaplanMeierSkipsEmptyRows: a merged table may carry a time with no event and no censoring
// (a site reporting an empty bin); R would have no such row.
func TestKaplanMeierSkipsEmptyRows(t *testing.T) {
	a := SurvivalTable{Time: []float64{1, 2, 3}, Events: []int{1, 0, 1}, Censor: []int{0, 0, 1}}
	b := SurvivalTable{Time: []float64{1, 3}, Events: []int{1, 1}, Censor: []int{0, 1}}
	ea, err := KaplanMeier(a, KMOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eb, _ := KaplanMeier(b, KMOptions{})
	if len(ea.Time) != 2 || ea.Time[1] != 3 || ea.Surv[1] != eb.Surv[1] || ea.Upper[1] != eb.Upper[1] {
		t.Errorf("empty row not skipped: %+v", ea)
	}
}

// TestAtNegativeLandmark: a landmark before 0 reads the start of the curve and keeps its own
// time. R 4 survival: summary(survfit(Surv(c(10, 20, 30), c(1, 1, 0)) ~ 1), times = c(-5, 15),
// extend = TRUE) gives time -5, 15; surv 1, 2/3; n.risk 3, 2.
func TestAtNegativeLandmark(t *testing.T) {
	tab, err := NewSurvivalTable([]float64{10, 20, 30}, []bool{true, true, false})
	if err != nil {
		t.Fatal(err)
	}
	e, err := KaplanMeier(tab, KMOptions{})
	if err != nil {
		t.Fatal(err)
	}
	marks, err := e.At([]float64{15, -5})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		time, surv float64
		nrisk      int
	}{{-5, 1, 3}, {15, 2.0 / 3, 2}}
	for i, w := range want {
		m := marks[i]
		if m.Time != w.time || !goldenEqual(m.Surv, w.surv, goldenAbsEst, goldenRelEst) || m.NRisk != w.nrisk {
			t.Errorf("landmark %d: time %v, surv %v, n.risk %d; R: %v, %v, %d", i, m.Time, m.Surv, m.NRisk, w.time, w.surv, w.nrisk)
		}
	}
}
