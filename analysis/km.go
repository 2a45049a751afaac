package analysis

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// ConfType selects the scale on which pointwise confidence intervals of a survival curve are
// built, as the conf.type argument of R's survfit. The zero value is ConfLog, R's default.
type ConfType int

const (
	// ConfLog is exp(log S ± z·se(log S)), upper limit capped at 1 (R's default "log").
	ConfLog ConfType = iota
	// ConfLogLog is exp(−exp(log(−log S) ∓ z·se(log S)/log S)) ("log-log"); NaN where S is 0 or 1.
	ConfLogLog
	// ConfPlain is S ± z·S·se(log S), clipped to [0, 1] ("plain").
	ConfPlain
	// ConfNone computes no interval: Lower and Upper are NaN ("none").
	ConfNone
)

// String returns R's name of the interval type.
func (c ConfType) String() string {
	switch c {
	case ConfLog:
		return "log"
	case ConfLogLog:
		return "log-log"
	case ConfPlain:
		return "plain"
	case ConfNone:
		return "none"
	}
	return fmt.Sprintf("ConfType(%d)", int(c))
}

// ParseConfType parses R's conf.type names: "log", "log-log", "plain" and "none"; "" means "log".
func ParseConfType(s string) (ConfType, error) {
	switch s {
	case "", "log":
		return ConfLog, nil
	case "log-log":
		return ConfLogLog, nil
	case "plain":
		return ConfPlain, nil
	case "none":
		return ConfNone, nil
	}
	return 0, fmt.Errorf("analysis: unknown confidence interval type %q (want log, log-log, plain or none)", s)
}

// KMOptions are the options of KaplanMeier. The zero value gives R's survfit defaults:
// log-scale intervals at the 95% level.
type KMOptions struct {
	ConfType  ConfType
	ConfLevel float64 // in (0, 1); 0 means 0.95; any other value is a programming error and panics
}

func (o KMOptions) level() float64 {
	if o.ConfLevel == 0 {
		return 0.95
	}
	if !(o.ConfLevel > 0 && o.ConfLevel < 1) {
		panic(fmt.Sprintf("analysis: confidence level %v is not in (0, 1)", o.ConfLevel))
	}
	return o.ConfLevel
}

// KMEstimate is a Kaplan–Meier curve: one row per distinct time of the table at which something
// happened (an event or a censoring), the rows R's summary(survfit(...), censored = TRUE) lists.
type KMEstimate struct {
	Time    []float64
	NRisk   []int // subjects at risk just before Time[k]
	NEvent  []int
	NCensor []int
	Surv    []float64 // Ŝ(Time[k])
	// StdErr is the Greenwood standard error of Ŝ itself, Ŝ·se(log Ŝ): what R's
	// summary(fit)$std.err reports. NaN once Ŝ = 0 (R: Inf·0).
	StdErr []float64
	// StdErrLog is se(log Ŝ) = sqrt(Σ d/(n(n−d))), the scale R keeps in fit$std.err and builds
	// every interval from. +Inf once Ŝ = 0.
	StdErrLog []float64
	// Lower and Upper are the pointwise interval; NaN where R reports NA.
	Lower, Upper []float64

	ConfType  ConfType
	ConfLevel float64
	N         int // subjects in the table
	Events    int // Σ d
}

// ErrKMEmpty is returned by KaplanMeier for a table without any subject.
var ErrKMEmpty = errors.New("analysis: survival table has no subjects")

// KaplanMeier estimates the survival function of one group from its (merged) table.
//
// Product-limit estimate (Kaplan & Meier 1958), with n_j at risk and d_j events at t_j:
//
//	Ŝ(t) = Π_{t_j ≤ t} (1 − d_j/n_j)
//
// Greenwood's (1926) variance on the log scale, as R's survfit keeps it (std.err):
//
//	se²(log Ŝ(t)) = Σ_{t_j ≤ t} d_j / (n_j (n_j − d_j))       (+Inf when d_j = n_j)
//
// and the standard error of Ŝ reported by summary.survfit is Ŝ·se(log Ŝ) (Klein &
// Moeschberger 2003, §4.2). Intervals at level 1−α with z = Φ⁻¹(1−α/2), as R's survfit_confint:
//
//	log:     exp(log Ŝ ± z·se),                 upper capped at 1, NaN where Ŝ = 0
//	log-log: exp(−exp(log(−log Ŝ) ∓ z·se/log Ŝ)), NaN where Ŝ = 0 or Ŝ = 1
//	plain:   Ŝ ± z·Ŝ·se,                        clipped to [0, 1], NaN where Ŝ = 0
//
// Rows are the table's distinct times with at least one event or censoring, as R's
// summary(fit, censored = TRUE). The result equals R's survfit(Surv(time, status) ~ 1) on the
// patient-level records behind the table (survival 3.5; R's timefix rounding of near-equal
// times is not applied: a table's times are taken as distinct). With delayed entries (a table
// with Entries) the risk sets are those of counting-process data, entry < t ≤ exit, and the
// result equals survfit(Surv(entry, exit, status) ~ 1): the same product and Greenwood sums
// over n_j = #{entry < t_j ≤ exit}; rows are still the exit times only.
func KaplanMeier(t SurvivalTable, opts KMOptions) (*KMEstimate, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	level := opts.level()
	if opts.ConfType < ConfLog || opts.ConfType > ConfNone {
		panic(fmt.Sprintf("analysis: invalid confidence interval type %d", int(opts.ConfType)))
	}
	if t.Total() == 0 {
		return nil, ErrKMEmpty
	}
	atRisk := t.AtRisk()
	rows := 0
	for k := range t.Time {
		if t.Events[k]+t.Censor[k] > 0 {
			rows++
		}
	}
	e := &KMEstimate{
		Time:      make([]float64, 0, rows),
		NRisk:     make([]int, 0, rows),
		NEvent:    make([]int, 0, rows),
		NCensor:   make([]int, 0, rows),
		Surv:      make([]float64, 0, rows),
		StdErr:    make([]float64, 0, rows),
		StdErrLog: make([]float64, 0, rows),
		Lower:     make([]float64, 0, rows),
		Upper:     make([]float64, 0, rows),
		ConfType:  opts.ConfType,
		ConfLevel: level,
		N:         t.Total(),
		Events:    t.TotalEvents(),
	}
	z := distuv.UnitNormal.Quantile(1 - (1-level)/2)
	surv, greenwood := 1.0, 0.0
	for k, x := range t.Time {
		d, c, n := t.Events[k], t.Censor[k], atRisk[k]
		if d+c == 0 {
			continue
		}
		if d > 0 {
			nf, df := float64(n), float64(d)
			surv *= (nf - df) / nf
			// d = n gives +Inf, as in R: the variance of log Ŝ is unbounded once Ŝ = 0.
			greenwood += df / (nf * (nf - df))
		}
		se := math.Sqrt(greenwood)
		lo, hi := confInt(surv, se, z, opts.ConfType)
		e.Time = append(e.Time, x)
		e.NRisk = append(e.NRisk, n)
		e.NEvent = append(e.NEvent, d)
		e.NCensor = append(e.NCensor, c)
		e.Surv = append(e.Surv, surv)
		e.StdErrLog = append(e.StdErrLog, se)
		e.StdErr = append(e.StdErr, se*surv)
		e.Lower = append(e.Lower, lo)
		e.Upper = append(e.Upper, hi)
	}
	return e, nil
}

// confInt is R's survfit_confint for logse = TRUE (se is the standard error of log S).
func confInt(p, se, z float64, ct ConfType) (lower, upper float64) {
	nan := math.NaN()
	switch ct {
	case ConfLog:
		if p == 0 {
			return nan, nan
		}
		se2 := z * se
		return math.Exp(math.Log(p) - se2), math.Min(math.Exp(math.Log(p)+se2), 1)
	case ConfLogLog:
		if p == 0 || p == 1 {
			return nan, nan
		}
		se2 := z * se / math.Log(p)
		ll := math.Log(-math.Log(p))
		return math.Exp(-math.Exp(ll - se2)), math.Exp(-math.Exp(ll + se2))
	case ConfPlain:
		se2 := se * p * z
		// 0·Inf = NaN where S = 0 propagates as R's pmax/pmin do.
		lo, hi := p-se2, p+se2
		if !math.IsNaN(lo) {
			lo = math.Max(lo, 0)
		}
		if !math.IsNaN(hi) {
			hi = math.Min(hi, 1)
		}
		return lo, hi
	}
	return nan, nan
}

// Landmark is the Kaplan–Meier estimate at one requested time, a row of R's
// summary(fit, times = ...).
type Landmark struct {
	Time    float64
	NRisk   int // at risk just before Time (0 beyond the last time)
	NEvent  int // events in (previous landmark, Time]
	NCensor int // censorings in (previous landmark, Time]
	Surv    float64
	StdErr  float64 // standard error of Surv (NaN where Surv is 0)
	Lower   float64
	Upper   float64
	// Beyond is true when Time is later than the last time of the curve: the estimate is
	// carried forward from the last time, as R's summary(..., extend = TRUE) does (R's default
	// extend = FALSE omits such rows).
	Beyond bool
}

// At returns the curve at the landmark times, sorted increasingly, as R's
// summary(fit, times = times, extend = TRUE): Ŝ at the last curve time ≤ the landmark (1 before
// the first, as survfit0 adds the point (0, 1)), the number at risk just before the landmark,
// and events and censorings since the previous landmark. Landmarks must be finite; a negative
// landmark reads the start of the curve (Ŝ = 1, everyone at risk) and keeps its own time, as
// in R.
func (e *KMEstimate) At(times []float64) ([]Landmark, error) {
	if len(e.Time) == 0 {
		return nil, errors.New("analysis: landmarks of an empty Kaplan-Meier estimate")
	}
	ts := append([]float64(nil), times...)
	for _, x := range ts {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("analysis: landmark time %v is not finite", x)
		}
	}
	sort.Float64s(ts)
	// survfit0: the curve with the point (0, 1) in front unless it already starts at 0.
	var (
		time                   []float64
		nrisk                  []int
		nevent, ncensor        []int
		surv, se, lower, upper []float64
	)
	if e.Time[0] != 0 {
		time = append(time, 0)
		nrisk = append(nrisk, e.NRisk[0])
		nevent = append(nevent, 0)
		ncensor = append(ncensor, 0)
		surv = append(surv, 1)
		se = append(se, 0)
		lo, hi := 1.0, 1.0
		if e.ConfType == ConfNone {
			lo, hi = math.NaN(), math.NaN()
		}
		lower = append(lower, lo)
		upper = append(upper, hi)
	}
	time = append(time, e.Time...)
	nrisk = append(nrisk, e.NRisk...)
	nevent = append(nevent, e.NEvent...)
	ncensor = append(ncensor, e.NCensor...)
	surv = append(surv, e.Surv...)
	se = append(se, e.StdErr...)
	lower = append(lower, e.Lower...)
	upper = append(upper, e.Upper...)
	cumEvents := make([]int, len(time)+1)
	cumCensor := make([]int, len(time)+1)
	for k := range time {
		cumEvents[k+1] = cumEvents[k] + nevent[k]
		cumCensor[k+1] = cumCensor[k] + ncensor[k]
	}
	last := time[len(time)-1]
	out := make([]Landmark, len(ts))
	prev := 0
	for i, x := range ts {
		upTo := sort.Search(len(time), func(k int) bool { return time[k] > x })    // #times ≤ x
		before := sort.Search(len(time), func(k int) bool { return time[k] >= x }) // #times < x
		row := max(upTo, 1) - 1
		l := Landmark{
			Time:    x,
			NEvent:  cumEvents[upTo] - cumEvents[prev],
			NCensor: cumCensor[upTo] - cumCensor[prev],
			Surv:    surv[row],
			StdErr:  se[row],
			Lower:   lower[row],
			Upper:   upper[row],
			Beyond:  x > last,
		}
		if before < len(time) {
			l.NRisk = nrisk[before]
		}
		prev = upTo
		out[i] = l
	}
	return out, nil
}
