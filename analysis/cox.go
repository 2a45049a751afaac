package analysis

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Ties selects the partial-likelihood approximation for tied event times.
type Ties int

const (
	// Efron is Efron's (1977) approximation, R's coxph default: with d tied events at t,
	// the risk set loses l/d of the tied subjects' weight in the l-th of d terms.
	Efron Ties = iota
	// Breslow is Breslow's (1974) approximation: every tied event sees the full risk set.
	Breslow
)

// String returns "efron" or "breslow", the spelling of R's ties argument.
func (t Ties) String() string {
	switch t {
	case Efron:
		return "efron"
	case Breslow:
		return "breslow"
	}
	return fmt.Sprintf("Ties(%d)", int(t))
}

// ParseTies parses R's spelling of the ties method: "efron" or "breslow" (case-insensitive).
// The empty string means Efron, R's default.
func ParseTies(s string) (Ties, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "efron", "":
		return Efron, nil
	case "breslow":
		return Breslow, nil
	}
	return 0, fmt.Errorf("analysis: cox: unknown ties method %q (want efron or breslow)", s)
}

// CoxContribution is the log partial likelihood ℓ(β), its gradient U(β) = ∂ℓ/∂β and its
// Hessian H(β) = ∂²ℓ/∂β∂β' (p×p, row-major, negative semi-definite) at some β, for the
// subjects of one or more strata. The log partial likelihood of a stratified model is the sum
// over strata (Therneau & Grambsch 2000, §3.3), so contributions of independent strata — for
// example of sites — add up (Add).
type CoxContribution struct {
	LogLik   float64
	Gradient []float64
	Hessian  []float64
	// N is the number of subjects and Events the number of events that contributed.
	N, Events int
	// SecondMoment, when not nil, holds for every covariate j the sum over the event terms of
	// the weighted uncentered second moment S2_jj/S0 (the same sums as −H_jj but without
	// subtracting the squared risk-set mean). FitCox uses it to recognise a covariate that is
	// constant in every risk set whatever its units (−H_jj is then only rounding noise). It is
	// not sent over the wire; nil means unknown.
	SecondMoment []float64
	// CoefBound, when not nil, holds for every covariate the largest |β_j| at which the data's
	// holders answer (a site's cap, protocol.CoxReply.BetaLimit; the smallest over the sites
	// when added). FitCox reads it from the evaluation at β = 0 and keeps every iterate within
	// it; nil means no bound.
	CoefBound []float64
}

// Add adds o to c in place. An empty c (nil Gradient) becomes a copy of o. Both must have
// the same number of covariates; a mismatch is a programmer error and panics.
func (c *CoxContribution) Add(o CoxContribution) {
	if c.Gradient == nil && c.Hessian == nil && c.N == 0 && c.Events == 0 && c.LogLik == 0 {
		c.LogLik = o.LogLik
		c.Gradient = slices.Clone(o.Gradient)
		c.Hessian = slices.Clone(o.Hessian)
		c.N, c.Events = o.N, o.Events
		c.SecondMoment = slices.Clone(o.SecondMoment)
		c.CoefBound = slices.Clone(o.CoefBound)
		return
	}
	if len(c.Gradient) != len(o.Gradient) || len(c.Hessian) != len(o.Hessian) {
		panic(fmt.Sprintf("analysis: CoxContribution.Add: %d covariates added to %d", len(o.Gradient), len(c.Gradient)))
	}
	c.LogLik += o.LogLik
	for i, v := range o.Gradient {
		c.Gradient[i] += v
	}
	for i, v := range o.Hessian {
		c.Hessian[i] += v
	}
	c.N += o.N
	c.Events += o.Events
	if c.SecondMoment != nil && len(o.SecondMoment) == len(c.SecondMoment) {
		for i, v := range o.SecondMoment {
			c.SecondMoment[i] += v
		}
	} else {
		c.SecondMoment = nil // unknown for part of the data
	}
	c.CoefBound = MinBound(c.CoefBound, o.CoefBound)
}

// MinBound returns the elementwise smaller of two coefficient bounds (CoxContribution.
// CoefBound), nil standing for no bound; a new slice, or nil when both are nil.
func MinBound(a, b []float64) []float64 {
	switch {
	case a == nil:
		return slices.Clone(b)
	case b == nil:
		return slices.Clone(a)
	case len(a) != len(b):
		panic(fmt.Sprintf("analysis: MinBound: bounds of %d and %d covariates", len(a), len(b)))
	}
	out := make([]float64, len(a))
	for i := range a {
		out[i] = math.Min(a[i], b[i])
	}
	return out
}

// coxAccum accumulates the partial likelihood while walking the distinct times from the
// largest to the smallest. Walking backwards, the risk set R(t) = {i : T_i ≥ t} only grows, so
// its sums
//
//	S0 = Σ_{i∈R(t)} w_i,  S1 = Σ w_i x_i,  S2 = Σ w_i x_i x_i',  w_i = exp(x_i'β)
//
// are running sums and one pass costs O(n p²) (Therneau & Grambsch 2000, §3.2; R's coxfit6).
type coxAccum struct {
	p    int
	ties Ties
	// weighted: subjects carry case weights (WeightedCoxStratum); dw is then the summed case
	// weight of the events at the current time, which replaces their number d as the
	// multiplicity of the event terms (R's coxph weights: Breslow d → Σw, Efron each of the d
	// terms times the mean weight Σw/d).
	weighted bool
	dw       float64
	// batchLogs: Efron's log denominators in one logarithm per batch (efronTerms), as a
	// site's stratified contribution takes them; else one per term (efronWeights), as the
	// client's pooled fits always have, so that a stored pooled result re-renders to the last
	// bit (TestLegacyCacheShowsAsBefore).
	batchLogs bool
	// Running risk-set sums; s2 and e2 are p×p row-major, only the lower triangle (j ≤ i) is
	// maintained.
	s0     float64
	s1, s2 []float64
	// Sums over the events at the current time (for Efron).
	d      int
	e0     float64
	e1, e2 []float64
	// Results: minus the log-denominator terms, minus the risk-set means, the information
	// (lower triangle) and the uncentered second moments.
	loglik float64
	grad   []float64
	info   []float64
	m2     []float64
	events int
}

func newCoxAccum(p int, ties Ties) *coxAccum {
	buf := make([]float64, 4*p+3*p*p)
	acc := &coxAccum{p: p, ties: ties}
	acc.s1, buf = buf[:p], buf[p:]
	acc.e1, buf = buf[:p], buf[p:]
	acc.grad, buf = buf[:p], buf[p:]
	acc.m2, buf = buf[:p], buf[p:]
	acc.s2, buf = buf[:p*p], buf[p*p:]
	acc.e2, buf = buf[:p*p], buf[p*p:]
	acc.info = buf[:p*p]
	return acc
}

// beginTime clears the event sums before the subjects of the next (smaller) time are added.
func (acc *coxAccum) beginTime() {
	acc.d = 0
	acc.dw = 0
	acc.e0 = 0
	clear(acc.e1)
	clear(acc.e2)
}

// eventTerm adds the log-denominator terms of the d events at the current time, once every
// subject with that time is in the running sums. With Breslow's approximation each event
// contributes −log S0, −S1/S0 to the gradient and S2/S0 − (S1/S0)(S1/S0)' to the information.
// With Efron's, the l-th of the d events (l = 0..d−1) uses the sums minus l/d of the tied
// events' sums E0, E1, E2 (Efron 1977; Therneau & Grambsch 2000, §3.3.1).
func (acc *coxAccum) eventTerm() {
	d := acc.d
	if d == 0 {
		return
	}
	acc.events += d
	p := acc.p
	mult := 1.0 // multiplicity of each Efron term: the events' mean case weight
	if acc.weighted {
		mult = acc.dw / float64(d)
	}
	if acc.ties == Breslow || d == 1 {
		den := acc.s0
		fd := float64(d)
		if acc.weighted {
			fd = acc.dw
		}
		acc.loglik -= fd * math.Log(den)
		for i := 0; i < p; i++ {
			mi := acc.s1[i] / den
			acc.grad[i] -= fd * mi
			row := acc.s2[i*p : i*p+i+1]
			inf := acc.info[i*p : i*p+i+1]
			for j := range row {
				inf[j] += fd * (row[j]/den - mi*acc.s1[j]/den)
			}
			acc.m2[i] += fd * acc.s2[i*p+i] / den
		}
		return
	}
	// Efron: the l-th term uses den_l = S0 − f_l E0 and a_l = (S1 − f_l E1)/den_l with
	// f_l = l/d. Expanding the sums over l,
	//   Σ_l (S2 − f_l E2)/den_l = S2 Σ u_l − E2 Σ v_l,
	//   Σ_l a_l a_l' = S1 S1' Σ u_l² − (S1 E1' + E1 S1') Σ u_l v_l + E1 E1' Σ v_l²,
	// with u_l = 1/den_l and v_l = f_l/den_l, costs O(d + p²) per time instead of O(d p²).
	var su, sv, suu, suv, svv, loglik float64
	if acc.batchLogs {
		var terms float64
		su, sv, suu, suv, svv, terms = efronTerms(acc.s0, acc.e0, d, acc.ties)
		loglik = acc.loglik + mult*terms // mult is 1 without case weights
	} else {
		su, sv, suu, suv, svv, loglik = efronWeights(acc.s0, acc.e0, d, acc.ties, acc.loglik)
		if acc.weighted {
			_, _, _, _, _, terms := efronWeights(acc.s0, acc.e0, d, acc.ties, 0)
			loglik = acc.loglik + mult*terms
		}
	}
	if acc.weighted {
		// Each of the d terms counts the events' mean case weight times (R's coxfit6).
		su, sv, suu, suv, svv = mult*su, mult*sv, mult*suu, mult*suv, mult*svv
	}
	acc.loglik = loglik
	for i := 0; i < p; i++ {
		s1i, e1i := acc.s1[i], acc.e1[i]
		acc.grad[i] -= s1i*su - e1i*sv
		for j := 0; j <= i; j++ {
			s1j, e1j := acc.s1[j], acc.e1[j]
			acc.info[i*p+j] += acc.s2[i*p+j]*su - acc.e2[i*p+j]*sv -
				(s1i*s1j*suu - (s1i*e1j+e1i*s1j)*suv + e1i*e1j*svv)
		}
		acc.m2[i] += acc.s2[i*p+i]*su - acc.e2[i*p+i]*sv
	}
}

// contribution finishes the pass: it adds the event terms Σ_events x'β (eventLP) and
// Σ_events x (eventX), and mirrors the information into a full negative Hessian.
func (acc *coxAccum) contribution(n int, eventLP float64, eventX []float64) CoxContribution {
	p := acc.p
	c := CoxContribution{
		LogLik:       acc.loglik + eventLP,
		Gradient:     make([]float64, p),
		Hessian:      make([]float64, p*p),
		N:            n,
		Events:       acc.events,
		SecondMoment: slices.Clone(acc.m2),
	}
	for i := 0; i < p; i++ {
		c.Gradient[i] = eventX[i] + acc.grad[i]
		for j := 0; j <= i; j++ {
			v := -acc.info[i*p+j]
			c.Hessian[i*p+j] = v
			c.Hessian[j*p+i] = v
		}
	}
	return c
}

// addSubject adds one subject with weight w and covariates x to the running risk-set sums
// (and to the event sums if it is an event).
func (acc *coxAccum) addSubject(w float64, x []float64, event bool) {
	acc.addCase(1, w, x, event)
}

// addCase adds one subject with case weight cw and risk weight r = cw·exp(x'β).
func (acc *coxAccum) addCase(cw, w float64, x []float64, event bool) {
	acc.addCell(1, cw, w, x, event)
}

// addCell adds count subjects sharing covariates x, with summed case weight cw and summed
// risk weight w (the cells of a weighted survival table: TwoArmWeightedCox).
func (acc *coxAccum) addCell(count int, cw, w float64, x []float64, event bool) {
	if event {
		acc.dw += cw
	}
	acc.s0 += w
	addWeighted(acc.s1, acc.s2, w, x[:acc.p])
	if event {
		acc.d += count
		acc.e0 += w
		addWeighted(acc.e1, acc.e2, w, x[:acc.p])
	}
}

// addWeighted adds w·x to s1 and the lower triangle of w·x·x' to s2 (p×p row-major, p =
// len(x)): one subject's terms of the running sums S1 and S2 of a risk set or of the events
// at one time.
func addWeighted(s1, s2 []float64, w float64, x []float64) {
	p := len(x)
	for i, xi := range x {
		wx := w * xi
		s1[i] += wx
		row := s2[i*p : i*p+i+1]
		for j := range row {
			row[j] += wx * x[j]
		}
	}
}

// checkPatients validates the patient-level input of the node-side functions. Length
// mismatches are programmer errors (panic); non-finite values are bad data (error).
func checkPatients(fn string, time []float64, event []bool, x []float64, p int) error {
	n := len(time)
	if p < 0 || len(event) != n || len(x) != n*p {
		panic(fmt.Sprintf("analysis: %s: %d times, %d event flags, %d covariate values for p = %d",
			fn, n, len(event), len(x), p))
	}
	for i, t := range time {
		if math.IsNaN(t) || math.IsInf(t, 0) || t < 0 {
			return fmt.Errorf("analysis: %s: record %d: time %v is not a finite non-negative number", fn, i, t)
		}
	}
	for k, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("analysis: %s: record %d, column %d: covariate value %v is not finite (leave out incomplete cases first, see BuildDesign)", fn, k/p, k%p, v)
		}
	}
	return nil
}

func checkBeta(fn string, beta []float64, p int) error {
	if len(beta) != p {
		panic(fmt.Sprintf("analysis: %s: %d coefficients for p = %d", fn, len(beta), p))
	}
	for j, b := range beta {
		if math.IsNaN(b) || math.IsInf(b, 0) {
			return fmt.Errorf("analysis: %s: coefficient %d is %v", fn, j, b)
		}
	}
	return nil
}

// CoxStratum is the patient-level data of one stratum prepared for repeated evaluation at
// different β: sorted by time once (O(n log n)), so that each Contribution or RiskSetRows
// costs O(n p²). A node that keeps it between the rounds of a fit saves the sort; the
// one-shot functions CoxStratumContribution and CoxRiskSetRows build one per call.
// A CoxStratum is read-only after construction and safe for concurrent use.
type CoxStratum struct {
	p      int
	time   []float64 // increasing
	event  []bool
	x      []float64 // rows in time order, n×p; nil until needed when built from rows (cox_keyed.go)
	xOnce  sync.Once
	rows   *designRows // the design as distinct rows, when built from them
	center []float64   // column means (exactly the value of a constant column)
	groups []int32     // start of each distinct time in time, plus n at the end
	events int
	eventX []float64 // Σ_events x (uncentred)
	// leaving lists the subjects (positions in time order) with a delayed entry, by entry time
	// decreasing; entry holds their entry times. Nil without delayed entry.
	leaving []int32
	entry   []float64

	wcache coxWeights // the subjects' weights at the β asked last (cox_weights.go)
}

// NewCoxStratum copies and sorts one stratum's data: time[i], event[i] and the covariates
// x[i*p : (i+1)*p] (n×p row-major) of subject i. Length mismatches panic; a negative or
// non-finite time or a non-finite covariate returns an error naming the record.
func NewCoxStratum(time []float64, event []bool, x []float64, p int) (*CoxStratum, error) {
	return NewCoxStratumEntry(nil, time, event, x, p)
}

// NewCoxStratumEntry is NewCoxStratum with delayed entry: subject i is at risk at t when
// entry[i] < t ≤ time[i] (counting-process data, R's Surv(entry, time, event)); entry nil or 0
// means from the start. A subject whose entry is not before its time is never at risk (it
// contributes nothing; a censoring there is harmless, an event an error).
func NewCoxStratumEntry(entry, time []float64, event []bool, x []float64, p int) (*CoxStratum, error) {
	return newCoxStratumEntry(entry, time, event, x, p, false)
}

// NewCoxStratumSorted is NewCoxStratumEntry for data that are usually in time order already (a
// node's designs are built in it): it then keeps time, event and x instead of copying them,
// and the caller must not modify them afterwards. Data out of order are copied and sorted.
func NewCoxStratumSorted(entry, time []float64, event []bool, x []float64, p int) (*CoxStratum, error) {
	return newCoxStratumEntry(entry, time, event, x, p, true)
}

func newCoxStratumEntry(entry, time []float64, event []bool, x []float64, p int, adopt bool) (*CoxStratum, error) {
	if err := checkEntries(entry, time, event); err != nil {
		return nil, err
	}
	s, err := newCoxStratum(time, event, x, p, adopt)
	if err != nil || entry == nil {
		return s, err
	}
	s.setEntries(entry, time)
	return s, nil
}

// checkEntries checks the delayed entries of NewCoxStratumEntry.
func checkEntries(entry, time []float64, event []bool) error {
	if entry != nil && len(entry) != len(time) {
		panic(fmt.Sprintf("analysis: NewCoxStratumEntry: %d entries for %d times", len(entry), len(time)))
	}
	for i, e := range entry {
		if math.IsNaN(e) || math.IsInf(e, 0) || e < 0 {
			return fmt.Errorf("analysis: entry time %v of record %d is not a finite non-negative number", e, i)
		}
		if e > 0 && e >= time[i] && event[i] {
			return fmt.Errorf("analysis: record %d has an event at %v but entered at %v", i, time[i], e)
		}
	}
	return nil
}

// setEntries lists the stratum's late entrants (entry, in the input's order of time).
func (s *CoxStratum) setEntries(entry, time []float64) {
	order := orderByTime(time) // the same stable order newCoxStratum used
	for k, i32 := range order {
		if e := entry[i32]; e > 0 {
			s.leaving = append(s.leaving, int32(k))
			s.entry = append(s.entry, e)
		}
	}
	sort.Sort(byEntryDesc{s})
}

// byEntryDesc sorts a stratum's late entrants by entry time, latest first.
type byEntryDesc struct{ s *CoxStratum }

func (b byEntryDesc) Len() int           { return len(b.s.entry) }
func (b byEntryDesc) Less(i, j int) bool { return b.s.entry[i] > b.s.entry[j] }
func (b byEntryDesc) Swap(i, j int) {
	b.s.entry[i], b.s.entry[j] = b.s.entry[j], b.s.entry[i]
	b.s.leaving[i], b.s.leaving[j] = b.s.leaving[j], b.s.leaving[i]
}

// newCoxStratum builds the stratum; with adopt, data in time order are kept, not copied.
func newCoxStratum(time []float64, event []bool, x []float64, p int, adopt bool) (*CoxStratum, error) {
	if err := checkPatients("NewCoxStratum", time, event, x, p); err != nil {
		return nil, err
	}
	return newCoxStratumChecked(time, event, x, p, adopt, nil)
}

// newCoxStratumChecked is newCoxStratum on checked data; with rows (time sorted, adopt), the
// design is the rows' (NewCoxStratumRows) and x is nil.
func newCoxStratumChecked(time []float64, event []bool, x []float64, p int, adopt bool, rows *designRows) (*CoxStratum, error) {
	n := len(time)
	if n > math.MaxInt32 {
		return nil, fmt.Errorf("analysis: NewCoxStratum: %d records is more than one stratum can hold", n)
	}
	s := &CoxStratum{p: p, eventX: make([]float64, p)}
	if rows != nil {
		s.center = rows.centers(p)
		s.time, s.event, s.rows = time, event, rows
	} else {
		s.center = columnCenters(x, n, p)
	}
	sorted := rows != nil || slices.IsSorted(time) // rows: sorted (NewCoxStratumRows)
	switch {
	case rows != nil:
	case sorted && adopt:
		s.time, s.event, s.x = time, event, x
	case sorted:
		s.time, s.event, s.x = slices.Clone(time), slices.Clone(event), slices.Clone(x)
	default:
		s.time, s.event, s.x = make([]float64, n), make([]bool, n), make([]float64, n*p)
		for k, i32 := range orderByTime(time) {
			i := int(i32)
			s.time[k] = time[i]
			s.event[k] = event[i]
			copy(s.x[k*p:(k+1)*p], x[i*p:(i+1)*p])
		}
	}
	// The sums in time order (ties in input order), as the sort keeps them.
	x = s.x
	for k := 0; k < n; k++ {
		if s.event[k] {
			s.events++
			var row []float64
			if rows != nil {
				row = rows.uniq[int(rows.rowOf[k])*p : int(rows.rowOf[k]+1)*p]
			} else {
				row = x[k*p : (k+1)*p]
			}
			for j := 0; j < p; j++ {
				s.eventX[j] += row[j]
			}
		}
		if k == 0 || s.time[k] != s.time[k-1] {
			s.groups = append(s.groups, int32(k))
		}
	}
	s.groups = append(s.groups, int32(n))
	if rows != nil {
		s.setGrouping(rows)
	}
	return s, nil
}

// Len returns the number of subjects in the stratum.
func (s *CoxStratum) Len() int { return len(s.time) }

// Events returns the number of events in the stratum.
func (s *CoxStratum) Events() int { return s.events }

// ExtremeGaps returns, at beta, how far the k-th largest linear predictor η = x'β of the
// stratum lies below the largest (top) and the k-th smallest above the smallest (bottom):
// e^top bounds how much more the heaviest subject weighs in a risk set than the k-th
// heaviest. With fewer than k subjects both are +Inf. k < 1 or a beta of the wrong length
// panic. O(n·k).
func (s *CoxStratum) ExtremeGaps(beta []float64, k int) (top, bottom float64) {
	if k < 1 || len(beta) != s.p {
		panic(fmt.Sprintf("analysis: ExtremeGaps: k = %d, %d coefficients for p = %d", k, len(beta), s.p))
	}
	n := len(s.time)
	if n < k {
		return math.Inf(1), math.Inf(1)
	}
	p := s.p
	beta = beta[:p]
	if rowOf, uniq := s.rowGrouping(); rowOf != nil {
		return groupedGaps(rowOf, uniq, p, beta, k)
	}
	// hi holds the k largest η in decreasing order, lo the k smallest in increasing order
	// (k is small: min_cell); most η pass neither threshold and cost one comparison each.
	hi := make([]float64, 0, k)
	lo := make([]float64, 0, k)
	for i := 0; i < n; i++ {
		row := s.x[i*p : i*p+p]
		eta := 0.0
		for j, v := range row {
			eta += beta[j] * v
		}
		if len(hi) < k || eta > hi[k-1] {
			if len(hi) < k {
				hi = append(hi, eta)
			} else {
				hi[k-1] = eta
			}
			for m := len(hi) - 1; m > 0 && hi[m] > hi[m-1]; m-- {
				hi[m], hi[m-1] = hi[m-1], hi[m]
			}
		}
		if len(lo) < k || eta < lo[k-1] {
			if len(lo) < k {
				lo = append(lo, eta)
			} else {
				lo[k-1] = eta
			}
			for m := len(lo) - 1; m > 0 && lo[m] < lo[m-1]; m-- {
				lo[m], lo[m-1] = lo[m-1], lo[m]
			}
		}
	}
	return hi[0] - hi[k-1], lo[k-1] - lo[0]
}

// groupedGaps is ExtremeGaps over a stratum's distinct design rows (uniq, m×p), row r held by
// the subjects k with rowOf[k] = r: η once per row (the same sum as per subject), the k
// largest and smallest counted with the rows' multiplicities.
func groupedGaps(rowOf []int32, uniq []float64, p int, beta []float64, k int) (top, bottom float64) {
	m := len(uniq) / p
	count := make([]int, m)
	for _, r := range rowOf {
		count[r]++
	}
	eta := make([]float64, m)
	byEta := make([]int, m)
	for r := range eta {
		for j, v := range uniq[r*p : (r+1)*p] {
			eta[r] += beta[j] * v
		}
		byEta[r] = r
	}
	slices.SortFunc(byEta, func(a, b int) int { return cmp.Compare(eta[a], eta[b]) })
	kth := func(order func(i int) int) float64 { // η of the k-th subject along order
		seen := 0
		for i := 0; ; i++ {
			if seen += count[order(i)]; seen >= k {
				return eta[order(i)]
			}
		}
	}
	lowest, highest := eta[byEta[0]], eta[byEta[m-1]]
	return highest - kth(func(i int) int { return byEta[m-1-i] }), kth(func(i int) int { return byEta[i] }) - lowest
}

// Contribution returns the stratum's log partial likelihood, gradient and Hessian at beta;
// see CoxStratumContribution for the formulas.
func (s *CoxStratum) Contribution(beta []float64, ties Ties) (CoxContribution, error) {
	p := s.p
	if err := checkBeta("CoxStratum.Contribution", beta, p); err != nil {
		return CoxContribution{}, err
	}
	// Each subject's centred covariates xc, x'β on them and weight exp(x'β): computed per
	// distinct design row when the stratum has few (rowGrouping; the same operations on the
	// same numbers as per subject, so the same bits: cox_rowterms.go), else per subject.
	if g := s.grouping(); g != nil {
		return s.groupedContribution(beta, ties, g), nil
	}
	acc := newCoxAccum(p, ties)
	acc.batchLogs = true
	eventX := make([]float64, p)
	eventLP := 0.0
	xcs := make([]float64, p) // one scratch row filled per subject
	lps, ws := make([]float64, 1), make([]float64, 1)
	subject := func(k int32) (r int) { // the row of xcs, lps and ws of subject k
		lps[0] = s.centre(s.x[int(k)*p:int(k+1)*p], xcs, beta)
		ws[0] = math.Exp(lps[0])
		return 0
	}
	left := 0 // late entrants already taken out of the risk set
	for g := len(s.groups) - 2; g >= 0; g-- {
		acc.beginTime()
		for k := s.groups[g]; k < s.groups[g+1]; k++ {
			r := subject(k)
			xc := xcs[r*p : (r+1)*p]
			if !s.event[k] {
				acc.s0 += ws[r]
				addWeighted(acc.s1, acc.s2, ws[r], xc)
				continue
			}
			eventLP += lps[r]
			for j := range xc {
				eventX[j] += xc[j]
			}
			acc.addSubject(ws[r], xc, true)
		}
		// Walking back past t, the subjects who entered at or after t leave the risk set.
		t := s.time[s.groups[g]]
		for ; left < len(s.entry) && s.entry[left] >= t; left++ {
			r := subject(s.leaving[left])
			acc.addSubject(-ws[r], xcs[r*p:(r+1)*p], false)
		}
		acc.eventTerm()
	}
	return acc.contribution(len(s.time), eventLP, eventX), nil
}

// centre fills xc with the design row x centred on the stratum's column means and returns
// x'β on them.
func (s *CoxStratum) centre(x, xc, beta []float64) float64 {
	lp := 0.0
	for j := range xc {
		xc[j] = x[j] - s.center[j]
		lp += beta[j] * xc[j]
	}
	return lp
}

// CoxStratumContribution returns the log partial likelihood, its gradient and Hessian at beta
// for the patient-level data of ONE stratum (a site, or a stratum inside a site): time[i],
// event[i] and the covariates x[i*p : (i+1)*p] (n×p row-major) of subject i.
//
// With w_i = exp(x_i'β), risk sets R(t) = {i : T_i ≥ t} and, at each distinct event time t
// with d events, the sums S_k(t) over R(t) and E_k(t) over the events (k = 0, 1, 2 for w,
// w x, w x x'), Breslow's log partial likelihood is (Cox 1972; Breslow 1974)
//
//	ℓ(β) = Σ_events x_i'β − Σ_t d log S0(t),
//	U(β) = Σ_events x_i − Σ_t d S1/S0,   −H(β) = Σ_t d [S2/S0 − (S1/S0)(S1/S0)'],
//
// and Efron's replaces, for the l-th of the d tied events (l = 0..d−1), S_k by S_k − (l/d) E_k
// (Efron 1977). The covariates are centred on their means first, as R's coxph does: the
// partial likelihood does not change, but a constant column then contributes exact zeros and
// exp(x'β) cannot overflow for large covariate values. Cost O(n log n + n p²); use CoxStratum
// to sort once for all the iterations of a fit.
//
// Length mismatches panic; a non-finite time, covariate or coefficient returns an error.
func CoxStratumContribution(time []float64, event []bool, x []float64, p int, beta []float64, ties Ties) (CoxContribution, error) {
	if err := checkBeta("CoxStratumContribution", beta, p); err != nil {
		return CoxContribution{}, err
	}
	s, err := NewCoxStratum(time, event, x, p)
	if err != nil {
		return CoxContribution{}, err
	}
	return s.Contribution(beta, ties)
}

// RiskSetRow holds, for the subjects of one site whose time equals Time, with w = exp(x'β):
// R0 = Σ w, R1 = Σ w x, R2 = Σ w x x' (p×p row-major) over all of them, and E0, E1, E2 the same
// sums over the events only (nil when D = 0), D being the number of events. The client forms
// the pooled risk-set sums S_k(t) = Σ_sites Σ_{rows with Time ≥ t} R_k (WebDISCO, Lu et al. 2015).
type RiskSetRow struct {
	Time   float64
	D      int
	R0     float64
	R1, R2 []float64
	E0     float64
	E1, E2 []float64
}

// ErrCoxRowsDelayedEntry: the risk-set rows of the pooled form sum each subject into every
// risk set up to its exit, which is wrong once subjects enter late.
var ErrCoxRowsDelayedEntry = errors.New("analysis: the pooled Cox form's risk-set rows do not take delayed entries; fit stratified by site")

// CoxRiskSetRows returns one site's rows at beta, one per distinct time in increasing order,
// and eventXSum = Σ_events x. Covariates are NOT centred: every site must use the same origin
// for the pooled sums to be comparable. All rows share one backing array (no per-row
// allocation). Length mismatches panic; non-finite values return an error.
func CoxRiskSetRows(time []float64, event []bool, x []float64, p int, beta []float64) (rows []RiskSetRow, eventXSum []float64, err error) {
	if err := checkBeta("CoxRiskSetRows", beta, p); err != nil {
		return nil, nil, err
	}
	s, err := NewCoxStratum(time, event, x, p)
	if err != nil {
		return nil, nil, err
	}
	return s.RiskSetRows(beta)
}

// RiskSetRows returns the stratum's risk-set rows at beta; see CoxRiskSetRows.
func (s *CoxStratum) RiskSetRows(beta []float64) (rows []RiskSetRow, eventXSum []float64, err error) {
	p := s.p
	if len(s.entry) > 0 {
		return nil, nil, ErrCoxRowsDelayedEntry
	}
	if err := checkBeta("CoxStratum.RiskSetRows", beta, p); err != nil {
		return nil, nil, err
	}
	ngroups := len(s.groups) - 1
	nev := 0
	x := s.design()
	for g := 0; g < ngroups; g++ {
		for k := s.groups[g]; k < s.groups[g+1]; k++ {
			if s.event[k] {
				nev++
				break
			}
		}
	}
	rows = make([]RiskSetRow, ngroups)
	buf := make([]float64, (ngroups+nev)*(p+p*p))
	for g := range rows {
		r := &rows[g]
		lo, hi := int(s.groups[g]), int(s.groups[g+1])
		r.Time = s.time[lo]
		r.R1, buf = buf[:p:p], buf[p:]
		r.R2, buf = buf[:p*p:p*p], buf[p*p:]
		for k := lo; k < hi; k++ {
			if s.event[k] {
				r.D++
			}
		}
		if r.D > 0 {
			r.E1, buf = buf[:p:p], buf[p:]
			r.E2, buf = buf[:p*p:p*p], buf[p*p:]
		}
		for k := lo; k < hi; k++ {
			xi := x[k*p : (k+1)*p]
			lp := 0.0
			for j, v := range xi {
				lp += beta[j] * v
			}
			w := math.Exp(lp)
			r.R0 += w
			addWeighted(r.R1, r.R2, w, xi)
			if s.event[k] {
				r.E0 += w
				addWeighted(r.E1, r.E2, w, xi)
			}
		}
		for a := 0; a < p; a++ {
			for b := 0; b < a; b++ {
				r.R2[b*p+a] = r.R2[a*p+b]
				if r.D > 0 {
					r.E2[b*p+a] = r.E2[a*p+b]
				}
			}
		}
	}
	return rows, slices.Clone(s.eventX), nil
}

// checkRows validates one site's rows as received from the network: bad data, so errors.
func checkRows(site int, rows []RiskSetRow, p int) error {
	for k := range rows {
		r := &rows[k]
		if math.IsNaN(r.Time) || math.IsInf(r.Time, 0) {
			return fmt.Errorf("analysis: cox risk-set rows: site %d, row %d: time %v is not finite", site, k, r.Time)
		}
		if k > 0 && r.Time <= rows[k-1].Time {
			return fmt.Errorf("analysis: cox risk-set rows: site %d, row %d: time %v does not follow %v", site, k, r.Time, rows[k-1].Time)
		}
		if len(r.R1) != p || len(r.R2) != p*p {
			return fmt.Errorf("analysis: cox risk-set rows: site %d, row %d: %d and %d risk sums for p = %d", site, k, len(r.R1), len(r.R2), p)
		}
		if r.D < 0 {
			return fmt.Errorf("analysis: cox risk-set rows: site %d, row %d: %d events", site, k, r.D)
		}
		if r.D > 0 && (len(r.E1) != p || len(r.E2) != p*p) {
			return fmt.Errorf("analysis: cox risk-set rows: site %d, row %d: %d events but %d and %d event sums for p = %d", site, k, r.D, len(r.E1), len(r.E2), p)
		}
		if math.IsNaN(r.R0) || r.R0 < 0 || math.IsNaN(r.E0) || r.E0 < 0 {
			return fmt.Errorf("analysis: cox risk-set rows: site %d, row %d: negative or NaN weight sum", site, k)
		}
	}
	return nil
}

// PooledCoxContribution computes, on the client, the exact pooled (unstratified) log partial
// likelihood, gradient and Hessian at beta from every site's risk-set rows at the same beta
// (WebDISCO, Lu et al., JAMIA 2015). The pooled risk-set sums are
//
//	S_k(t) = Σ_sites Σ_{rows with Time ≥ t} R_k,   E_k(t) = Σ_sites E_k of the rows at t,
//
// and with them ℓ, U and H follow exactly as in CoxStratumContribution (Breslow or Efron),
// the event terms Σ_events x'β and Σ_events x coming from eventXSum. Ties across sites are
// handled like ties within a site: rows with equal Time are one distinct time.
//
// The rows carry no subject counts, so the result has N = 0: the caller knows N from the
// sites' replies. Malformed rows (unsorted, wrong lengths) return an error naming the site
// and row. Cost O(R (K + p²)) for R rows from K sites.
func PooledCoxContribution(sites [][]RiskSetRow, eventXSum [][]float64, p int, beta []float64, ties Ties) (CoxContribution, error) {
	if len(beta) != p {
		panic(fmt.Sprintf("analysis: PooledCoxContribution: %d coefficients for p = %d", len(beta), p))
	}
	if len(eventXSum) != len(sites) {
		return CoxContribution{}, fmt.Errorf("analysis: PooledCoxContribution: %d sites but %d event sums", len(sites), len(eventXSum))
	}
	eventX := make([]float64, p)
	for s, rows := range sites {
		if err := checkRows(s, rows, p); err != nil {
			return CoxContribution{}, err
		}
		if len(eventXSum[s]) != p {
			return CoxContribution{}, fmt.Errorf("analysis: PooledCoxContribution: site %d: %d event sums for p = %d", s, len(eventXSum[s]), p)
		}
		for j, v := range eventXSum[s] {
			eventX[j] += v
		}
	}
	acc := newCoxAccum(p, ties)
	next := make([]int, len(sites)) // next row to add per site, walking backwards
	for s, rows := range sites {
		next[s] = len(rows) - 1
	}
	for {
		t, found := latestTime(sites, next)
		if !found {
			break
		}
		acc.beginTime()
		for s, k := range next {
			if k < 0 || sites[s][k].Time != t {
				continue
			}
			r := &sites[s][k]
			next[s]--
			acc.s0 += r.R0
			for a := 0; a < p; a++ {
				acc.s1[a] += r.R1[a]
				for b := 0; b <= a; b++ {
					acc.s2[a*p+b] += r.R2[a*p+b]
				}
			}
			if r.D > 0 {
				acc.d += r.D
				acc.e0 += r.E0
				for a := 0; a < p; a++ {
					acc.e1[a] += r.E1[a]
					for b := 0; b <= a; b++ {
						acc.e2[a*p+b] += r.E2[a*p+b]
					}
				}
			}
		}
		acc.eventTerm()
	}
	eventLP := 0.0
	for j, v := range eventX {
		eventLP += beta[j] * v
	}
	return acc.contribution(0, eventLP, eventX), nil
}

// ErrNotConverged is wrapped by the error FitCox returns, together with a fit, when
// Newton–Raphson ran out of iterations (R: "Ran out of iterations and did not converge").
// Test with errors.Is.
var ErrNotConverged = errors.New("analysis: cox: did not converge")

// ErrBeyondBound is wrapped by the error FitCox returns, together with a fit, when the
// likelihood still increases at the coefficient bound (CoxContribution.CoefBound) of a term:
// its estimate is infinite (monotone likelihood, separation) or at least beyond what the data's
// holders answer. The fit then holds the last iterate, on the bound, and lists the terms in
// Infinite.
var ErrBeyondBound = errors.New("analysis: cox: a coefficient diverges beyond the sites' bound")

// ErrNoEvents is returned by FitCox when the data hold no event: the partial likelihood is
// then constant and no coefficient is estimable.
var ErrNoEvents = errors.New("analysis: cox: no events")

// orderByTime returns the record indices sorted by increasing time, ties in input order
// (so that sums, and their rounding, do not depend on the sort). Times are finite and
// non-negative, so the bit patterns of the float64 values sort like the values: a stable LSD
// radix sort on them costs O(n) per byte that differs between records (usually 3–5 of 8).
func orderByTime(time []float64) []int32 {
	n := len(time)
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}
	if slices.IsSorted(time) {
		return idx // nodes often hold their data in time order already
	}
	keys := make([]uint64, n)
	var and, or uint64 = ^uint64(0), 0
	for i, t := range time {
		if t == 0 {
			t = 0 // −0 has the sign bit set
		}
		k := math.Float64bits(t)
		keys[i] = k
		and &= k
		or |= k
	}
	keys2 := make([]uint64, n)
	idx2 := make([]int32, n)
	var count [256]int
	for shift := uint(0); shift < 64; shift += 8 {
		if (and>>shift)&0xff == (or>>shift)&0xff {
			continue // every key has the same byte here
		}
		count = [256]int{}
		for _, k := range keys {
			count[(k>>shift)&0xff]++
		}
		pos := 0
		for b, c := range count {
			count[b] = pos
			pos += c
		}
		for i, k := range keys {
			b := (k >> shift) & 0xff
			keys2[count[b]] = k
			idx2[count[b]] = idx[i]
			count[b]++
		}
		keys, keys2 = keys2, keys
		idx, idx2 = idx2, idx
	}
	return idx
}

// columnCenters returns the mean of every column of the n×p matrix x, exactly the common
// value for a constant column (so that centring makes it exactly zero).
func columnCenters(x []float64, n, p int) []float64 {
	m := make([]float64, p)
	if n == 0 {
		return m
	}
	for j := 0; j < p; j++ {
		first, constant := x[j], true
		sum := 0.0
		for i := 0; i < n; i++ {
			v := x[i*p+j]
			sum += v
			if v != first {
				constant = false
			}
		}
		if constant {
			m[j] = first
		} else {
			m[j] = sum / float64(n)
		}
	}
	return m
}
