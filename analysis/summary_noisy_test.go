package analysis

import (
	"math"
	"testing"
)

// Sums no data could give (n·Σx² < (Σx)² beyond rounding, as noisy releases may be) have no
// SD; equal values still have SD 0.
func TestMeanSDNoisySums(t *testing.T) {
	if m, sd := MeanSD(100, 6000, 350000); m != 60 || !math.IsNaN(sd) {
		t.Errorf("impossible sums: mean %v, sd %v; want 60, NaN", m, sd)
	}
	if _, sd := MeanSD(3, 0.3, 0.03); sd != 0 && !(sd < 1e-9) {
		t.Errorf("equal values 0.1: sd %v, want 0", sd)
	}
}
