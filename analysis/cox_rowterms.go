package analysis

import "math"

// A stratum grouped by its distinct design rows (cox_weights.go: a marker and an age in years,
// about 150 rows among 100,000 subjects) still walks its subjects in time order, since the
// risk-set sums are running sums in that order; but every number a subject adds to them — w,
// w·x_i and (w·x_i)·x_j — depends on its row only. rowTerms computes them once per row, and
// the walks below add a row's terms per subject: the same additions of the same numbers in
// the same order as the per-subject walk (addWeighted), so the same bits
// (TestContributionGroupedEqualsPerSubject, TestTimeSumsGroupedEqualsPerSubject), without a
// multiplication, an exponential or a call per subject.

// rowTerms returns, for each of the m distinct rows xs (m×p row-major) with weight ws[r], its
// terms in one block of width 1+p (+p(p+1)/2 with second): w, then w·x_i for i < p, then,
// with second, (w·x_i)·x_j for j ≤ i in row order (the lower triangle addWeighted fills).
func rowTerms(xs, ws []float64, p int, second bool) (terms []float64, width int) {
	width = 1 + p
	if second {
		width += p * (p + 1) / 2
	}
	terms = make([]float64, len(ws)*width)
	for r, w := range ws {
		x, t := xs[r*p:(r+1)*p], terms[r*width:(r+1)*width]
		t[0] = w
		l := 1 + p
		for i, xi := range x {
			wx := w * xi
			t[1+i] = wx
			if second {
				for _, xj := range x[:i+1] {
					t[l] = wx * xj
					l++
				}
			}
		}
	}
	return terms, width
}

// addTerms adds t to sum element by element (len(t) ≥ len(sum)).
func addTerms(sum, t []float64) {
	t = t[:len(sum)]
	for l, v := range t {
		sum[l] += v
	}
}

// subTerms subtracts t from sum element by element: sum + (−t), what adding a subject of
// weight −w gives (−w·x rounds as −(w·x)).
func subTerms(sum, t []float64) {
	t = t[:len(sum)]
	for l, v := range t {
		sum[l] -= v
	}
}

// setSums stores running sums kept as rowTerms blocks (run: S0, S1, the lower triangle of S2;
// ev the same over the d events of the current time) into the accumulator, before eventTerm.
func (acc *coxAccum) setSums(run, ev []float64, d int) {
	p := acc.p
	acc.s0, acc.e0 = run[0], ev[0]
	acc.d, acc.dw = d, float64(d)
	copy(acc.s1, run[1:1+p])
	copy(acc.e1, ev[1:1+p])
	l := 1 + p
	for i := 0; i < p; i++ {
		for j := 0; j <= i; j++ {
			acc.s2[i*p+j], acc.e2[i*p+j] = run[l], ev[l]
			l++
		}
	}
}

// groupedContribution is Contribution over the stratum's distinct rows (rowOf, uniq).
func (s *CoxStratum) groupedContribution(beta []float64, ties Ties, rowOf []int32, uniq []float64) CoxContribution {
	p := s.p
	m := len(uniq) / p
	xcs := make([]float64, m*p) // the rows centred on the stratum's column means
	lps, ws := make([]float64, m), make([]float64, m)
	for r := 0; r < m; r++ {
		lps[r] = s.centre(uniq[r*p:(r+1)*p], xcs[r*p:(r+1)*p], beta)
		ws[r] = math.Exp(lps[r])
	}
	terms, width := rowTerms(xcs, ws, p, true)
	acc := newCoxAccum(p, ties)
	acc.batchLogs = true
	eventX := make([]float64, p)
	eventLP := 0.0
	run, ev := make([]float64, width), make([]float64, width)
	left := 0 // late entrants already taken out of the risk set
	for g := len(s.groups) - 2; g >= 0; g-- {
		clear(ev)
		d := 0
		lo, hi := s.groups[g], s.groups[g+1]
		for k, r := range rowOf[lo:hi] {
			t := terms[int(r)*width:]
			addTerms(run, t)
			if s.event[int(lo)+k] {
				d++
				addTerms(ev, t)
				eventLP += lps[r]
				for j, v := range xcs[int(r)*p : int(r+1)*p] {
					eventX[j] += v
				}
			}
		}
		// Walking back past t, the subjects who entered at or after t leave the risk set.
		t := s.time[lo]
		for ; left < len(s.entry) && s.entry[left] >= t; left++ {
			subTerms(run, terms[int(rowOf[s.leaving[left]])*width:])
		}
		acc.setSums(run, ev, d)
		acc.eventTerm()
	}
	return acc.contribution(len(s.time), eventLP, eventX)
}

// groupedTimeSums fills the phase-1 rows (TimeSums) over the stratum's distinct rows at the
// rows' weights wu: per distinct time, Σ w and Σ w·x over its subjects and over its events.
func (s *CoxStratum) groupedTimeSums(rows []RiskSetRow, buf []float64, g *rowGroups) {
	p := s.p
	terms, width := rowTerms(g.uniq, g.w, p, false)
	run, ev := make([]float64, width), make([]float64, width)
	for gi := range rows {
		row := &rows[gi]
		lo, hi := s.groups[gi], s.groups[gi+1]
		row.Time = s.time[lo]
		clear(run)
		clear(ev)
		for k, r := range g.rowOf[lo:hi] {
			t := terms[int(r)*width:]
			addTerms(run, t)
			if s.event[int(lo)+k] {
				row.D++
				addTerms(ev, t)
			}
		}
		row.R0, row.R1, buf = run[0], buf[:p:p], buf[p:]
		copy(row.R1, run[1:])
		if row.D > 0 {
			row.E0, row.E1, buf = ev[0], buf[:p:p], buf[p:]
			copy(row.E1, ev[1:])
		}
	}
}
