package node

import (
	"context"
	"math"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// Attack (a row of one event): with a continuous confounder the weights differ within every
// class, and a weighted survival row holding one event releases that patient's weight. The
// analyst picks the propensity model: with β = (b0, 0.02 per year of age, 0, 0), a woman's
// weight is 1 + exp(−b0 − 0.02·age), which gives her age back. Under the rule of a table
// grouped by the class (events plus censorings none or at least min_cell) lung's weighted
// tables hold such rows and the ages of the women who died in them are read exactly; under
// the strict rule a continuous confounder now brings (events and censorings each none or at
// least min_cell) no row holds fewer than min_cell events, and no age is read.
func TestAttackIPWOneEventWeight(t *testing.T) {
	pol := DefaultPolicy()
	e, _ := lungEngine(t, pol, nil)
	ls := studyOf(t, e)
	const b0, slope = -1.2, 0.02
	ageOf := func(w float64) float64 { return (-math.Log(w-1) - b0) / slope }
	ages := map[float64]bool{}
	for _, a := range ls.vars["age"].Numeric {
		ages[a] = true
	}
	read := func(tab protocol.WeightedTable) int {
		n := 0
		for k, ev := range tab.NEvent {
			if ev != 1 {
				continue
			}
			if a := ageOf(tab.Events[k]); ages[math.Round(a)] && math.Abs(a-math.Round(a)) < 1e-6 {
				n++
			}
		}
		return n
	}
	r := mustOK(t, e.Handle(context.Background(), ipwQuery("mallory", protocol.IPWOutcome, []float64{b0, slope, 0, 0})))
	for name, arm := range map[string]*protocol.IPWArm{"treated": r.IPW.TreatedArm, "control": r.IPW.ControlArm} {
		tab := arm.Table
		for k := range tab.Time {
			if ev, ce := tab.NEvent[k], tab.NCensor[k]; ev > 0 && ev < pol.MinCell || ce > 0 && ce < pol.MinCell {
				t.Errorf("%s arm: row at %v holds %d events and %d censorings", name, tab.Time[k], ev, ce)
			}
		}
	}
	if n := read(r.IPW.TreatedArm.Table); n != 0 {
		t.Errorf("the ages of %d women read off one-event rows", n)
	}
	// The control: the same women's rows under the class rule (no strictness).
	q := ipwQuery("mallory", protocol.IPWOutcome, []float64{b0, slope, 0, 0})
	c := &cohort{study: ls, rows: ls.evalFilter(nil)}
	c.n = c.rows.count()
	prep, err := e.ipwPrepare(c, &q)
	if err != nil {
		t.Fatal(err)
	}
	var time, w []float64
	var event []bool
	var cell []int32
	for i := 0; i < prep.n; i++ {
		if prep.treated[i] {
			lp := b0 + slope*prep.x[i*len(prep.names)+1]
			time, event, w, cell = append(time, prep.time[i]), append(event, prep.event[i]), append(w, 1+math.Exp(-lp)), append(cell, prep.cell[i])
		}
	}
	tt, te, _, _, err := cellPolicyTimes(time, event, cell, false, pol.BinDays, pol.MinCell)
	if err != nil {
		t.Fatal(err)
	}
	loose := protocol.WeightedTable{}
	byTime := map[float64]int{}
	for i, tm := range tt {
		k, ok := byTime[tm]
		if !ok {
			k = len(loose.Time)
			byTime[tm] = k
			loose.Time, loose.NEvent, loose.Events = append(loose.Time, tm), append(loose.NEvent, 0), append(loose.Events, 0)
		}
		if te[i] {
			loose.NEvent[k]++
			loose.Events[k] += w[i]
		}
	}
	if n := read(loose); n == 0 {
		t.Error("the control read no age: the attack would not show the rule matters")
	} else {
		t.Logf("the class rule alone lets %d women's ages be read", n)
	}
}
