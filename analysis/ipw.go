package analysis

import (
	"fmt"
	"math"
	"strings"
)

// Estimand is the population a weighted treatment comparison speaks about.
type Estimand int

const (
	// ATE, the average treatment effect in the whole cohort: weights 1/e (treated) and
	// 1/(1−e) (control).
	ATE Estimand = iota
	// ATT, the effect in the treated: weights 1 (treated) and e/(1−e) (control).
	ATT
	// Overlap, the effect where both treatments are plausible (Li, Morgan & Zaslavsky 2018):
	// weights 1−e (treated) and e (control); bounded, so never extreme.
	Overlap
)

func (e Estimand) String() string {
	switch e {
	case ATE:
		return "ATE"
	case ATT:
		return "ATT"
	case Overlap:
		return "overlap"
	}
	return fmt.Sprintf("Estimand(%d)", int(e))
}

// ParseEstimand reads "ATE", "ATT" or "overlap" (any case).
func ParseEstimand(s string) (Estimand, error) {
	for _, e := range []Estimand{ATE, ATT, Overlap} {
		if strings.EqualFold(s, e.String()) {
			return e, nil
		}
	}
	return 0, fmt.Errorf("analysis: unknown estimand %q (want ATE, ATT or overlap)", s)
}

// WeightOptions says how propensities become weights.
type WeightOptions struct {
	Estimand Estimand
	// Stabilise multiplies ATE weights by the marginal share of the patient's arm (P(T) for
	// the treated, 1−P(T) for controls) and ATT control weights by (1−P(T))/P(T), so that each
	// arm's weights sum to about its size (Robins, Hernán & Brumback 2000). Overlap weights
	// are bounded already and are not changed.
	Stabilise bool
	// TreatedShare is P(T), the share of treated patients in the whole (pooled) cohort; needed
	// only with Stabilise.
	TreatedShare float64
	// Trim in [0, 0.5) leaves out patients whose propensity is below Trim or above 1 − Trim
	// (Crump et al. 2009); they count among the trimmed of their arm.
	Trim float64
}

// Validate reports options that cannot be used.
func (o WeightOptions) Validate() error {
	if o.Estimand < ATE || o.Estimand > Overlap {
		return fmt.Errorf("analysis: unknown estimand %d", int(o.Estimand))
	}
	if !(o.Trim >= 0 && o.Trim < 0.5) {
		return fmt.Errorf("analysis: trim %v is not in [0, 0.5)", o.Trim)
	}
	if o.Stabilise && !(o.TreatedShare > 0 && o.TreatedShare < 1) {
		return fmt.Errorf("analysis: stabilised weights need a treated share in (0, 1), got %v", o.TreatedShare)
	}
	return nil
}

// IPWeight returns the weight of a patient with propensity e in the treated (or control) arm,
// and false when the patient is trimmed (then the weight is 0).
func IPWeight(e float64, treated bool, o WeightOptions) (float64, bool) {
	if e < o.Trim || e > 1-o.Trim {
		return 0, false
	}
	var w float64
	switch o.Estimand {
	case ATE:
		if treated {
			w = 1 / e
		} else {
			w = 1 / (1 - e)
		}
	case ATT:
		if treated {
			w = 1
		} else {
			w = e / (1 - e)
		}
	case Overlap:
		if treated {
			w = 1 - e
		} else {
			w = e
		}
	}
	if o.Stabilise {
		pT := o.TreatedShare
		switch {
		case o.Estimand == ATE && treated:
			w *= pT
		case o.Estimand == ATE:
			w *= 1 - pT
		case o.Estimand == ATT && !treated:
			w *= (1 - pT) / pT
		}
	}
	return w, true
}

// ArmSums are the mergeable sums of one arm behind the balance table and the effective sample
// size: unweighted over every patient of the arm (N, Sum, SumSq), weighted over the patients
// kept after trimming (Kept, W = Σw, W2 = Σw², WSum = Σw x).
type ArmSums struct {
	N, Kept    int
	Sum, SumSq []float64
	W, W2      float64
	WSum       []float64
}

// BalanceSums are the per-arm sums of every design column (without the intercept).
type BalanceSums struct {
	Treated, Control ArmSums
}

// NewBalanceSums returns empty sums for p columns.
func NewBalanceSums(p int) BalanceSums {
	arm := func() ArmSums {
		return ArmSums{Sum: make([]float64, p), SumSq: make([]float64, p), WSum: make([]float64, p)}
	}
	return BalanceSums{Treated: arm(), Control: arm()}
}

// Add adds one patient: its design columns, arm, weight and whether it was kept.
func (b *BalanceSums) Add(row []float64, treated bool, w float64, kept bool) {
	a := &b.Control
	if treated {
		a = &b.Treated
	}
	a.N++
	for j, v := range row {
		a.Sum[j] += v
		a.SumSq[j] += v * v
	}
	if !kept {
		return
	}
	a.Kept++
	a.W += w
	a.W2 += w * w
	for j, v := range row {
		a.WSum[j] += w * v
	}
}

// Merge adds the sums of another site.
func (b *BalanceSums) Merge(o BalanceSums) {
	for _, pair := range [][2]*ArmSums{{&b.Treated, &o.Treated}, {&b.Control, &o.Control}} {
		a, x := pair[0], pair[1]
		if len(a.Sum) != len(x.Sum) {
			panic(fmt.Sprintf("analysis: BalanceSums.Merge: %d columns merged into %d", len(x.Sum), len(a.Sum)))
		}
		a.N += x.N
		a.Kept += x.Kept
		a.W += x.W
		a.W2 += x.W2
		for j := range a.Sum {
			a.Sum[j] += x.Sum[j]
			a.SumSq[j] += x.SumSq[j]
			a.WSum[j] += x.WSum[j]
		}
	}
}

// ESS is Kish's effective sample size of the arm's weights, (Σw)²/Σw².
func (a ArmSums) ESS() float64 {
	if a.W2 == 0 {
		return 0
	}
	return a.W * a.W / a.W2
}

// BalanceRow is the standardised mean difference of one design column before and after
// weighting.
type BalanceRow struct {
	Column              string
	SMDBefore, SMDAfter float64
}

// Balance returns the standardised mean difference (treated − control) of every column,
//
//	SMD = (x̄_T − x̄_C) / sqrt((s²_T + s²_C) / 2),
//
// before weighting with the unweighted means of every patient, after weighting with the
// weighted means Σw x / Σw of the kept patients. Both use the same denominator: the unweighted
// pooled SD of the arms before weighting and trimming (Austin & Stuart 2015), so that a change
// in SMD is a change in the means, not in the yardstick.
func Balance(b BalanceSums, columns []string) []BalanceRow {
	t, c := b.Treated, b.Control
	if len(columns) != len(t.Sum) {
		panic(fmt.Sprintf("analysis: Balance: %d names for %d columns", len(columns), len(t.Sum)))
	}
	rows := make([]BalanceRow, len(columns))
	for j, name := range columns {
		sd := math.Sqrt((sampleVar(t, j) + sampleVar(c, j)) / 2)
		before := (t.Sum[j]/float64(t.N) - c.Sum[j]/float64(c.N)) / sd
		after := (t.WSum[j]/t.W - c.WSum[j]/c.W) / sd
		rows[j] = BalanceRow{Column: name, SMDBefore: before, SMDAfter: after}
	}
	return rows
}

func sampleVar(a ArmSums, j int) float64 {
	n := float64(a.N)
	m := a.Sum[j] / n
	return math.Max(a.SumSq[j]-n*m*m, 0) / (n - 1)
}
