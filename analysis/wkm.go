package analysis

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// WeightedSurvivalTable is the mergeable aggregate behind a weighted Kaplan–Meier curve: for
// each distinct time (strictly increasing), the summed weights of the events and of the
// censorings at that time, and their actual numbers (for the number-at-risk table, and for
// the node's small-cell rules). Tables of sites merge exactly (MergeWeightedTables).
type WeightedSurvivalTable struct {
	Time             []float64
	Events, Censor   []float64 // Σ w of the events, of the censorings
	Events2, Censor2 []float64 // Σ w² of the events, of the censorings (for the robust variance)
	NEvent, NCensor  []int     // their numbers
}

// NewWeightedSurvivalTable tabulates weighted right-censored records. Weights must be
// positive and finite, times finite and non-negative; otherwise the error names the record.
func NewWeightedSurvivalTable(time []float64, event []bool, w []float64) (WeightedSurvivalTable, error) {
	if len(time) != len(event) || len(time) != len(w) {
		return WeightedSurvivalTable{}, ErrLengthMismatch
	}
	for i, x := range time {
		if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
			return WeightedSurvivalTable{}, fmt.Errorf("analysis: time %v of record %d is not a finite non-negative number", x, i)
		}
		if !(w[i] > 0) || math.IsInf(w[i], 0) {
			return WeightedSurvivalTable{}, fmt.Errorf("analysis: weight %v of record %d is not a positive finite number", w[i], i)
		}
	}
	var t WeightedSurvivalTable
	for _, i32 := range orderByTime(time) {
		i := int(i32)
		x := time[i]
		if n := len(t.Time); n == 0 || t.Time[n-1] != x {
			t.Time = append(t.Time, x)
			t.Events, t.Censor = append(t.Events, 0), append(t.Censor, 0)
			t.Events2, t.Censor2 = append(t.Events2, 0), append(t.Censor2, 0)
			t.NEvent, t.NCensor = append(t.NEvent, 0), append(t.NCensor, 0)
		}
		k := len(t.Time) - 1
		if event[i] {
			t.Events[k] += w[i]
			t.Events2[k] += w[i] * w[i]
			t.NEvent[k]++
		} else {
			t.Censor[k] += w[i]
			t.Censor2[k] += w[i] * w[i]
			t.NCensor[k]++
		}
	}
	return t, nil
}

// Validate reports the first way in which t is not a well-formed table.
func (t WeightedSurvivalTable) Validate() error {
	n := len(t.Time)
	for _, l := range []int{len(t.Events), len(t.Censor), len(t.Events2), len(t.Censor2), len(t.NEvent), len(t.NCensor)} {
		if l != n {
			return fmt.Errorf("analysis: weighted survival table: %d times but a column of %d values", n, l)
		}
	}
	for k, x := range t.Time {
		if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 || (k > 0 && x <= t.Time[k-1]) {
			return fmt.Errorf("analysis: weighted survival table: row %d: time %v is not finite, non-negative and after the previous row", k, x)
		}
		for _, v := range []float64{t.Events[k], t.Censor[k], t.Events2[k], t.Censor2[k]} {
			if !(v >= 0) || math.IsInf(v, 0) {
				return fmt.Errorf("analysis: weighted survival table: row %d: weight sum %v is not finite and non-negative", k, v)
			}
		}
		if t.NEvent[k] < 0 || t.NCensor[k] < 0 {
			return fmt.Errorf("analysis: weighted survival table: row %d: negative count", k)
		}
	}
	return nil
}

// MergeWeightedTables adds tables of several sites: the union of their times with sums and
// counts added at equal times; the result is the table of the pooled records.
func MergeWeightedTables(tables ...WeightedSurvivalTable) WeightedSurvivalTable {
	var times []float64
	for _, t := range tables {
		times = append(times, t.Time...)
	}
	slices.Sort(times)
	times = slices.Compact(times)
	n := len(times)
	out := WeightedSurvivalTable{Time: times, Events: make([]float64, n), Censor: make([]float64, n),
		Events2: make([]float64, n), Censor2: make([]float64, n), NEvent: make([]int, n), NCensor: make([]int, n)}
	for _, t := range tables {
		for k, x := range t.Time {
			j, _ := slices.BinarySearch(times, x)
			out.Events[j] += t.Events[k]
			out.Censor[j] += t.Censor[k]
			out.Events2[j] += t.Events2[k]
			out.Censor2[j] += t.Censor2[k]
			out.NEvent[j] += t.NEvent[k]
			out.NCensor[j] += t.NCensor[k]
		}
	}
	return out
}

// WeightedKMEstimate is a weighted Kaplan–Meier curve. The embedded KMEstimate holds the
// curve (Surv, StdErr, Lower, Upper; Median and Quantile work on it) with the actual numbers
// at risk, of events and of censorings; WRisk, WEvent and WCensor hold the weighted ones, what
// R's survfit(..., weights = w) reports as n.risk, n.event and n.censor.
type WeightedKMEstimate struct {
	KMEstimate
	WRisk, WEvent, WCensor []float64
}

// WeightedKaplanMeier estimates the survival function of one arm from weighted records,
//
//	Ŝ(t) = Π_{t_j ≤ t} (1 − d_j/n_j),
//
// with d_j and n_j the summed weights of the events at t_j and of the patients at risk just
// before it, and the robust (infinitesimal jackknife) standard error that R's
// survfit(Surv(time, status) ~ 1, weights = w) reports for non-integer weights:
//
//	var Ŝ(t) = Σ_i (w_i ∂Ŝ(t)/∂w_i)²,  ∂log Ŝ(t)/∂w_i = Σ_{t_j ≤ min(t, T_i)} a_j − δ_i b_i [T_i ≤ t],
//
// a_j = d_j/(n_j (n_j − d_j)), b_i = 1/(n_j − d_j) at T_i = t_j. Summed over patients this is
// A(t)² Σ_{T_i > t} w_i² + Σ_{t_j ≤ t} [A(t_j)² (E²_j + C²_j) − (2 A(t_j) b_j − b_j²) E²_j]
// with A(t) = Σ_{t_j ≤ t} a_j and E²_j, C²_j the sums of squared weights of the events and
// censorings at t_j: the sites need to send only those two columns more, and the variance of
// the pooled curve is exact. Unlike Greenwood's formula with weights taken as frequencies, it
// does not shrink when the weights vary. Intervals as KaplanMeier, on se(log Ŝ) = se(Ŝ)/Ŝ.
func WeightedKaplanMeier(t WeightedSurvivalTable, opts KMOptions) (*WeightedKMEstimate, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	level := opts.level()
	n := len(t.Time)
	wRisk, w2Risk, nRisk := make([]float64, n+1), make([]float64, n+1), make([]int, n)
	var rn int
	for k := n - 1; k >= 0; k-- {
		wRisk[k] = wRisk[k+1] + t.Events[k] + t.Censor[k]
		w2Risk[k] = w2Risk[k+1] + t.Events2[k] + t.Censor2[k]
		rn += t.NEvent[k] + t.NCensor[k]
		nRisk[k] = rn
	}
	if rn == 0 {
		return nil, ErrKMEmpty
	}
	e := &WeightedKMEstimate{KMEstimate: KMEstimate{ConfType: opts.ConfType, ConfLevel: level, N: rn}}
	z := distuv.UnitNormal.Quantile(1 - (1-level)/2)
	surv, cumA, past := 1.0, 0.0, 0.0 // past: Σ over the patients who left at t_j ≤ t
	for k, x := range t.Time {
		d, nr := t.Events[k], wRisk[k]
		if d > 0 {
			surv *= (nr - d) / nr
			cumA += d / (nr * (nr - d))
			b := 1 / (nr - d)
			past += cumA*cumA*(t.Events2[k]+t.Censor2[k]) - (2*cumA*b-b*b)*t.Events2[k]
		} else {
			past += cumA * cumA * t.Censor2[k]
		}
		if t.NEvent[k]+t.NCensor[k] == 0 {
			continue
		}
		se := math.Sqrt(cumA*cumA*w2Risk[k+1] + past) // of log Ŝ
		if surv == 0 {
			se = math.Inf(1)
		}
		lo, hi := confInt(surv, se, z, opts.ConfType)
		e.Time = append(e.Time, x)
		e.NRisk = append(e.NRisk, nRisk[k])
		e.NEvent = append(e.NEvent, t.NEvent[k])
		e.NCensor = append(e.NCensor, t.NCensor[k])
		e.Events += t.NEvent[k]
		e.WRisk = append(e.WRisk, nr)
		e.WEvent = append(e.WEvent, d)
		e.WCensor = append(e.WCensor, t.Censor[k])
		e.Surv = append(e.Surv, surv)
		e.StdErrLog = append(e.StdErrLog, se)
		seS := se * surv
		if surv == 0 {
			seS = 0 // the curve at 0 no longer depends on any weight (R's influence is 0)
		}
		e.StdErr = append(e.StdErr, seS)
		e.Lower = append(e.Lower, lo)
		e.Upper = append(e.Upper, hi)
	}
	return e, nil
}
