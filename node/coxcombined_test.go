package node

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// Attack (the locator through several columns): covariates a, b, c (yes/no); the cohort is 10
// patients with a only, 10 with b only, 10 with c only, 40 with none, and the target x, one of
// 10 patients with all three. Every column passes the design-column rule (a = yes holds 11
// patients, 7 or 8 events) and β = (5, 5, 5) is within the per-column cap, yet x's linear
// predictor is 15 against the others' 5 or 0: x holds over 99.8% of the weight of every risk
// set it is in, and the reply is x's alone, as in the single-column locator. The default
// policy refuses it (checkWeightSpread: the 5 heaviest patients are not within 2 of the
// heaviest), for each of the 10 targets, and at β = 2.5 each too (x still over 80%); without
// that rule the same queries are answered (the share is measured on the site's data), which
// shows the test can fail. At β = 0.5 each (x e^1 above the next) it is answered.
func TestAttackCoxCombinedColumns(t *testing.T) {
	type pt struct {
		a, b, c bool
		time    float64
		event   bool
	}
	var ps []pt
	add := func(a, b, c bool, k int) {
		for i := 0; i < k; i++ {
			ps = append(ps, pt{a, b, c, float64(20 + 37*len(ps)%700), i%10 < 7})
		}
	}
	add(true, false, false, 10)
	add(false, true, false, 10)
	add(false, false, true, 10)
	add(false, false, false, 40)
	add(true, true, true, 10) // the targets
	yn := map[bool]string{true: "yes", false: "no"}
	var csv strings.Builder
	csv.WriteString("id,a,b,c,age,time,event\n")
	for i, p := range ps {
		fmt.Fprintf(&csv, "%d,%s,%s,%s,%d,%g,%d\n", i+1, yn[p.a], yn[p.b], yn[p.c], 20+i, p.time, b2i(p.event))
	}
	store := importFile(t, filepath.Join(t.TempDir(), "abc.db"), writeFile(t, t.TempDir(), "abc.csv", csv.String()),
		ImportSpec{Study: "abc", IDColumn: "id", DataCut: "2026-01-01", Endpoints: []EndpointSpec{{Name: "OS", TimeColumn: "time", EventColumn: "event"}},
			Dictionary: declare("a=yes,no", "b=yes,no", "c=yes,no")})
	pol := DefaultPolicy()
	pol.DailyQueryBudget = 0
	ctx := context.Background()
	engine := func(withoutSpread bool) *Engine {
		e, err := NewEngine(ctx, store, Config{InsecureOpen: true, Policy: &pol})
		if err != nil {
			t.Fatal(err)
		}
		e.withoutWeightSpread = withoutSpread
		return e
	}
	def, old := engine(false), engine(true)
	levels := map[string][]string{"a": {"no", "yes"}, "b": {"no", "yes"}, "c": {"no", "yes"}}
	ask := func(e *Engine, x int, beta float64) protocol.Reply {
		// Everyone but the other targets: the cohort holds x as its only patient with all three.
		cohort := &protocol.Filter{Op: protocol.OpOr, Args: []*protocol.Filter{
			rng("age", fp(20), fp(89)), rng("age", fp(float64(20+x)), fp(float64(20+x)))}}
		q := protocol.Query{Version: protocol.Version, Kind: protocol.KindCox, ID: "q", Analyst: fmt.Sprint("eve", x), Study: "abc", Endpoint: "OS", Cohort: cohort,
			Cox: &protocol.CoxRequest{Form: protocol.CoxStratified, Ties: "efron", Covariates: []string{"a", "b", "c"}, Levels: levels, Beta: []float64{beta, beta, beta}}}
		return e.Handle(ctx, q)
	}
	// xShare is x's smallest share of the weight exp(x'β) of the risk sets it is in (times
	// coarsened to 7-day bins, as released; merged blocks only widen the risk sets x is in
	// by patients with less weight than x, who are counted here too).
	xShare := func(x int, beta float64) float64 {
		eta := func(p pt) float64 { return beta * (b2f(p.a) + b2f(p.b) + b2f(p.c)) }
		tx := math.Ceil(ps[x].time/7) * 7
		least := 1.0
		for _, q := range ps[:70] {
			t := math.Ceil(q.time/7) * 7
			if t > tx {
				continue
			}
			sum := math.Exp(eta(ps[x]))
			for _, r := range ps[:70] {
				if math.Ceil(r.time/7)*7 >= t {
					sum += math.Exp(eta(r))
				}
			}
			least = math.Min(least, math.Exp(eta(ps[x]))/sum)
		}
		return least
	}
	answeredOld, minShare := 0, 1.0
	for x := 70; x < 80; x++ {
		r := ask(def, x, 5)
		wantCode(t, r, protocol.CodeRefusedByPolicy)
		if !strings.Contains(r.Error.Message, "columns together single out") {
			t.Errorf("target %d, β = 5 each: %q; want the weight-spread refusal", x, r.Error.Message)
		}
		if r := ask(old, x, 5); r.Error == nil {
			answeredOld++
			minShare = math.Min(minShare, xShare(x, 5))
		}
		wantCode(t, ask(def, x, 2.5), protocol.CodeRefusedByPolicy)
		mustOK(t, ask(def, x, 0.5))
	}
	if answeredOld != 10 || minShare < 0.998 {
		t.Errorf("without the weight-spread rule: %d of 10 answered, x's least share of its risk sets %.4f; the attack this test guards against did not reproduce", answeredOld, minShare)
	}
	t.Logf("without the weight-spread rule %d of 10 targets answered at β = 5 each, x holding at least %.5f of every risk set it is in; at β = 2.5 each, at least %.3f", answeredOld, minShare, xShare(70, 2.5))
}
