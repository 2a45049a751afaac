package format

import (
	"math"
	"testing"
)

func TestPValue(t *testing.T) {
	for _, c := range []struct {
		p    float64
		want string
	}{
		{0.00140010602785315, "p = 0.0014"}, // lung log-rank by sex, R survdiff
		{0.0013, "p = 0.0013"},
		{0.00003, "p < 0.0001"},
		{0.0001, "p = 0.00010"},
		{0.00099, "p = 0.00099"},
		{0.000996, "p = 0.000996"},      // two digits would round up to the 0.001 boundary
		{0.00996, "p = 0.00996"},        // … and to 0.01
		{0.787482523752966, "p = 0.79"}, // Cochran's Q, gen_forest.R
		{0.0496, "p = 0.0496"},          // two digits would round up to 0.050
		{0.04996, "p = 0.04996"},
		{0.0499999, "p = 0.05000"}, // four digits at most: beyond that the digits are noise
		{0.05, "p = 0.050"},
		{0.0501, "p = 0.050"}, // not below 0.05: rounding down to the boundary misstates nothing
		{0.051, "p = 0.051"},
		{0.0999, "p = 0.10"},
		{0.23, "p = 0.23"},
		{1, "p = 1.0"},
		{math.NaN(), "p = NA"},
		{-0.1, "p = NA"},
		{1.5, "p = NA"},
	} {
		if got := PValue(c.p); got != c.want {
			t.Errorf("PValue(%v) = %q, want %q", c.p, got, c.want)
		}
	}
}

func TestPNumber(t *testing.T) {
	for p, want := range map[float64]string{0.0496: "0.0496", 0.00003: "< 0.0001", 0.5: "0.50", math.NaN(): "NA"} {
		if got := PNumber(p); got != want {
			t.Errorf("PNumber(%v) = %q, want %q", p, got, want)
		}
	}
}
