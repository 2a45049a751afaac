package analysis

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// GroupAggregate is one group's released aggregates at one site (the analysis side of
// protocol.GroupSummary): the group's size and one aggregate per variable.
type GroupAggregate struct {
	Group     string
	N         CellCount
	Variables []VariableAggregate
}

// SiteAggregate is everything one site released for a Table 1: one GroupAggregate per group
// present at the site ("" when ungrouped).
type SiteAggregate struct {
	Site   string
	Groups []GroupAggregate
}

// Table1Options controls BuildTable1. The zero value gives tableone's defaults: median [Q1, Q3]
// for numeric variables and one decimal.
type Table1Options struct {
	// Probs are the quantiles shown for numeric variables; nil means {0.25, 0.5, 0.75},
	// shown as "median [Q1, Q3]".
	Probs []float64
	// Digits is the number of decimals of means, SDs, quantiles and percentages; 0 means 1.
	Digits int
	// Columns orders the group columns; groups not listed follow in sorted order. Nil: sorted.
	Columns []string
	// OverallLabel names the overall column; "" means "Overall".
	OverallLabel string
	// Discrete names numeric variables whose values are whole numbers binned one value per
	// bin (edges k+1, …, K for values k…K): they are shown as n (%) per value, like a
	// categorical variable, from the histogram. A variable whose edges are not so is shown
	// as numeric.
	Discrete []string
}

// Table1 is a cohort summary ("Table 1"): one column per group, then an overall column, and
// the standardized mean difference (SMD) of each variable between the groups. Variables holds
// the numbers, Rows their rendering.
type Table1 struct {
	Columns   []string    // group names, then the overall label
	N         []CellCount // subjects per column (merged GroupAggregate.N)
	Variables []Table1Variable
	Rows      []Table1Row
	Notes     []string // e.g. which means leave out sites that suppressed their n
}

// Table1Variable is one variable of a Table 1, summarized per column (same order as Columns).
type Table1Variable struct {
	Name        string
	Numeric     bool
	Numerics    []NumericSummary     // when Numeric
	Categorical []CategoricalSummary // otherwise
	// SMD is |SMD| between the two groups (SMDNumeric or SMDCategorical, on non-missing
	// values), the mean of the pairwise |SMD| with more than two groups (as tableone), NaN
	// with fewer than two groups or when a count involved is suppressed.
	SMD float64
}

// Table1Row is one rendered row: a label, one cell per column and the SMD ("" when none).
type Table1Row struct {
	Label string
	Cells []string
	SMD   string
}

// BuildTable1 merges the sites' aggregates per group (MergeVariables) and over all groups, and
// summarizes each variable in each column: numeric ones as mean (SD) and median [Q1, Q3] from
// the histogram (or the requested quantiles), categorical ones as n (%) of the non-missing
// values per level; a "missing" row follows each variable with any missing value. Variables
// appear in the order they are first met. Suppressed counts propagate as CellCount intervals.
//
// Every group present at a site must report every variable the site reports in any group; a
// gap is an error naming the site, group and variable (it would silently shrink the totals).
func BuildTable1(sites []SiteAggregate, opts Table1Options) (Table1, error) {
	probs := opts.Probs
	if probs == nil {
		probs = []float64{0.25, 0.5, 0.75}
	}
	for _, p := range probs {
		if !(p >= 0 && p <= 1) {
			return Table1{}, fmt.Errorf("analysis: Table 1: quantile probability %v not in [0, 1]", p)
		}
	}
	digits := opts.Digits
	if digits <= 0 {
		digits = 1
	}
	overall := opts.OverallLabel
	if overall == "" {
		overall = "Overall"
	}

	// Collect the groups, the variables in order of first appearance, and the parts to merge.
	groupN := map[string]CellCount{}
	var varNames []string
	varSeen := map[string]bool{}
	parts := map[string]map[string][]VariableAggregate{} // variable → group → parts
	type origin struct {
		site, group string
		v           VariableAggregate
	}
	first := map[string]origin{} // where each variable was first met, to name both ends of a conflict
	for _, s := range sites {
		siteVars := map[string]bool{}
		for _, g := range s.Groups {
			for _, v := range g.Variables {
				siteVars[v.Name] = true
			}
		}
		for _, g := range s.Groups {
			groupN[g.Group] = groupN[g.Group].Add(g.N)
			has := map[string]bool{}
			for _, v := range g.Variables {
				if has[v.Name] {
					return Table1{}, fmt.Errorf("analysis: Table 1: site %q group %q: variable %q reported twice", s.Site, g.Group, v.Name)
				}
				has[v.Name] = true
				if err := v.validate(); err != nil {
					return Table1{}, fmt.Errorf("analysis: Table 1: site %q group %q: %w", s.Site, g.Group, err)
				}
				if o, ok := first[v.Name]; !ok {
					first[v.Name] = origin{s.Site, g.Group, v}
				} else if o.v.Numeric != v.Numeric {
					return Table1{}, fmt.Errorf("analysis: Table 1: variable %q is numeric at site %q group %q but not at site %q group %q", v.Name, summaryWhich(o.v.Numeric, o.site, s.Site), summaryWhich(o.v.Numeric, o.group, g.Group), summaryWhich(!o.v.Numeric, o.site, s.Site), summaryWhich(!o.v.Numeric, o.group, g.Group))
				} else if v.Histogram != nil && o.v.Histogram != nil && !slices.Equal(o.v.Edges, v.Edges) {
					return Table1{}, fmt.Errorf("analysis: Table 1: variable %q: histogram edges %v at site %q group %q differ from %v at site %q group %q", v.Name, v.Edges, s.Site, g.Group, o.v.Edges, o.site, o.group)
				}
				if !varSeen[v.Name] {
					varSeen[v.Name] = true
					varNames = append(varNames, v.Name)
					parts[v.Name] = map[string][]VariableAggregate{}
				}
				parts[v.Name][g.Group] = append(parts[v.Name][g.Group], v)
			}
			for name := range siteVars {
				if !has[name] {
					return Table1{}, fmt.Errorf("analysis: Table 1: site %q group %q: variable %q missing (reported in another group)", s.Site, g.Group, name)
				}
			}
		}
	}
	groups := summaryOrder(groupN, opts.Columns)

	t := Table1{Columns: append(append([]string(nil), groups...), overall)}
	var total CellCount
	for _, g := range groups {
		t.N = append(t.N, groupN[g])
		total = total.Add(groupN[g])
	}
	t.N = append(t.N, total)

	for _, name := range varNames {
		var merged []VariableAggregate
		var all []VariableAggregate
		for _, g := range groups {
			ps := parts[name][g]
			all = append(all, ps...)
			if len(ps) == 0 {
				// The group exists but no site reported this variable for it: empty aggregate.
				ps = []VariableAggregate{summaryEmptyLike(parts[name], groups)}
			}
			m, err := MergeVariables(ps)
			if err != nil {
				return Table1{}, fmt.Errorf("analysis: Table 1: group %q: %w", g, err)
			}
			merged = append(merged, m)
		}
		m, err := MergeVariables(all)
		if err != nil {
			return Table1{}, fmt.Errorf("analysis: Table 1: %w", err)
		}
		merged = append(merged, m)
		tv := Table1Variable{Name: name, Numeric: m.Numeric}
		if values := wholeValues(m); values != nil && slices.Contains(opts.Discrete, name) {
			tv.Numeric = false
			rows := heldValues(merged, values)
			for _, mv := range merged {
				tv.Categorical = append(tv.Categorical, SummarizeCategorical(valueCounts(mv, values), rows))
			}
			if m.Unsummed.N > 0 {
				t.Notes = append(t.Notes, fmt.Sprintf("%s: the counts per value leave out %s values of sites that suppressed their n", name, m.Unsummed.String()))
			}
		}
		switch {
		case !tv.Numeric && m.Numeric: // discrete, summarised above
			tv.SMD = summaryCategoricalSMD(len(groups), tv.Categorical)
		case m.Numeric:
			for _, mv := range merged {
				tv.Numerics = append(tv.Numerics, SummarizeNumeric(mv, probs))
			}
			tv.SMD = summaryPairwiseSMD(len(groups), func(i, j int) float64 {
				a, b := tv.Numerics[i], tv.Numerics[j]
				return SMDNumeric(a.Mean, a.SD, b.Mean, b.SD)
			})
		default:
			levels := SummarizeCategorical(m, nil).Levels
			for _, mv := range merged {
				tv.Categorical = append(tv.Categorical, SummarizeCategorical(mv, levels))
			}
			tv.SMD = summaryCategoricalSMD(len(groups), tv.Categorical)
		}
		t.Variables = append(t.Variables, tv)
	}
	t.render(probs, digits)
	return t, nil
}

// BuildTable1BySite is the per-site view: one column per site (all its groups merged), then
// the overall column; the SMD column then measures how much the sites' case mixes differ (mean
// pairwise |SMD| over sites). Sites keep the order given.
func BuildTable1BySite(sites []SiteAggregate, opts Table1Options) (Table1, error) {
	var bySite []SiteAggregate
	var order []string
	for _, s := range sites {
		g := GroupAggregate{Group: s.Site}
		var names []string
		per := map[string][]VariableAggregate{}
		for _, grp := range s.Groups {
			g.N = g.N.Add(grp.N)
			for _, v := range grp.Variables {
				if per[v.Name] == nil {
					names = append(names, v.Name)
				}
				per[v.Name] = append(per[v.Name], v)
			}
		}
		for _, n := range names {
			m, err := MergeVariables(per[n])
			if err != nil {
				return Table1{}, fmt.Errorf("analysis: Table 1 by site: site %q: %w", s.Site, err)
			}
			g.Variables = append(g.Variables, m)
		}
		bySite = append(bySite, SiteAggregate{Site: s.Site, Groups: []GroupAggregate{g}})
		order = append(order, s.Site)
	}
	opts.Columns = order
	return BuildTable1(bySite, opts)
}

// summaryEmptyLike is an aggregate of no values shaped like the variable's parts (byGroup,
// looked at in the order of groups, so that every build gives the same table): their name and
// kind, and the histogram edges when any part has a histogram (BuildTable1 has checked those
// share their edges), so that the empty column reads NA for its quantiles as for its mean.
func summaryEmptyLike(byGroup map[string][]VariableAggregate, groups []string) VariableAggregate {
	var e VariableAggregate
	for _, g := range groups {
		for _, v := range byGroup[g] {
			if e.Name == "" {
				e = VariableAggregate{Name: v.Name, Numeric: v.Numeric}
			}
			if v.Histogram != nil {
				e.Edges = v.Edges
				e.Histogram = make([]CellCount, len(v.Histogram))
				return e
			}
		}
	}
	return e
}

// summaryWhich returns a when first is true, else b.
func summaryWhich(first bool, a, b string) string {
	if first {
		return a
	}
	return b
}

// summaryOrder returns the keys of n, first those listed in order, then the rest sorted.
func summaryOrder(n map[string]CellCount, order []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, g := range order {
		if _, ok := n[g]; ok && !seen[g] {
			out = append(out, g)
			seen[g] = true
		}
	}
	var rest []string
	for g := range n {
		if !seen[g] {
			rest = append(rest, g)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// summaryPairwiseSMD is |smd(0,1)| for two groups and the mean over all pairs for more.
func summaryPairwiseSMD(k int, smd func(i, j int) float64) float64 {
	if k < 2 {
		return math.NaN()
	}
	var s float64
	var pairs int
	for i := 0; i < k; i++ {
		for j := i + 1; j < k; j++ {
			s += math.Abs(smd(i, j))
			pairs++
		}
	}
	return s / float64(pairs)
}

// summaryCategoricalSMD is the SMD of a categorical variable between the k groups' columns.
func summaryCategoricalSMD(k int, cols []CategoricalSummary) float64 {
	return summaryPairwiseSMD(k, func(i, j int) float64 {
		p1, ok1 := summaryProportions(cols[i])
		p2, ok2 := summaryProportions(cols[j])
		if !ok1 || !ok2 {
			return math.NaN()
		}
		return SMDCategorical(p1, p2)
	})
}

// wholeValues are the values a numeric aggregate's histogram counts one per bin when its
// edges are whole numbers k+1, k+2, …, K (the bins then hold k, k+1, …, K of a variable
// whose values are whole numbers from k to K), as text; nil otherwise.
func wholeValues(v VariableAggregate) []string {
	e := v.Edges
	if !v.Numeric || v.Histogram == nil || len(e) == 0 || e[0] != math.Trunc(e[0]) {
		return nil
	}
	for i := 1; i < len(e); i++ {
		if e[i]-e[i-1] != 1 {
			return nil
		}
	}
	out := []string{strconv.FormatFloat(e[0]-1, 'f', -1, 64)}
	for _, x := range e {
		out = append(out, strconv.FormatFloat(x, 'f', -1, 64))
	}
	return out
}

// heldValues trims values to those from the first to the last any column holds (a value at
// the ends of the declared range that no column has — a count that is exactly 0 — is no row;
// zeros between held values stay).
func heldValues(cols []VariableAggregate, values []string) []string {
	held := func(i int) bool {
		for _, c := range cols {
			if i < len(c.Histogram) && c.Histogram[i] != ExactCount(0) {
				return true
			}
		}
		return false
	}
	lo, hi := 0, len(values)-1
	for lo < hi && !held(lo) {
		lo++
	}
	for hi > lo && !held(hi) {
		hi--
	}
	return values[lo : hi+1]
}

// valueCounts is a numeric aggregate's histogram as the categorical aggregate of its values
// (wholeValues; an aggregate without a histogram counts none).
func valueCounts(v VariableAggregate, values []string) VariableAggregate {
	c := VariableAggregate{Name: v.Name, Missing: v.Missing, Categories: map[string]CellCount{}}
	for i, n := range v.Histogram {
		c.Categories[values[i]] = n
	}
	return c
}

func summaryProportions(c CategoricalSummary) ([]float64, bool) {
	if !c.NonMissing.Exact() || c.NonMissing.N == 0 {
		return nil, false
	}
	p := make([]float64, len(c.Counts))
	for i, n := range c.Counts {
		if !n.Exact() {
			return nil, false
		}
		p[i] = float64(n.N) / float64(c.NonMissing.N)
	}
	return p, true
}

func (t *Table1) render(probs []float64, digits int) {
	f := func(x float64) string {
		if math.IsNaN(x) {
			return "NA"
		}
		return strconv.FormatFloat(x, 'f', digits, 64)
	}
	smd := func(x float64) string {
		if math.IsNaN(x) {
			return ""
		}
		return strconv.FormatFloat(x, 'f', 3, 64)
	}
	row := func(label string, cells []string, s string) {
		t.Rows = append(t.Rows, Table1Row{Label: label, Cells: cells, SMD: s})
	}
	var nCells []string
	for _, n := range t.N {
		nCells = append(nCells, n.String())
	}
	row("n", nCells, "")
	defaultProbs := len(probs) == 3 && probs[0] == 0.25 && probs[1] == 0.5 && probs[2] == 0.75
	for _, v := range t.Variables {
		var missing []string
		anyMissing := false
		if v.Numeric {
			var ms, qs []string
			for i, s := range v.Numerics {
				mark := ""
				if s.Partial {
					mark = "*"
				}
				if s.Partial && !(t.Columns[i] == "" && len(t.Columns) == 2) { // an ungrouped column repeats the overall's note
					t.Notes = append(t.Notes, fmt.Sprintf("%s (%s): mean, SD and quantiles leave out %s values of sites that suppressed their n", v.Name, t.Columns[i], s.N.Add(CellCount{N: -s.UsedN}).String()))
				}
				ms = append(ms, f(s.Mean)+" ("+f(s.SD)+")"+mark)
				var parts []string
				for _, q := range s.Quantiles {
					parts = append(parts, summaryFormatQuantile(q, f))
				}
				switch {
				case len(parts) == 0:
					qs = append(qs, "")
				case defaultProbs:
					qs = append(qs, parts[1]+" ["+parts[0]+", "+parts[2]+"]"+mark)
				default:
					qs = append(qs, strings.Join(parts, " / ")+mark)
				}
				missing = append(missing, s.Missing.String())
				anyMissing = anyMissing || s.Missing.N > 0
			}
			row(v.Name+", mean (SD)", ms, smd(v.SMD))
			if len(v.Numerics[len(v.Numerics)-1].Quantiles) > 0 { // the overall column has them if any has
				label := v.Name + ", median [Q1, Q3]"
				if !defaultProbs {
					var ps []string
					for _, p := range probs {
						ps = append(ps, "P"+strconv.FormatFloat(100*p, 'g', -1, 64))
					}
					label = v.Name + ", " + strings.Join(ps, " / ")
				}
				row(label, qs, "")
			}
		} else {
			n := len(v.Categorical)
			row(v.Name+", n (%)", make([]string, n), smd(v.SMD))
			levels := v.Categorical[len(v.Categorical)-1].Levels
			for li, l := range levels {
				cells := make([]string, n)
				for i, s := range v.Categorical {
					cells[i] = s.Counts[li].String() + " (" + summaryFormatPercent(s.Percent[li], s.PercentRange[li], f) + ")"
				}
				row("  "+l, cells, "")
			}
			for _, s := range v.Categorical {
				missing = append(missing, s.Missing.String())
				anyMissing = anyMissing || s.Missing.N > 0
			}
		}
		if anyMissing {
			row("  missing", missing, "")
		}
	}
}

// summaryFormatQuantile renders the interpolated value, or, when it is not available, the
// interval known to hold the quantile: "<40" or "≥85" at an open end, "40–45" otherwise.
func summaryFormatQuantile(q BinnedQuantile, f func(float64) string) string {
	switch {
	case !math.IsNaN(q.Value):
		return f(q.Value)
	case math.IsNaN(q.Lower) || math.IsNaN(q.Upper):
		return "NA"
	case math.IsInf(q.Lower, -1) && math.IsInf(q.Upper, 1):
		return "NA"
	case math.IsInf(q.Lower, -1):
		return "<" + f(q.Upper)
	case math.IsInf(q.Upper, 1):
		return "≥" + f(q.Lower)
	default:
		return f(q.Lower) + "–" + f(q.Upper)
	}
}

func summaryFormatPercent(p float64, r [2]float64, f func(float64) string) string {
	switch {
	case !math.IsNaN(p):
		return f(p)
	case math.IsNaN(r[0]):
		return "NA"
	case r[1]-r[0] > r[0]:
		return "≤" + f(r[1]) // as counts: an interval wider than its lower bound is its bound
	default:
		return f(r[0]) + "–" + f(r[1])
	}
}

// header returns the column titles: "Characteristic", the columns, "SMD".
func (t Table1) header() []string {
	return append(append([]string{"Characteristic"}, t.Columns...), "SMD")
}

// Records returns the rendered table as records: a header "Characteristic", the columns,
// "SMD", then one record per row. Notes are not included.
func (t Table1) Records() [][]string {
	recs := [][]string{t.header()}
	for _, r := range t.Rows {
		recs = append(recs, append(append([]string{r.Label}, r.Cells...), r.SMD))
	}
	return recs
}

// WriteCSV writes the rendered table as CSV (RFC 4180): its Records.
func (t Table1) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.WriteAll(t.Records()); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// WriteMarkdown writes the rendered table as a GitHub-flavoured Markdown table (labels left,
// numbers right-aligned; "|" escaped), followed by the notes as a list.
func (t Table1) WriteMarkdown(w io.Writer) error {
	esc := func(s string) string {
		s = strings.ReplaceAll(s, "|", `\|`)
		if strings.HasPrefix(s, "  ") {
			s = "&nbsp;&nbsp;" + strings.TrimLeft(s, " ")
		}
		return s
	}
	var b strings.Builder
	h := t.header()
	for i := range h {
		h[i] = esc(h[i])
	}
	b.WriteString("| " + strings.Join(h, " | ") + " |\n|:---|")
	for range t.Columns {
		b.WriteString("---:|")
	}
	b.WriteString("---:|\n")
	for _, r := range t.Rows {
		cells := []string{esc(r.Label)}
		for _, c := range r.Cells {
			cells = append(cells, esc(c))
		}
		cells = append(cells, esc(r.SMD))
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	if len(t.Notes) > 0 {
		b.WriteString("\n")
		for _, n := range t.Notes {
			b.WriteString("- " + esc(n) + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
