package node

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// coxOn is a stratified Cox query at β = 0 of cohort f on covariates (one design column each:
// numeric, or two-level categorical).
func coxOn(analyst string, f *protocol.Filter, covariates ...string) protocol.Query {
	q := query(protocol.KindCox)
	q.Analyst, q.Cohort, q.Endpoint = analyst, f, "OS"
	q.Cox = &protocol.CoxRequest{Form: protocol.CoxStratified, Ties: "efron", Covariates: covariates, Beta: make([]float64, len(covariates))}
	return q
}

// A model's complete cases are the cohort's patients with its covariates present. After a
// Table 1 has released a covariate's "missing" cell (14 patients lack wt.loss in lung), the
// cohort minus that cell minus a model's complete cases is empty — by definition, so the model
// is answered (it was refused when its complete cases were described as the cohort); and so
// is Table 1 after the model, whose "present" cell is the model's complete cases.
func TestGuardModelAfterTable1Missing(t *testing.T) {
	ctx := context.Background()
	pol := DefaultPolicy()
	_, engines := twoReplicas(t, pol, nil)
	e := engines[0]
	km := query(protocol.KindSurvival)
	km.Analyst, km.Endpoint = "alice", "OS"
	mustOK(t, e.Handle(ctx, km))
	mustOK(t, e.Handle(ctx, summaryOf("alice", nil, "wt.loss", "age", "sex")))
	mustOK(t, e.Handle(ctx, coxOn("alice", nil, "wt.loss")))
	mustOK(t, e.Handle(ctx, coxOn("alice", nil, "wt.loss", "age")))
	mustOK(t, e.Handle(ctx, coxOn("alice", nil, "sex")))
	// The other order.
	mustOK(t, e.Handle(ctx, coxOn("bob", nil, "wt.loss")))
	km.Analyst = "bob"
	mustOK(t, e.Handle(ctx, km))
	mustOK(t, e.Handle(ctx, summaryOf("bob", nil, "wt.loss", "age", "sex")))
	// A cohort of women: 4 of its 90 lack wt.loss, so its complete cases are 1..min_cell−1
	// patients from the cohort released before them — refused, as before.
	women := eq("sex", "female")
	mustOK(t, e.Handle(ctx, countOf("carol", women)))
	wantCode(t, e.Handle(ctx, coxOn("carol", women, "wt.loss")), protocol.CodeRefusedByPolicy)
}

// Attack (review class 2 through a model's complete cases): after Table 1 of a cohort A has
// released wt.loss's present and missing cells, the Cox model on wt.loss of A ∧ (age ≠ a ∨
// ecog = h) for each grade h, a the target's age. For a target with wt.loss, its complete
// cases are A's present cell for the target's grade and that cell minus the target otherwise;
// for a target without, the present cell for every grade. Targets: a unique age and sex in
// lung (one site). Every variant must be refused alike: the attacker reads no grade.
func TestAttackGuardCompleteCasesOracle(t *testing.T) {
	ctx := context.Background()
	_, engines := twoReplicas(t, DefaultPolicy(), nil)
	e := engines[0]
	ls := studyOf(t, e)
	ecog, sex, wt, age := ls.vars["ecog"], ls.vars["sex"], ls.vars["wt.loss"].Numeric, ls.vars["age"].Numeric
	seen := map[string]int{}
	key := func(i int) string { return fmt.Sprint(age[i], sex.Codes[i]) }
	for i := range age {
		seen[key(i)]++
	}
	recovered, played, lacking := 0, 0, 0
	for x := range age {
		if seen[key(x)] != 1 || ecog.Codes[x] < 0 || played-lacking >= 12 && !math.IsNaN(wt[x]) {
			continue
		}
		played++
		if math.IsNaN(wt[x]) {
			lacking++
		}
		analyst := fmt.Sprintf("mallory%d", x)
		mustOK(t, e.Handle(ctx, summaryOf(analyst, nil, "wt.loss", "age")))
		var answered []string
		for _, h := range ecog.Categories {
			f := orF(notF(and(ageIs(age[x]), eq("sex", sex.Categories[sex.Codes[x]]))), eq("ecog", h))
			if r := e.Handle(ctx, coxOn(analyst, f, "wt.loss")); r.Error == nil {
				answered = append(answered, h)
			}
		}
		if len(answered) == 1 && answered[0] == ecog.Categories[ecog.Codes[x]] {
			recovered++
		}
		if len(answered) != 0 && len(answered) != len(ecog.Categories) {
			t.Errorf("target aged %g (lacks wt.loss: %v): answered for %v only", age[x], math.IsNaN(wt[x]), answered)
		}
	}
	t.Logf("%d of %d targets' ECOG grade recovered (%d lack wt.loss)", recovered, played, lacking)
	if played < 10 || lacking == 0 || recovered != 0 {
		t.Fatalf("%d of %d targets' grades recovered (%d lack wt.loss)", recovered, played, lacking)
	}
}
