package report

import (
	"strings"
	"unicode"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// DefaultEdges are fixed histogram edges for a numeric variable of Table 1, chosen from its
// declared unit or, failing that, from a word of its name (no site ever releases a minimum
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
