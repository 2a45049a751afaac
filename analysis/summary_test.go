package analysis

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"

	"github.com/oncofed/oncofed/internal/lungtest"
)

// summaryGolden mirrors testdata/summary_expected.json, written by testdata/summary_goldens.R
// (R 4.2 on lung.csv, patient level). A null in the JSON (e.g. an ogive quantile in an open
// cell) decodes as NaN through goldenFloat.
type summaryGolden struct {
	Groups  []string  `json:"groups"`
	Probs   []float64 `json:"probs"`
	Numeric []struct {
		Variable string                 `json:"variable"`
		Edges    []float64              `json:"edges"`
		ByGroup  []summaryGoldenNumeric `json:"by_group"`
		Overall  summaryGoldenNumeric   `json:"overall"`
		SMD      float64                `json:"smd"`
	} `json:"numeric"`
	Categorical []struct {
		Variable string                     `json:"variable"`
		Levels   []string                   `json:"levels"`
		ByGroup  []summaryGoldenCategorical `json:"by_group"`
		Overall  summaryGoldenCategorical   `json:"overall"`
		SMD      float64                    `json:"smd"`
	} `json:"categorical"`
	AgeBySite []struct {
		Site string      `json:"site"`
		N    int         `json:"n"`
		Mean float64     `json:"mean"`
		SD   goldenFloat `json:"sd"`
	} `json:"age_by_site"`
}

type summaryGoldenNumeric struct {
	Group         string        `json:"group"`
	N             int           `json:"n"`
	Missing       int           `json:"missing"`
	Sum           float64       `json:"sum"`
	SumSq         float64       `json:"sum_sq"`
	Mean          float64       `json:"mean"`
	SD            float64       `json:"sd"`
	Hist          []int         `json:"hist"`
	ExactQuantile []float64     `json:"exact_quantile"`
	HistQuantile  []goldenFloat `json:"hist_quantile"`
	BracketLower  []float64     `json:"bracket_lower"`
	BracketUpper  []float64     `json:"bracket_upper"`
}

type summaryGoldenCategorical struct {
	Group   string    `json:"group"`
	Counts  []int     `json:"counts"`
	Missing int       `json:"missing"`
	Percent []float64 `json:"percent"`
}

func summaryLoadGolden(t *testing.T) summaryGolden {
	t.Helper()
	var g summaryGolden
	loadGolden(t, "summary_expected.json", &g)
	if len(g.Numeric) != 3 || len(g.Categorical) != 2 || len(g.Groups) != 2 {
		t.Fatalf("summary_expected.json: %d numeric, %d categorical variables, %d groups; want 3, 2, 2", len(g.Numeric), len(g.Categorical), len(g.Groups))
	}
	return g
}

// summaryLungSites plays the site nodes: it reads the real lung.csv and releases, per
// institution and sex, the aggregates a node sends (counts, n, Σx, Σx², histogram counts on
// the golden's edges). No cell is suppressed.
func summaryLungSites(t *testing.T, g summaryGolden) []SiteAggregate {
	t.Helper()
	header, rows := lungtest.Read(t)
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	type key struct{ site, group string }
	aggs := map[key]*GroupAggregate{}
	var keys []key
	for line, r := range rows {
		k := key{r[col["site"]], r[col["sex"]]}
		a := aggs[k]
		if a == nil {
			a = &GroupAggregate{Group: k.group}
			for _, v := range g.Numeric {
				a.Variables = append(a.Variables, VariableAggregate{Name: v.Variable, Numeric: true,
					Edges: v.Edges, Histogram: make([]CellCount, len(v.Edges)+1)})
			}
			for _, v := range g.Categorical {
				a.Variables = append(a.Variables, VariableAggregate{Name: v.Variable, Categories: map[string]CellCount{}})
			}
			aggs[k] = a
			keys = append(keys, k)
		}
		a.N.N++
		for i := range a.Variables {
			v := &a.Variables[i]
			s := r[col[v.Name]]
			if s == "" {
				v.Missing.N++
				continue
			}
			if !v.Numeric {
				c := v.Categories[s]
				c.N++
				v.Categories[s] = c
				continue
			}
			// lung.csv writes ECOG as a category, ecog0…ecog3; read as numeric, it is its digit.
			x, err := strconv.ParseFloat(strings.TrimPrefix(s, "ecog"), 64)
			if err != nil {
				t.Fatalf("lung.csv line %d: %v", line+2, err)
			}
			v.N.N++
			v.Sum += x
			v.SumSq += x * x
			// Cell index = number of edges ≤ x, R's findInterval.
			v.Histogram[sort.Search(len(v.Edges), func(i int) bool { return v.Edges[i] > x })].N++
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].site != keys[j].site {
			return keys[i].site < keys[j].site
		}
		return keys[i].group < keys[j].group
	})
	var sites []SiteAggregate
	for _, k := range keys {
		if len(sites) == 0 || sites[len(sites)-1].Site != k.site {
			sites = append(sites, SiteAggregate{Site: k.site})
		}
		s := &sites[len(sites)-1]
		s.Groups = append(s.Groups, *aggs[k])
	}
	if len(sites) != 18 {
		t.Fatalf("lung.csv: %d sites, want 18 institutions", len(sites))
	}
	return sites
}

func summaryClose(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(want) && math.IsNaN(got) {
		return
	}
	if !scalar.EqualWithinAbsOrRel(got, want, tol, tol) {
		t.Errorf("%s = %.17g, want %.17g (R summary_goldens.R)", what, got, want)
	}
}

func summaryCheckNumeric(t *testing.T, what string, s NumericSummary, want summaryGoldenNumeric, probs []float64) {
	t.Helper()
	if !s.N.Exact() || s.N.N != want.N || s.UsedN != want.N || s.Missing != ExactCount(want.Missing) || s.Partial {
		t.Errorf("%s: n %v used %d missing %v partial %v, want n %d missing %d", what, s.N, s.UsedN, s.Missing, s.Partial, want.N, want.Missing)
	}
	summaryClose(t, what+" mean", s.Mean, want.Mean, 1e-9)
	summaryClose(t, what+" SD", s.SD, want.SD, 1e-9)
	if len(s.Quantiles) != len(probs) {
		t.Fatalf("%s: %d quantiles, want %d", what, len(s.Quantiles), len(probs))
	}
	for i, q := range s.Quantiles {
		qw := fmt.Sprintf("%s P%g", what, 100*probs[i])
		summaryClose(t, qw+" ogive value", q.Value, float64(want.HistQuantile[i]), 1e-9)
		if q.Lower != want.BracketLower[i] || q.Upper != want.BracketUpper[i] {
			t.Errorf("%s bracket [%v, %v], want [%v, %v]", qw, q.Lower, q.Upper, want.BracketLower[i], want.BracketUpper[i])
		}
		// The documented bound: R's exact quantile is in the bracket, and so within
		// Upper − Lower of the interpolated value.
		exact := want.ExactQuantile[i]
		if exact < q.Lower || exact > q.Upper || math.Abs(q.Value-exact) > q.Upper-q.Lower {
			t.Errorf("%s: exact R quantile %v not within bound of %v [%v, %v]", qw, exact, q.Value, q.Lower, q.Upper)
		}
	}
}

func TestTable1AgainstR(t *testing.T) {
	g := summaryLoadGolden(t)
	tab, err := BuildTable1(summaryLungSites(t, g), Table1Options{Probs: g.Probs})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(tab.Columns) != "[female male Overall]" {
		t.Fatalf("columns %v", tab.Columns)
	}
	// R: table(lung$sex) without inst NA: 90 female, 137 male.
	if tab.N[0] != ExactCount(90) || tab.N[1] != ExactCount(137) || tab.N[2] != ExactCount(227) {
		t.Errorf("N = %v, want 90, 137, 227", tab.N)
	}
	byName := map[string]Table1Variable{}
	for _, v := range tab.Variables {
		byName[v.Name] = v
	}
	for _, want := range g.Numeric {
		v := byName[want.Variable]
		if !v.Numeric || len(v.Numerics) != 3 {
			t.Fatalf("%s: numeric %v with %d columns", want.Variable, v.Numeric, len(v.Numerics))
		}
		for i, w := range want.ByGroup {
			summaryCheckNumeric(t, want.Variable+" "+w.Group, v.Numerics[i], w, g.Probs)
		}
		summaryCheckNumeric(t, want.Variable+" overall", v.Numerics[2], want.Overall, g.Probs)
		summaryClose(t, want.Variable+" SMD", v.SMD, want.SMD, 1e-9)
	}
	for _, want := range g.Categorical {
		v := byName[want.Variable]
		if v.Numeric || len(v.Categorical) != 3 {
			t.Fatalf("%s: numeric %v with %d columns", want.Variable, v.Numeric, len(v.Categorical))
		}
		check := func(what string, s CategoricalSummary, w summaryGoldenCategorical) {
			if fmt.Sprint(s.Levels) != fmt.Sprint(want.Levels) {
				t.Errorf("%s levels %v, want %v", what, s.Levels, want.Levels)
			}
			if s.Missing != ExactCount(w.Missing) {
				t.Errorf("%s missing %v, want %d", what, s.Missing, w.Missing)
			}
			for i := range want.Levels {
				if s.Counts[i] != ExactCount(w.Counts[i]) {
					t.Errorf("%s %s: count %v, want %d", what, want.Levels[i], s.Counts[i], w.Counts[i])
				}
				summaryClose(t, what+" "+want.Levels[i]+" %", s.Percent[i], w.Percent[i], 1e-9)
			}
		}
		for i, w := range want.ByGroup {
			check(want.Variable+" "+w.Group, v.Categorical[i], w)
		}
		check(want.Variable+" overall", v.Categorical[2], want.Overall)
		summaryClose(t, want.Variable+" SMD", v.SMD, want.SMD, 1e-9)
	}
}

// The per-site view: one column per institution, compared with R's per-site mean and sd.
func TestTable1BySiteAgainstR(t *testing.T) {
	g := summaryLoadGolden(t)
	tab, err := BuildTable1BySite(summaryLungSites(t, g), Table1Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Columns) != len(g.AgeBySite)+1 {
		t.Fatalf("%d columns, want %d sites + overall", len(tab.Columns), len(g.AgeBySite))
	}
	var age Table1Variable
	for _, v := range tab.Variables {
		if v.Name == "age" {
			age = v
		}
	}
	for i, w := range g.AgeBySite {
		if tab.Columns[i] != w.Site || tab.N[i] != ExactCount(w.N) {
			t.Errorf("column %d: %s n=%v, want %s n=%d", i, tab.Columns[i], tab.N[i], w.Site, w.N)
		}
		s := age.Numerics[i]
		summaryClose(t, w.Site+" age mean", s.Mean, w.Mean, 1e-9)
		summaryClose(t, w.Site+" age SD", s.SD, float64(w.SD), 1e-9)
	}
	if !(age.SMD > 0) {
		t.Errorf("mean pairwise SMD over sites = %v, want > 0", age.SMD)
	}
}

// Splitting a group's values across sites in any way must not change the merged result: the
// merge is exact. Here: one site per patient versus everything at one site.
func TestMergeVariablesSplitInvariance(t *testing.T) {
	xs := []float64{39, 82, 63.5, 70.25, 55, 55, 61, 47.75, 90, 33}
	edges := []float64{40, 50, 60, 70, 80}
	one := func(vals []float64) VariableAggregate {
		v := VariableAggregate{Name: "x", Numeric: true, Edges: edges, Histogram: make([]CellCount, len(edges)+1)}
		for _, x := range vals {
			v.N.N++
			v.Sum += x
			v.SumSq += x * x
			v.Histogram[sort.Search(len(edges), func(i int) bool { return edges[i] > x })].N++
		}
		return v
	}
	var parts []VariableAggregate
	for _, x := range xs {
		parts = append(parts, one([]float64{x}))
	}
	m, err := MergeVariables(parts)
	if err != nil {
		t.Fatal(err)
	}
	all := one(xs)
	if m.N != all.N || m.Sum != all.Sum || m.SumSq != all.SumSq || fmt.Sprint(m.Histogram) != fmt.Sprint(all.Histogram) {
		t.Errorf("merged %+v\nwant %+v", m, all)
	}
	// The merged aggregate must not alias its parts' slices.
	m.Histogram[0].N = 99
	if parts[0].Histogram[0].N == 99 {
		t.Error("MergeVariables aliases the first part's histogram")
	}
}

// MeanSD must keep its digits when the mean is large against the SD, where the textbook
// (Σx² − (Σx)²/n)/(n − 1) loses them. x = 9·10⁶ fifty times and 9·10⁶ + 1 fifty times: the sums
// are exact in float64 (Σx² < 2^53) and s² = 0.25·100/99.
func TestMeanSDCancellation(t *testing.T) {
	var sum, sumSq float64
	n := 100
	for i := 0; i < n; i++ {
		x := 9e6 + float64(i%2)
		sum += x
		sumSq += x * x
	}
	mean, sd := MeanSD(n, sum, sumSq)
	wantSD := math.Sqrt(0.25 * 100 / 99)
	if mean != 9e6+0.5 {
		t.Errorf("mean = %v, want 9000000.5", mean)
	}
	if !scalar.EqualWithinRel(sd, wantSD, 1e-14) {
		t.Errorf("sd = %.17g, want %.17g (rel err %.2g)", sd, wantSD, math.Abs(sd-wantSD)/wantSD)
	}
	// The data must really defeat the textbook formula, or this test proves nothing.
	naive := math.Sqrt(math.Max(0, sumSq-sum*sum/float64(n)) / float64(n-1))
	if math.Abs(naive-wantSD)/wantSD < 1e-6 {
		t.Errorf("textbook formula is accurate here (%v vs %v): the test data lost its point", naive, wantSD)
	}

	if m, s := MeanSD(1, 5, 25); m != 5 || !math.IsNaN(s) {
		t.Errorf("n=1: %v, %v; want 5, NaN", m, s)
	}
	if m, s := MeanSD(0, 0, 0); !math.IsNaN(m) || !math.IsNaN(s) {
		t.Errorf("n=0: %v, %v; want NaN, NaN", m, s)
	}
	if _, s := MeanSD(3, 21, 147); s != 0 {
		t.Errorf("equal values 7, 7, 7: sd = %v, want 0", s)
	}
}

func TestCellCount(t *testing.T) {
	s := SuppressedCount(5) // true count 1..4
	if s.String() != "<5" || s.Exact() {
		t.Errorf("SuppressedCount(5) = %v %q", s, s.String())
	}
	sum := ExactCount(10).Add(s).Add(SuppressedCount(11))
	if sum != (CellCount{N: 12, Suppressed: true, Max: 24}) || sum.String() != "12–24" {
		t.Errorf("10 + <5 + <11 = %+v %q, want 12–24", sum, sum.String())
	}
	// An interval wider than its lower bound reads as its bound (walkthrough: "9–272").
	if wide := (CellCount{N: 9, Suppressed: true, Max: 272}); wide.String() != "<273" {
		t.Errorf("9–272 renders %q, want <273", wide.String())
	}
	unknown := ExactCount(3).Add(SuppressedCount(0))
	if unknown.String() != "≥4" {
		t.Errorf("3 + suppressed(unknown bound) = %q, want ≥4", unknown.String())
	}
	if ExactCount(7).String() != "7" || !ExactCount(7).Exact() {
		t.Error("ExactCount(7)")
	}
}

// Suppressed cells propagate: merged totals become intervals, percentages get ranges, the
// SMD is not computed from inexact counts, and a site with a suppressed n is left out of the
// mean (reported as Partial with the values left out).
func TestTable1Suppression(t *testing.T) {
	edges := []float64{50, 60, 70}
	site := func(name string, n CellCount, sum, sumSq float64, hist []CellCount, cats map[string]CellCount) SiteAggregate {
		return SiteAggregate{Site: name, Groups: []GroupAggregate{{Group: "A", N: n, Variables: []VariableAggregate{
			{Name: "age", Numeric: true, N: n, Sum: sum, SumSq: sumSq, Edges: edges, Histogram: hist},
			{Name: "stage", Categories: cats},
		}}, {Group: "B", N: ExactCount(2), Variables: []VariableAggregate{
			{Name: "age", Numeric: true, N: ExactCount(2), Sum: 120, SumSq: 7202, Edges: edges, Histogram: []CellCount{{}, {}, ExactCount(2), {}}},
			{Name: "stage", Categories: map[string]CellCount{"I": ExactCount(2)}},
		}}}}
	}
	e := ExactCount
	sites := []SiteAggregate{
		// values 55, 65, 65, 75: n=4, Σ=260, Σ²=17100
		site("s1", e(4), 260, 17100, []CellCount{e(0), e(1), e(2), e(1)}, map[string]CellCount{"I": e(3), "II": SuppressedCount(5)}),
		// a small site: n suppressed; its sums must be ignored even if (wrongly) sent
		site("s2", SuppressedCount(5), 1e6, 1e12, nil, map[string]CellCount{"I": SuppressedCount(5)}),
	}
	tab, err := BuildTable1(sites, Table1Options{})
	if err != nil {
		t.Fatal(err)
	}
	age := tab.Variables[0].Numerics[0]
	if age.N.String() != "5–8" || age.UsedN != 4 || !age.Partial || age.Mean != 65 {
		t.Errorf("age in A: n %q used %d partial %v mean %v; want 5–8, 4, true, 65", age.N.String(), age.UsedN, age.Partial, age.Mean)
	}
	stage := tab.Variables[1].Categorical[0]
	if fmt.Sprint(stage.Levels) != "[I II]" || stage.Counts[0].String() != "4–7" || stage.Counts[1].String() != "<5" {
		t.Errorf("stage in A: %v %v", stage.Levels, stage.Counts)
	}
	// I: count in [4, 7], II in [1, 4]: % I in [4/8, 7/8], % II in [1/8, 4/8].
	if !math.IsNaN(stage.Percent[0]) || stage.PercentRange[0] != [2]float64{50, 87.5} || stage.PercentRange[1] != [2]float64{12.5, 50} {
		t.Errorf("stage %% in A: %v %v", stage.Percent, stage.PercentRange)
	}
	if !math.IsNaN(tab.Variables[1].SMD) {
		t.Errorf("stage SMD with suppressed counts = %v, want NaN", tab.Variables[1].SMD)
	}
	// The used values (site s1: 55, 65, 65, 75) have an exact histogram: ogive median
	// 60 + (2 − 1)/2 · 10 = 65, type-7 ranks 2 and 3 both in [60, 70).
	if q := age.Quantiles[1]; q.Value != 65 || q.Lower != 60 || q.Upper != 70 {
		t.Errorf("age median in A = %+v, want 65 in [60, 70]", q)
	}
	if len(tab.Notes) == 0 || !strings.Contains(tab.Notes[0], "age (A)") {
		t.Errorf("notes %v, want one on age (A)", tab.Notes)
	}
	var md bytes.Buffer
	if err := tab.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| n | 5–8 | 4 | 9–12 |", "0 (0.0)", "65.0 (8.2)*", "4–7 (50.0–87.5)", "<5 (≤50.0)"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
}

// With suppressed histogram cells and an exact n, the quantile bracket must contain the
// bracket of every completion of the counts: checked by brute force over all completions.
func TestHistogramQuantileSuppressedBracket(t *testing.T) {
	edges := []float64{10, 20, 30, 40}
	counts := []CellCount{ExactCount(0), SuppressedCount(5), ExactCount(5), SuppressedCount(5), ExactCount(2)}
	n := 12 // the two suppressed cells (1..4 each) hold 5 values between them: a + b = 5
	for _, p := range []float64{0, 0.1, 0.25, 0.5, 0.75, 0.9, 1} {
		got := HistogramQuantile(edges, counts, n, p)
		if !math.IsNaN(got.Value) {
			t.Errorf("p=%v: value %v with suppressed cells, want NaN", p, got.Value)
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for a := 1; a <= 4; a++ {
			c := []CellCount{ExactCount(0), ExactCount(a), ExactCount(5), ExactCount(5 - a), ExactCount(2)}
			q := HistogramQuantile(edges, c, n, p)
			if q.Value < q.Lower || q.Value > q.Upper {
				t.Errorf("p=%v completion %d/%d: value %v outside [%v, %v]", p, a, 5-a, q.Value, q.Lower, q.Upper)
			}
			lo, hi = math.Min(lo, q.Lower), math.Max(hi, q.Upper)
		}
		if got.Lower != lo || got.Upper != hi {
			t.Errorf("p=%v: bracket [%v, %v], want the union of completions [%v, %v]", p, got.Lower, got.Upper, lo, hi)
		}
	}
	if q := HistogramQuantile(edges, counts, 30, 0.5); !math.IsNaN(q.Lower) {
		t.Errorf("n beyond the cells' upper bounds: %+v, want NaN", q)
	}
}

func TestHistogramQuantileOpenCellsAndEdges(t *testing.T) {
	e := ExactCount
	edges := []float64{10, 20}
	// 3 values below 10, 1 in [10, 20), 1 at or above 20.
	counts := []CellCount{e(3), e(1), e(1)}
	q := HistogramQuantile(edges, counts, 5, 0.5)
	if !math.IsNaN(q.Value) || !math.IsInf(q.Lower, -1) || q.Upper != 10 {
		t.Errorf("median in the open lower cell: %+v, want NaN in (−Inf, 10]", q)
	}
	if s := summaryFormatQuantile(q, func(x float64) string { return strconv.FormatFloat(x, 'f', 0, 64) }); s != "<10" {
		t.Errorf("rendered %q, want <10", s)
	}
	// p = 0.7: p·n = 3.5 in [10, 20): 10 + (3.5 − 3)/1 · 10 = 15.
	if q := HistogramQuantile(edges, counts, 5, 0.7); q.Value != 15 {
		t.Errorf("P70 = %+v, want 15", q)
	}
	if q := HistogramQuantile(edges, []CellCount{e(0), e(0), e(0)}, 0, 0.5); !math.IsNaN(q.Value) || !math.IsNaN(q.Lower) {
		t.Errorf("no values: %+v, want NaN", q)
	}
	// p = 0 and 1: edges of the first and last non-empty finite cells.
	c := []CellCount{e(0), e(2), e(0)}
	if lo, hi := HistogramQuantile(edges, c, 2, 0), HistogramQuantile(edges, c, 2, 1); lo.Value != 10 || hi.Value != 20 {
		t.Errorf("P0 = %v, P100 = %v; want 10, 20", lo.Value, hi.Value)
	}
	for _, bad := range []func(){
		func() { HistogramQuantile(edges, counts, 5, 1.5) },
		func() { HistogramQuantile(edges, counts[:2], 5, 0.5) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.HasPrefix(fmt.Sprint(r), "analysis: ") {
					t.Errorf("panic %v, want one prefixed analysis:", r)
				}
			}()
			bad()
		}()
	}
}

func TestSMDCategorical(t *testing.T) {
	// Two levels reduce to |p1 − p2| / √((p1(1−p1) + p2(1−p2))/2) (Yang & Dalton 2012, eq. 2).
	p1, p2 := 0.3, 0.55
	want := math.Abs(p1-p2) / math.Sqrt((p1*(1-p1)+p2*(1-p2))/2)
	if got := SMDCategorical([]float64{1 - p1, p1}, []float64{1 - p2, p2}); !scalar.EqualWithinRel(got, want, 1e-14) {
		t.Errorf("binary SMD = %v, want %v", got, want)
	}
	if got := SMDCategorical([]float64{0.2, 0.3, 0.5}, []float64{0.2, 0.3, 0.5}); got != 0 {
		t.Errorf("equal groups: %v, want 0", got)
	}
	if got := SMDCategorical([]float64{0, 1}, []float64{1, 0}); !math.IsInf(got, 1) {
		t.Errorf("complete separation: %v, want +Inf", got)
	}
	// A level empty in both groups leaves S singular: the pseudo-inverse drops it, so the SMD
	// equals that without the level.
	a := SMDCategorical([]float64{0.2, 0.3, 0, 0.5}, []float64{0.4, 0.1, 0, 0.5})
	b := SMDCategorical([]float64{0.2, 0.3, 0.5}, []float64{0.4, 0.1, 0.5})
	if !scalar.EqualWithinRel(a, b, 1e-12) {
		t.Errorf("with an empty level %v, without %v", a, b)
	}
	if got := SMDNumeric(10, 3, 7, 4); !scalar.EqualWithinRel(got, 3/math.Sqrt(12.5), 1e-15) {
		t.Errorf("SMDNumeric = %v", got)
	}
}

func TestBuildTable1Errors(t *testing.T) {
	age := func(edges []float64) VariableAggregate {
		return VariableAggregate{Name: "age", Numeric: true, N: ExactCount(1), Sum: 5, SumSq: 25, Edges: edges, Histogram: make([]CellCount, len(edges)+1)}
	}
	cases := []struct {
		name  string
		sites []SiteAggregate
		want  string
	}{
		{"edges differ", []SiteAggregate{
			{Site: "a", Groups: []GroupAggregate{{Group: "g", Variables: []VariableAggregate{age([]float64{1, 2})}}}},
			{Site: "b", Groups: []GroupAggregate{{Group: "g", Variables: []VariableAggregate{age([]float64{1, 3})}}}},
		}, "histogram edges"},
		{"variable missing in a group", []SiteAggregate{
			{Site: "a", Groups: []GroupAggregate{{Group: "g", Variables: []VariableAggregate{age(nil)}}, {Group: "h"}}},
		}, `site "a" group "h": variable "age" missing`},
		{"kind differs", []SiteAggregate{
			{Site: "a", Groups: []GroupAggregate{{Group: "g", Variables: []VariableAggregate{age(nil)}}}},
			{Site: "b", Groups: []GroupAggregate{{Group: "g", Variables: []VariableAggregate{{Name: "age"}}}}},
		}, "numeric"},
		{"bad histogram", []SiteAggregate{
			{Site: "a", Groups: []GroupAggregate{{Group: "g", Variables: []VariableAggregate{{Name: "age", Numeric: true, Edges: []float64{1}, Histogram: make([]CellCount, 3)}}}}},
		}, "histogram cells"},
		{"negative count", []SiteAggregate{
			{Site: "a", Groups: []GroupAggregate{{Group: "g", Variables: []VariableAggregate{{Name: "x", Missing: ExactCount(-1)}}}}},
		}, "invalid missing"},
	}
	for _, c := range cases {
		_, err := BuildTable1(c.sites, Table1Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one containing %q", c.name, err, c.want)
		}
	}
	if _, err := BuildTable1(nil, Table1Options{Probs: []float64{2}}); err == nil {
		t.Error("probability 2: no error")
	}
}

// The CSV and Markdown renderings of the lung Table 1 carry R's numbers, rounded.
func TestTable1Rendering(t *testing.T) {
	g := summaryLoadGolden(t)
	tab, err := BuildTable1(summaryLungSites(t, g), Table1Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tab.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != "Characteristic,female,male,Overall,SMD" {
		t.Errorf("header %v", recs[0])
	}
	rows := map[string][]string{}
	for _, r := range recs[1:] {
		rows[r[0]] = r[1:]
	}
	// R: female age mean 61.0778, sd 8.8473; male 63.2993, 9.1598; SMD 0.2467.
	if got := strings.Join(rows["age, mean (SD)"], ";"); got != "61.1 (8.8);63.3 (9.2);62.4 (9.1);0.247" {
		t.Errorf("age row %q", got)
	}
	// R: ecog0 27/90 = 30.0% female, 36/136 = 26.5% male (one male missing ecog).
	if got := strings.Join(rows["  ecog0"], ";"); got != "27 (30.0);36 (26.5);63 (27.9);" {
		t.Errorf("ecog0 row %q", got)
	}
	if got := strings.Join(rows["wt.loss, median [Q1, Q3]"], ";"); !strings.HasPrefix(got, "7.1 [2.0, 15.3];") {
		t.Errorf("wt.loss quantile row %q (R ogive: 7.142857 [2.02381, 15.27778] for female)", got)
	}
	if got := strings.Join(rows["  missing"], ";"); got == "" {
		t.Error("no missing row")
	}
	var md bytes.Buffer
	if err := tab.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(md.String()), "\n")
	if len(lines) != len(tab.Rows)+2 || lines[1] != "|:---|---:|---:|---:|---:|" {
		t.Errorf("markdown: %d lines, want %d; separator %q", len(lines), len(tab.Rows)+2, lines[1])
	}
}

// Merging is associative, also with a site's suppressed n: merge(merge(a, b), c) = merge(a, b, c).
func TestMergeVariablesAssociativeWithSuppression(t *testing.T) {
	e := ExactCount
	edges := []float64{0, 10}
	a := VariableAggregate{Name: "x", Numeric: true, N: SuppressedCount(5), Sum: 12, SumSq: 80, Edges: edges, Histogram: []CellCount{e(0), e(2), e(0)}}
	b := VariableAggregate{Name: "x", Numeric: true, N: e(3), Sum: 15, SumSq: 77, Edges: edges, Histogram: []CellCount{e(0), e(3), e(0)}, Missing: e(1)}
	c := VariableAggregate{Name: "x", Numeric: true, N: e(2), Sum: 30, SumSq: 500, Edges: edges, Histogram: []CellCount{e(0), e(0), e(2)}}
	ab, err := MergeVariables([]VariableAggregate{a, b})
	if err != nil {
		t.Fatal(err)
	}
	nested, err := MergeVariables([]VariableAggregate{ab, c})
	if err != nil {
		t.Fatal(err)
	}
	flat, err := MergeVariables([]VariableAggregate{a, b, c})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%+v", nested) != fmt.Sprintf("%+v", flat) {
		t.Errorf("nested %+v\nflat   %+v", nested, flat)
	}
	s := SummarizeNumeric(flat, []float64{0.5})
	// Used: b and c, n = 5, Σx = 45: mean 9; a's sums are ignored.
	if s.UsedN != 5 || s.Mean != 9 || !s.Partial || s.N.String() != "6–9" || s.Missing != e(1) {
		t.Errorf("summary %+v, want n 6–9, used 5, mean 9, partial", s)
	}
}

// BenchmarkBuildTable1 builds a Table 1 of 10 numeric (20-cell histograms) and 10 categorical
// (5-level) variables over 2 groups from 100 sites' aggregates.
func BenchmarkBuildTable1(b *testing.B) {
	edges := make([]float64, 19)
	for i := range edges {
		edges[i] = float64(10 * i)
	}
	var sites []SiteAggregate
	for s := 0; s < 100; s++ {
		site := SiteAggregate{Site: fmt.Sprint("site", s)}
		for _, g := range []string{"control", "treated"} {
			ga := GroupAggregate{Group: g, N: ExactCount(200)}
			for v := 0; v < 10; v++ {
				h := make([]CellCount, len(edges)+1)
				for k := range h {
					h[k] = ExactCount(10)
				}
				ga.Variables = append(ga.Variables, VariableAggregate{Name: fmt.Sprint("x", v), Numeric: true,
					N: ExactCount(200), Sum: 200 * float64(90+s%7), SumSq: 200 * float64((90+s%7)*(90+s%7)+400), Edges: edges, Histogram: h})
				cats := map[string]CellCount{}
				for l := 0; l < 5; l++ {
					cats[fmt.Sprint("level", l)] = ExactCount(40 + (s+l+v)%5 - 2)
				}
				ga.Variables = append(ga.Variables, VariableAggregate{Name: fmt.Sprint("c", v), Categories: cats})
			}
			site.Groups = append(site.Groups, ga)
		}
		sites = append(sites, site)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := BuildTable1(sites, Table1Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestTable1GroupWithoutVariable: a group whose only site reports no variables gets an empty
// column (n 0) for each variable, with NA quantiles when another group released a histogram,
// the same in every build (it was shaped from whichever group a map iteration met first, so
// its median cell was "NA [NA, NA]" in some builds and blank in others).
func TestTable1GroupWithoutVariable(t *testing.T) {
	edges := []float64{50, 60, 70}
	e := ExactCount
	sites := []SiteAggregate{
		// n suppressed: no sums or histogram
		{Site: "s1", Groups: []GroupAggregate{{Group: "A", N: SuppressedCount(5), Variables: []VariableAggregate{
			{Name: "age", Numeric: true, N: SuppressedCount(5)}}}}},
		// values 55, 65, 65, 75
		{Site: "s2", Groups: []GroupAggregate{{Group: "C", N: e(4), Variables: []VariableAggregate{
			{Name: "age", Numeric: true, N: e(4), Sum: 260, SumSq: 17100, Edges: edges, Histogram: []CellCount{e(0), e(1), e(2), e(1)}}}}}},
		{Site: "s3", Groups: []GroupAggregate{{Group: "B", N: e(7)}}},
	}
	var first []Table1Row
	for range 20 {
		tab, err := BuildTable1(sites, Table1Options{})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(tab.Columns) != "[A B C Overall]" {
			t.Fatalf("columns %v", tab.Columns)
		}
		if b := tab.Variables[0].Numerics[1]; b.N != e(0) || b.UsedN != 0 {
			t.Errorf("age in B: n %v used %d, want 0, 0", b.N, b.UsedN)
		}
		if got := tab.Rows[2].Cells[1]; got != "NA [NA, NA]" {
			t.Errorf("age median in B %q, want NA [NA, NA]", got)
		}
		if first == nil {
			first = tab.Rows
		} else if fmt.Sprint(tab.Rows) != fmt.Sprint(first) {
			t.Fatalf("rows differ between builds:\n%v\n%v", tab.Rows, first)
		}
	}
}

// A discrete numeric variable (ECOG, whole values 0–3, binned on edges 1, 2, 3) is shown as
// n (%) per value from the sites' histograms: the same counts, percentages and SMD as R's
// table of the patient-level values (the golden's categorical ecog); without the option, or
// on edges that are not one whole value per bin, it stays numeric.
func TestTable1DiscreteAgainstR(t *testing.T) {
	g := summaryLoadGolden(t)
	var want int
	for i, c := range g.Categorical {
		if c.Variable == "ecog" {
			want = i
		}
	}
	numeric := g
	numeric.Categorical = nil
	numeric.Numeric = append(slices.Clone(g.Numeric), g.Numeric[0])
	numeric.Numeric[len(numeric.Numeric)-1].Variable = "ecog"
	numeric.Numeric[len(numeric.Numeric)-1].Edges = []float64{1, 2, 3}
	sites := summaryLungSites(t, numeric)
	tab, err := BuildTable1(sites, Table1Options{Discrete: []string{"ecog"}})
	if err != nil {
		t.Fatal(err)
	}
	w := g.Categorical[want]
	var ecog Table1Variable
	for _, v := range tab.Variables {
		if v.Name == "ecog" {
			ecog = v
		}
	}
	if ecog.Numeric || len(ecog.Categorical) != 3 {
		t.Fatalf("ecog: numeric %v, %d columns", ecog.Numeric, len(ecog.Categorical))
	}
	for col, wc := range append(slices.Clone(w.ByGroup), w.Overall) {
		s := ecog.Categorical[col]
		if "ecog"+strings.Join(s.Levels, " ecog") != strings.Join(w.Levels, " ") || s.Missing != ExactCount(wc.Missing) {
			t.Fatalf("column %d: levels %v missing %v, want %v, %d", col, s.Levels, s.Missing, w.Levels, wc.Missing)
		}
		for i := range s.Levels {
			if s.Counts[i] != ExactCount(wc.Counts[i]) {
				t.Errorf("column %d value %s: %v, want %d", col, s.Levels[i], s.Counts[i], wc.Counts[i])
			}
			summaryClose(t, fmt.Sprintf("column %d value %s %%", col, s.Levels[i]), s.Percent[i], wc.Percent[i], 1e-9)
		}
	}
	summaryClose(t, "ecog SMD", ecog.SMD, w.SMD, 1e-9)
	var rows []string
	for _, r := range tab.Rows {
		rows = append(rows, r.Label)
	}
	if !slices.Contains(rows, "ecog, n (%)") || !slices.Contains(rows, "  3") || slices.Contains(rows, "ecog, mean (SD)") {
		t.Errorf("rows %q", rows)
	}

	// Declared 0–5 (edges 1…5): values 4 and 5, which nobody has, are no rows.
	wide := numeric
	wide.Numeric = slices.Clone(numeric.Numeric)
	wide.Numeric[len(wide.Numeric)-1].Edges = []float64{1, 2, 3, 4, 5}
	wtab, err := BuildTable1(summaryLungSites(t, wide), Table1Options{Discrete: []string{"ecog"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range wtab.Variables {
		if v.Name == "ecog" && (v.Numeric || !slices.Equal(v.Categorical[2].Levels, []string{"0", "1", "2", "3"}) || v.Categorical[2].Counts[3] != ExactCount(1)) {
			t.Errorf("ecog declared 0–5: %+v", v.Categorical)
		}
	}

	plain, err := BuildTable1(sites, Table1Options{})
	if err != nil {
		t.Fatal(err)
	}
	uneven := numeric
	uneven.Numeric = slices.Clone(numeric.Numeric)
	uneven.Numeric[len(uneven.Numeric)-1].Edges = []float64{1, 3}
	coarse, err := BuildTable1(summaryLungSites(t, uneven), Table1Options{Discrete: []string{"ecog"}})
	if err != nil {
		t.Fatal(err)
	}
	for name, tb := range map[string]Table1{"without the option": plain, "on edges 1, 3": coarse} {
		for _, v := range tb.Variables {
			if v.Name == "ecog" && !v.Numeric {
				t.Errorf("%s: ecog shown as counts per value", name)
			}
		}
	}
}
