package node

import (
	"context"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// wantReason checks that r is a refusal by policy for reason with limit, as the client
// receives it (through JSON), its message unchanged in kind.
func wantReason(t *testing.T, r protocol.Reply, reason string, limit float64) {
	t.Helper()
	wantCode(t, r, protocol.CodeRefusedByPolicy)
	if r.Error.Reason != reason || r.Error.Limit != limit {
		t.Fatalf("refused with %+v, want reason %s and limit %v", r.Error, reason, limit)
	}
	if err := protocol.ValidateReply(protocol.Query{Version: r.Version, ID: r.QueryID, Kind: r.Kind}, r); err != nil {
		t.Fatalf("the refusal is not a valid reply: %v", err)
	}
}

// TestRefusalReasons: every refusal a client decides on carries its reason code and limit:
// the small cohort (exact, feasibility and Cox complete cases), the daily query and
// feasibility budgets, the overlap guard and the privacy budget.
func TestRefusalReasons(t *testing.T) {
	ctx := context.Background()
	old := query(protocol.KindCount)
	old.Cohort = rng("age", fp(80), nil) // lung has fewer than 10 patients aged 80 or more
	pol := DefaultPolicy()
	pol.DailyQueryBudget, pol.FeasibilityBudget = 4, 1
	e, _ := lungEngine(t, pol, nil)

	wantReason(t, handleJSON(t, e, old), protocol.ReasonSmallCohort, float64(pol.MinCohort))
	feas := old
	feas.Feasibility = true
	wantReason(t, handleJSON(t, e, feas), protocol.ReasonSmallCohort, float64(pol.MinCohort))
	feas.Cohort = nil
	wantReason(t, handleJSON(t, e, feas), protocol.ReasonFeasibilityBudget, 1)

	// The overlap guard: women, then women aged ≤ 76 (one fewer).
	women := query(protocol.KindCount)
	women.Cohort = eq("sex", "female")
	mustOK(t, e.Handle(ctx, women))
	minusOne := women
	minusOne.Cohort = and(eq("sex", "female"), rng("age", nil, fp(76)))
	wantReason(t, handleJSON(t, e, minusOne), protocol.ReasonOverlapGuard, float64(pol.MinCell))
	wantReason(t, handleJSON(t, e, query(protocol.KindCount)), protocol.ReasonDailyBudget, 4) // 3 queries and 2 feasibility counts: 3.5

	cox := query(protocol.KindCox)
	cox.Endpoint, cox.Cohort = "OS", old.Cohort
	cox.Cox = &protocol.CoxRequest{Form: protocol.CoxStratified, Ties: "efron", Covariates: []string{"age"}, Beta: []float64{0}}
	pol.DailyQueryBudget = 0
	e, _ = lungEngine(t, pol, nil)
	wantReason(t, handleJSON(t, e, cox), protocol.ReasonSmallCohort, float64(pol.MinCohort))

	dpPol := DefaultPolicy()
	dpPol.DPRhoDaily, dpPol.DPRhoTotal = 0.02, 0.03
	l := newDPLung(t, dpPol, lungCSV)
	for i := 0; i < 4; i++ {
		mustOK(t, handleJSON(t, l.e, sign(t, l.dora, query(protocol.KindCount))))
	}
	wantReason(t, handleJSON(t, l.e, sign(t, l.dora, query(protocol.KindCount))), protocol.ReasonPrivacyBudget, 0.02)
}
