package report

import (
	"slices"
	"strings"
	"unicode"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// DefaultEdges are fixed histogram edges for a numeric variable of Table 1: a discrete one's
// whole values (wholeEdges), else chosen from its declared unit or, failing that, from a word
// of its name (no site ever releases a minimum
// or maximum): 5-year bins for ages, whole points for scores, and so on; nil when nothing
// sensible is known (then only mean and SD are shown). Names match by whole word — "age",
// "age_at_dx", "dx_age", but not "dosage" or "stage" — so the desktop app and the CLI bin the
// same variables the same way.
func DefaultEdges(v app.Variable) []float64 {
	seq := func(lo, hi, step float64) []float64 {
		var e []float64
		for x := lo; x <= hi+1e-9; x += step {
			e = append(e, x)
		}
		return e
	}
	if e := wholeEdges(v); e != nil {
		return e
	}
	unit := strings.ToLower(v.Unit)
	words := nameWords(v.Name)
	switch {
	case unit == "years" || words["age"]:
		return seq(20, 95, 5)
	case unit == "points" || words["ecog"]:
		return seq(1, 4, 1)
	case unit == "kg":
		return seq(0, 30, 2.5)
	case unit == "%":
		return seq(0, 100, 10)
	case unit == "cm":
		return seq(140, 200, 5)
	case unit == "g/dl":
		return seq(6, 18, 1)
	}
	return nil
}

// wholeEdges are the edges Min+1, …, Max of a discrete variable with a declared range: the
// histogram then counts each whole value (below Min+1 is Min, from Max on is Max, as the
// import refuses values off the range or between whole numbers); nil otherwise.
func wholeEdges(v app.Variable) []float64 {
	if !v.Discrete || v.Min == nil || v.Max == nil || *v.Max-*v.Min < 1 || *v.Max-*v.Min+1 > protocol.MaxDiscreteValues {
		return nil
	}
	var e []float64
	for x := *v.Min + 1; x <= *v.Max; x++ {
		e = append(e, x)
	}
	return e
}

// Discrete lists the variables among bins that Table 1 shows as counts per value: declared
// discrete, and binned on their whole values (wholeEdges). The request carries the list
// (app.Request.Discrete), so a stored Table 1 reopens as it was shown.
func Discrete(st *app.Study, bins []protocol.HistogramSpec) []string {
	var out []string
	for _, b := range bins {
		if v := st.Variable(b.Variable); v != nil {
			if e := wholeEdges(*v); e != nil && slices.Equal(e, b.Edges) {
				out = append(out, b.Variable)
			}
		}
	}
	return out
}

// SummaryBins are the histogram specs of a Table 1 request over the named variables of a
// study: the given edges where the caller has some (the CLI's --bins), DefaultEdges for every
// other numeric variable.
func SummaryBins(st *app.Study, names []string, given []protocol.HistogramSpec) []protocol.HistogramSpec {
	out := append([]protocol.HistogramSpec(nil), given...)
	have := map[string]bool{}
	for _, b := range given {
		have[b.Variable] = true
	}
	for _, name := range names {
		v := st.Variable(name)
		if v == nil || have[name] || v.Type != protocol.Numeric || len(v.TypeConflict) > 0 {
			continue
		}
		if edges := DefaultEdges(*v); edges != nil {
			out = append(out, protocol.HistogramSpec{Variable: name, Edges: edges})
		}
	}
	return out
}

// nameWords are the lower-case words of a variable name split at anything not a letter
// ("Age_at_Dx" → age, at, dx).
func nameWords(name string) map[string]bool {
	words := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(name), func(r rune) bool { return !unicode.IsLetter(r) }) {
		words[w] = true
	}
	return words
}
