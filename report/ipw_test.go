package report

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/oncofed/oncofed/analysis"
)

// WeightedAtRisk gives, at any time, the patients with follow-up at or after it and the sum
// of their weights: checked against the records themselves (an oracle apart from the table
// and the curve), at record times, between them, at 0 and after the last.
func TestWeightedAtRisk(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var time, w []float64
	var event []bool
	for i := 0; i < 200; i++ {
		time = append(time, float64(1+rng.IntN(900)))
		event = append(event, rng.IntN(3) > 0)
		w = append(w, 0.5+3*rng.Float64())
	}
	tab, err := analysis.NewWeightedSurvivalTable(time, event, w)
	if err != nil {
		t.Fatal(err)
	}
	km, err := analysis.WeightedKaplanMeier(tab, analysis.KMOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ticks := []float64{0, 1, 100, 250.5, time[7], 899, 900, 1000}
	n, ws := WeightedAtRisk(km, ticks)
	for j, x := range ticks {
		wantN, wantW := 0, 0.0
		for i, ti := range time {
			if ti >= x {
				wantN++
				wantW += w[i]
			}
		}
		if n[j] != wantN || math.Abs(ws[j]-wantW) > 1e-9*wantW {
			t.Errorf("at %v: %d patients weighing %v, want %d weighing %v", x, n[j], ws[j], wantN, wantW)
		}
	}
}
