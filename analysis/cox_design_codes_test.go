package analysis

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// A coded categorical column (Codes, Dictionary) builds the design of the column of its strings:
// the same numbers, names and complete cases, and the same errors.
func TestBuildDesignCodesEqualStrings(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 3))
	n := 500
	dict := []string{"wt", "mut", "vus"}
	ind := []string{"not mut", "mut", "not mut"} // an indicator: several codes, one value
	codes, ages := make([]int32, n), make([]float64, n)
	for i := range codes {
		codes[i] = int32(r.IntN(4)) - 1 // −1: missing
		ages[i] = float64(40 + r.IntN(40))
		if r.IntN(50) == 0 {
			ages[i] = math.NaN()
		}
	}
	strs := func(d []string) []string {
		out := make([]string, n)
		for i, c := range codes {
			if c >= 0 {
				out[i] = d[c]
			}
		}
		return out
	}
	cases := []struct {
		name   string
		dict   []string
		levels map[string][]string
	}{
		{"dictionary order", dict, map[string][]string{"m": dict}},
		{"own order", dict, map[string][]string{"m": {"vus", "wt", "mut"}}},
		{"levels of the data", dict, nil},
		{"indicator", ind, map[string][]string{"m": {"not mut", "mut"}}},
		{"indicator, levels of the data", ind, nil},
	}
	for _, c := range cases {
		age := CovariateColumn{Name: "age", Numeric: ages}
		inter := []Interaction{{A: "age", B: "m"}}
		x1, p1, n1, k1, err1 := BuildDesignInteractions([]CovariateColumn{{Name: "m", Categorical: strs(c.dict)}, age}, c.levels, inter)
		x2, p2, n2, k2, err2 := BuildDesignInteractions([]CovariateColumn{{Name: "m", Codes: codes, Dictionary: c.dict}, age}, c.levels, inter)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: %v, %v", c.name, err1, err2)
		}
		if p1 != p2 || !slices.Equal(n1, n2) || !slices.Equal(k1, k2) || !EqualBits(x1, x2) {
			t.Errorf("%s: coded design differs: p %d/%d, names %q/%q", c.name, p1, p2, n1, n2)
		}
		if len(x1) == 0 || p1 < 2 {
			t.Fatalf("%s: empty design", c.name)
		}
	}
	// A complete case outside the given levels, and a code outside the dictionary.
	_, _, _, _, err1 := BuildDesign([]CovariateColumn{{Name: "m", Categorical: strs(dict)}}, map[string][]string{"m": {"wt", "mut"}})
	_, _, _, _, err2 := BuildDesign([]CovariateColumn{{Name: "m", Codes: codes, Dictionary: dict}}, map[string][]string{"m": {"wt", "mut"}})
	if err1 == nil || err2 == nil || err1.Error() != err2.Error() {
		t.Errorf("value outside the levels: %v / %v", err1, err2)
	}
	bad := slices.Clone(codes)
	bad[7] = 3
	if _, _, _, _, err := BuildDesign([]CovariateColumn{{Name: "m", Codes: bad, Dictionary: dict}}, nil); err == nil || !strings.Contains(err.Error(), "patient 7: code 3 outside") {
		t.Errorf("code outside the dictionary: %v", err)
	}
	if _, _, _, _, err := BuildDesign([]CovariateColumn{{Name: "m", Codes: codes, Dictionary: dict, Categorical: strs(dict)}}, nil); err == nil {
		t.Error("a column with both strings and codes was accepted")
	}
}
