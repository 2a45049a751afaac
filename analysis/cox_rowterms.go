package analysis

import "math"

// A stratum grouped by its distinct design rows (cox_weights.go: a marker and an age in years,
// about 150 rows among 100,000 subjects) still walks its subjects in time order, since the
// risk-set sums are running sums in that order; but every number a subject adds to them — w,
// w·x_i and (w·x_i)·x_j — depends on its row only. rowTerms computes them once per row, and
// the walks below add a row's terms per subject: the same additions of the same numbers in
// the same order as the per-subject walk (addWeighted), so the same bits
// (TestContributionGroupedEqualsPerSubject, TestTimeSumsGroupedEqualsPerSubject), without a
// multiplication, an exponential, a branch or a call per subject. The sums are taken four at a
// time in registers over a distinct time's subjects (addRows), each sum still getting its terms
// in subject order.

// termBlock is how many sums addRows keeps in registers: rowTerms pads its rows to a multiple.
const termBlock = 4

// rowTerms returns, for each of the m distinct rows xs (m×p row-major) with weight ws[r], its
// terms in one block of width 1+p (+p(p+1)/2 with second): w, then w·x_i for i < p, then,
// with second, (w·x_i)·x_j for j ≤ i in row order (the lower triangle addWeighted fills);
// each row is padded with zeros to stride, a multiple of termBlock.
func rowTerms(xs, ws []float64, p int, second bool) (terms []float64, width, stride int) {
	width = 1 + p
	if second {
		width += p * (p + 1) / 2
	}
	stride = paddedWidth(width)
	terms = make([]float64, len(ws)*stride)
	for r, w := range ws {
		x, t := xs[r*p:(r+1)*p], terms[r*stride:(r+1)*stride]
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
	return terms, width, stride
}

// paddedWidth rounds width up to a multiple of termBlock.
func paddedWidth(width int) int { return (width + termBlock - 1) / termBlock * termBlock }

// addRows adds to sum (len(sum) = stride) the terms of the rows rows, in order: sum[l] +=
// terms[r*stride+l] for each r. Each sum gets the same additions in the same order as adding
// the rows one by one; termBlock sums are held in registers across the rows.
func addRows(sum, terms []float64, stride int, rows []int32) {
	for c := 0; c+termBlock <= len(sum); c += termBlock {
		s := sum[c : c+termBlock : c+termBlock]
		a0, a1, a2, a3 := s[0], s[1], s[2], s[3]
		for _, r := range rows {
			t := terms[int(r)*stride+c:]
			t = t[:termBlock:termBlock]
			a0 += t[0]
			a1 += t[1]
			a2 += t[2]
			a3 += t[3]
		}
		s[0], s[1], s[2], s[3] = a0, a1, a2, a3
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

// groupedContribution is Contribution over the stratum's distinct rows (grouping g). A
// distinct time's subjects are added to the running sums first, then its events to the event
// sums (evRow): each sum gets the same terms in the same order as in the per-subject walk.
func (s *CoxStratum) groupedContribution(beta []float64, ties Ties, g *rowGroups) CoxContribution {
	p := s.p
	m := len(g.uniq) / p
	xcs := make([]float64, m*p) // the rows centred on the stratum's column means
	lps, ws := make([]float64, m), make([]float64, m)
	for r := 0; r < m; r++ {
		lps[r] = s.centre(g.uniq[r*p:(r+1)*p], xcs[r*p:(r+1)*p], beta)
		ws[r] = math.Exp(lps[r])
	}
	terms, _, stride := rowTerms(xcs, ws, p, true)
	// An event also adds its x'β and its centred x to sums over all the events: per row, lp
	// then xc, padded like terms.
	evStride := paddedWidth(1 + p)
	evTerms := make([]float64, m*evStride)
	for r := 0; r < m; r++ {
		evTerms[r*evStride] = lps[r]
		copy(evTerms[r*evStride+1:], xcs[r*p:(r+1)*p])
	}
	acc := newCoxAccum(p, ties)
	acc.batchLogs = true
	evSums := make([]float64, evStride)
	run, ev := make([]float64, stride), make([]float64, stride)
	left := 0 // late entrants already taken out of the risk set
	for gi := len(s.groups) - 2; gi >= 0; gi-- {
		lo, hi := s.groups[gi], s.groups[gi+1]
		addRows(run, terms, stride, g.rowOf[lo:hi])
		clear(ev)
		events := g.evRow[g.evStart[gi]:g.evStart[gi+1]]
		addRows(ev, terms, stride, events)
		addRows(evSums, evTerms, evStride, events)
		// Walking back past t, the subjects who entered at or after t leave the risk set.
		t := s.time[lo]
		for ; left < len(s.entry) && s.entry[left] >= t; left++ {
			subTerms(run, terms[int(g.rowOf[s.leaving[left]])*stride:])
		}
		acc.setSums(run, ev, len(events))
		acc.eventTerm()
	}
	return acc.contribution(len(s.time), evSums[0], evSums[1:1+p])
}

// groupedTimeSums fills the phase-1 rows (TimeSums) over the stratum's distinct rows at the
// rows' weights (g.w): per distinct time, Σ w and Σ w·x over its subjects and over its events.
func (s *CoxStratum) groupedTimeSums(rows []RiskSetRow, buf []float64, g *rowGroups) {
	p := s.p
	terms, _, stride := rowTerms(g.uniq, g.w, p, false)
	run, ev := make([]float64, stride), make([]float64, stride)
	for gi := range rows {
		row := &rows[gi]
		lo, hi := s.groups[gi], s.groups[gi+1]
		row.Time = s.time[lo]
		clear(run)
		addRows(run, terms, stride, g.rowOf[lo:hi])
		row.R0, row.R1, buf = run[0], buf[:p:p], buf[p:]
		copy(row.R1, run[1:])
		events := g.evRow[g.evStart[gi]:g.evStart[gi+1]]
		if row.D = len(events); row.D > 0 {
			clear(ev)
			addRows(ev, terms, stride, events)
			row.E0, row.E1, buf = ev[0], buf[:p:p], buf[p:]
			copy(row.E1, ev[1:])
		}
	}
}
