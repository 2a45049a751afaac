package analysis

import (
	"fmt"
	"math"
	"slices"
)

// censoringKM is the Kaplan–Meier estimate of the censoring distribution G of a sample, where
// at a time with both the events leave the risk set before the censorings (as survival's
// fastkm1 and prodlim's reverse Kaplan–Meier, which riskRegression uses, take ties): G steps
// down at each censoring time.
type censoringKM struct {
	time []float64 // censoring times, increasing
	surv []float64 // G at each, right-continuous
}

func newCensoringKM(time []float64, event []bool) censoringKM {
	order := make([]int, len(time))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		return cmpFloat(time[a], time[b])
	})
	var g censoringKM
	s, atRisk := 1.0, len(time)
	for k := 0; k < len(order); {
		t := time[order[k]]
		var d, c int
		for ; k < len(order) && time[order[k]] == t; k++ {
			if event[order[k]] {
				d++
			} else {
				c++
			}
		}
		if c > 0 {
			s *= float64(atRisk-d-c) / float64(atRisk-d)
			g.time, g.surv = append(g.time, t), append(g.surv, s)
		}
		atRisk -= d + c
	}
	return g
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// at returns G(t) (right-continuous) or, with before, G(t−).
func (g censoringKM) at(t float64, before bool) float64 {
	k, found := slices.BinarySearch(g.time, t)
	if found && !before {
		k++
	}
	if k == 0 {
		return 1
	}
	return g.surv[k-1]
}

// BrierScore returns the inverse-probability-of-censoring weighted Brier score of predicted
// survival at each landmark t (Graf et al. 1999, Gerds & Schumacher 2006):
//
//	BS(t) = (1/n) Σ_i [ 1{T_i ≤ t, δ_i = 1} S_i(t)² / G(T_i−) + 1{T_i > t} (1 − S_i(t))² / G(t) ]
//
// with S_i(t) = exp(−H₀(t) e^{lp_i}) the model's predicted survival (baselineCumHaz[k] is H₀ at
// landmarks[k] for lp = 0) and G the censoring distribution's Kaplan–Meier estimate on the same
// patients (censoringKM); a patient censored at or before t counts 0. Equal to R's
// riskRegression::Score(list(coxph fit), Surv(time, status) ~ 1, data, times, metrics = "brier",
// cens.model = "km"). Landmarks and hazards are checked as CalibrationInTheLarge checks them.
func BrierScore(time []float64, event []bool, lp, landmarks, baselineCumHaz []float64) ([]float64, error) {
	if len(landmarks) != len(baselineCumHaz) || len(lp) != len(time) || len(event) != len(time) {
		panic(fmt.Sprintf("analysis: BrierScore: %d landmarks, %d cumulative hazards, %d times, %d events, %d linear predictors",
			len(landmarks), len(baselineCumHaz), len(time), len(event), len(lp)))
	}
	if len(time) == 0 {
		return nil, fmt.Errorf("analysis: Brier score: no patients")
	}
	g := newCensoringKM(time, event)
	out := make([]float64, len(landmarks))
	for k, t := range landmarks {
		h := baselineCumHaz[k]
		if math.IsNaN(h) || math.IsInf(h, 0) || h < 0 {
			return nil, fmt.Errorf("analysis: Brier score: cumulative baseline hazard %v at landmark %v is not finite and non-negative", h, t)
		}
		gt := g.at(t, false)
		var sum float64
		for i, ti := range time {
			s := math.Exp(-h * math.Exp(lp[i]))
			switch {
			case ti <= t && event[i]:
				sum += s * s / g.at(ti, true)
			case ti > t:
				sum += (1 - s) * (1 - s) / gt // gt > 0: patient i is still uncensored at t
			}
		}
		out[k] = sum / float64(len(time))
	}
	return out, nil
}
