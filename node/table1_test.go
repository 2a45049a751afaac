package node

import (
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// suppressLinked: without forced or avoided cells it is suppressLevels; a forced cell of any
// size is suppressed with the smallest other non-zero cell as its complement, preferring cells
// not in avoid; a forced empty cell has nothing to hide.
func TestSuppressLinked(t *testing.T) {
	sup := func(out []protocol.Count) (s []int) {
		for k, c := range out {
			if c.Suppressed {
				s = append(s, k)
			}
		}
		return s
	}
	cells := []int{40, 3, 12, 9, 0, 36}
	plain, n := suppressLinked(cells, nil, nil, nil, 5)
	want, wn := suppressLevels(cells, nil, 5)
	if n != wn || len(plain) != len(want) {
		t.Fatalf("plain %v (%d), want suppressLevels' %v (%d)", plain, n, want, wn)
	}
	for k := range want {
		if plain[k] != want[k] {
			t.Fatalf("plain %v, want suppressLevels' %v", plain, want)
		}
	}
	for _, tc := range []struct {
		name          string
		forced, avoid []bool
		want          []int
	}{
		{"primary 3 and its complement 9", nil, nil, []int{1, 3}},
		{"forced 40: with 3, two cells of 43, no complement needed", []bool{true}, nil, []int{0, 1}},
		{"forced 36: with 3", []bool{false, false, false, false, false, true}, nil, []int{1, 5}},
		{"forced 12, 9 avoided: 3 and 12 hide each other", []bool{false, false, true}, []bool{false, false, false, true}, []int{1, 2}},
		{"forced empty cell", []bool{false, false, false, false, true}, nil, []int{1, 3}},
	} {
		out, n := suppressLinked(cells, nil, tc.forced, tc.avoid, 5)
		got := sup(out)
		if n != len(got) || len(got) != len(tc.want) {
			t.Errorf("%s: suppressed %v, want %v", tc.name, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: suppressed %v, want %v", tc.name, got, tc.want)
				break
			}
		}
	}
	// Only avoided cells left: the smallest of them.
	out, _ := suppressLinked([]int{20, 30, 7}, nil, []bool{true}, []bool{false, true, true}, 5)
	if got := sup(out); len(got) != 2 || got[0] != 0 || got[1] != 2 {
		t.Errorf("all complements avoided: suppressed %v, want [0 2]", got)
	}
}

// A forced cell alone in its partition's suppression gets the smallest complement not avoided.
func TestSuppressLinkedComplement(t *testing.T) {
	cells := []int{40, 8, 12, 9, 36}
	for _, tc := range []struct {
		avoid []bool
		want  int
	}{{nil, 1}, {[]bool{false, true}, 3}, {[]bool{false, true, true, true, true}, 1}} {
		out, n := suppressLinked(cells, nil, []bool{true}, tc.avoid, 5)
		if n != 2 || !out[0].Suppressed || !out[tc.want].Suppressed {
			t.Errorf("avoid %v: %v, want cells 0 and %d suppressed", tc.avoid, out, tc.want)
		}
	}
}
