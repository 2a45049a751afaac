package node

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/internal/lungtest"
	"github.com/oncofed/oncofed/protocol"
)

// twoPhaseEvaluator runs the two-phase pooled round through the engines' Handle, as app does
// over the network: phase 1 (pooled_sums) to every site, phase 2 (pooled_hessian, addressed to
// one site with its weights) only when the fit asks for the Hessian. base carries the study,
// endpoint and Cox request without form and β.
func twoPhaseEvaluator(t testing.TB, sites []*Engine, base protocol.Query, p int) analysis.CoxStepEvaluator {
	ctx := context.Background()
	ties, _ := analysis.ParseTies(base.Cox.Ties)
	ask := func(e *Engine, form protocol.CoxForm, beta []float64, w *protocol.CoxWeights) (*protocol.CoxReply, error) {
		q := base
		cox := *base.Cox
		cox.Form, cox.Beta, cox.Weights = form, slices.Clone(beta), w
		if w != nil {
			cox.Site = e.Site()
		}
		q.Cox = &cox
		r := e.Handle(ctx, q)
		if r.Error != nil {
			return nil, r.Error
		}
		if err := protocol.ValidateReply(q, r); err != nil {
			t.Fatalf("site %s: %v", e.Site(), err)
		}
		return r.Cox, nil
	}
	return func(beta []float64) (analysis.CoxContribution, func() (analysis.CoxContribution, error), error) {
		beta = slices.Clone(beta)
		var rows [][]analysis.RiskSetRow
		var exs [][]float64
		var bound []float64
		n := 0
		for _, e := range sites {
			c, err := ask(e, protocol.CoxPooledSums, beta, nil)
			if err != nil {
				return analysis.CoxContribution{}, nil, err
			}
			var rs []analysis.RiskSetRow
			for _, w := range c.Rows {
				rs = append(rs, analysis.RiskSetRow{Time: w.Time, D: w.D, R0: w.R0, R1: w.R1, E0: w.E0, E1: w.E1})
			}
			rows, exs = append(rows, rs), append(exs, c.EventXSum)
			bound = analysis.MinBound(bound, c.BetaLimit)
			n += c.N
		}
		step, err := analysis.PooledCoxSums(rows, exs, p, beta, ties)
		if err != nil {
			return analysis.CoxContribution{}, nil, err
		}
		c := step.Contribution()
		c.N, c.CoefBound = n, bound
		return c, func() (analysis.CoxContribution, error) {
			moments := make([][]float64, len(sites))
			for k, e := range sites {
				a, b := step.Weights(k)
				r, err := ask(e, protocol.CoxPooledHessian, beta, &protocol.CoxWeights{A: a, B: b})
				if err != nil {
					return analysis.CoxContribution{}, err
				}
				moments[k] = r.SecondMoment
			}
			full, err := step.Complete(moments)
			full.N, full.CoefBound = n, bound
			return full, err
		}, nil
	}
}

// checkAgainstR compares coefficients and standard errors with R's to 1e-9.
func checkAgainstR(t *testing.T, what string, fit *analysis.CoxFit, want lungtest.CoxTable) {
	t.Helper()
	for j := range want.Coef {
		if rel(fit.Coef[j], want.Coef[j]) > 1e-9 || rel(fit.SE[j], want.SE[j]) > 1e-9 {
			t.Errorf("%s %s: coef %v se %v, R %v %v", what, want.Term[j], fit.Coef[j], fit.SE[j], want.Coef[j], want.SE[j])
		}
	}
}

// pooledQuery is a Cox query on lung's OS with the given form, covariates and β.
func pooledQuery(form protocol.CoxForm, ties string, beta []float64, covariates ...string) protocol.Query {
	q := query(protocol.KindCox)
	q.Endpoint = "OS"
	q.Cox = &protocol.CoxRequest{Form: form, Ties: ties, Covariates: covariates, Beta: beta}
	return q
}

// TestCoxPooledOnePhaseRetired: the one-phase pooled form (S2 per time) is refused as an
// unsupported version, whatever the policy, before any row is read.
func TestCoxPooledOnePhaseRetired(t *testing.T) {
	e, _ := lungEngine(t, ExactPolicy(), nil)
	r := e.Handle(context.Background(), pooledQuery(protocol.CoxPooled, "efron", []float64{0}, "age"))
	wantCode(t, r, protocol.CodeUnsupported)
	if r.Cox != nil || !strings.Contains(r.Error.Message, "pooled_sums") {
		t.Errorf("refusal %+v does not name the two-phase form", r.Error)
	}
}

// TestCoxPhase1Shape: a pooled_sums reply carries no p×p sums; a pooled_hessian reply carries
// only the p×p second moment, and the engine's phase-2 reply equals the stratum's computation.
func TestCoxPhase1Shape(t *testing.T) {
	ctx := context.Background()
	e, _ := lungEngine(t, ExactPolicy(), nil)
	c := mustOK(t, e.Handle(ctx, pooledQuery(protocol.CoxPooledSums, "efron", []float64{0.01, -0.2}, "age", "sex"))).Cox
	for k, r := range c.Rows {
		if r.R2 != nil || r.E2 != nil || len(r.R1) != 2 || (r.D > 0) != (len(r.E1) == 2) {
			t.Fatalf("row %d: %+v", k, r)
		}
	}
}

// Attack (phase 2): the analyst sends crafted weights to a site. Every weight vector the site
// accepts makes its reply Σ_k A_k R2_k − Σ_k B_k E2_k, a linear combination of the per-time sums
// the retired one-phase form released as they were, at a β that passed the same rules (cap,
// weight spread, design columns); so the analyst can at best difference two replies into one
// released time's R2_k or E2_k. Under a protective policy that opts in to the pooled form, every
// released time holds at least min_cell subjects and zero or at least min_cell events, so no
// differencing isolates a patient; the exact policy (trusted networks only) keeps single
// patients' times, where the same differencing reads a patient's age off: the attack is real,
// and the policy is what stops it. The malformed-weight shortcuts (a spike, a B beyond the
// increase of A, wrong lengths, another site's request, a β beyond the cap) are refused.
func TestAttackCoxPhase2Weights(t *testing.T) {
	ctx := context.Background()
	run := func(pol protocol.Policy) (isolated, times int, minSubjects int) {
		e, _ := lungEngine(t, pol, nil)
		beta := []float64{0}
		c := mustOK(t, e.Handle(ctx, pooledQuery(protocol.CoxPooledSums, "efron", beta, "age"))).Cox
		nt := len(c.Rows)
		ne := 0
		for _, r := range c.Rows {
			if r.D > 0 {
				ne++
			}
		}
		ask := func(a, b []float64) float64 {
			q := pooledQuery(protocol.CoxPooledHessian, "efron", beta, "age")
			q.Cox.Site, q.Cox.Weights = e.Site(), &protocol.CoxWeights{A: a, B: b}
			return mustOK(t, e.Handle(ctx, q)).Cox.SecondMoment[0]
		}
		step := func(from int) []float64 {
			a := make([]float64, nt)
			for k := from; k < nt; k++ {
				a[k] = 1
			}
			return a
		}
		minSubjects = math.MaxInt
		zeroB := make([]float64, ne)
		prev := ask(step(0), zeroB)
		for k := 0; k < nt; k++ {
			next := 0.0
			if k+1 < nt {
				next = ask(step(k+1), zeroB)
			}
			// The difference is Σ age² over the subjects released at time k: one patient's
			// age² (an integer square) when the time holds one subject.
			r2 := prev - next
			n := int(math.Round(c.Rows[k].R0)) // β = 0: the subjects at time k
			minSubjects = min(minSubjects, n)
			if n == 1 {
				age := c.Rows[k].R1[0]
				if math.Abs(r2-age*age) < 1e-6*age*age {
					isolated++
				}
			}
			prev = next
		}
		return isolated, nt, minSubjects
	}
	isolated, nt, _ := run(ExactPolicy())
	if isolated < 20 {
		t.Fatalf("exact policy: only %d of %d times isolated a patient by differencing phase-2 replies; the attack this test guards against did not reproduce", isolated, nt)
	}
	pol := DefaultPolicy()
	pol.AllowPooledCox = true
	isolated, nt, minSubjects := run(pol)
	if isolated != 0 || minSubjects < pol.MinCell {
		t.Errorf("protective policy: %d patients isolated over %d released times; smallest time holds %d subjects (min_cell %d)", isolated, nt, minSubjects, pol.MinCell)
	}

	// Shortcuts refused, decided from the request and the site's released times alone.
	e, _ := lungEngine(t, pol, nil)
	c := mustOK(t, e.Handle(ctx, pooledQuery(protocol.CoxPooledSums, "efron", []float64{0.01}, "age"))).Cox
	nt, ne := len(c.Rows), 0
	for _, r := range c.Rows {
		if r.D > 0 {
			ne++
		}
	}
	honestA := make([]float64, nt)
	for k := range honestA {
		honestA[k] = float64(k + 1)
	}
	for _, tc := range []struct {
		name string
		mod  func(q *protocol.Query)
		code string
		msg  string
	}{
		{"spike", func(q *protocol.Query) { q.Cox.Weights.A = make([]float64, nt); q.Cox.Weights.A[3] = 1 }, protocol.CodeInvalid, "non-decreasing"},
		{"short A", func(q *protocol.Query) { q.Cox.Weights.A = honestA[1:] }, protocol.CodeInvalid, "released"},
		{"long B", func(q *protocol.Query) { q.Cox.Weights.B = make([]float64, ne+1) }, protocol.CodeInvalid, "released"},
		{"B beyond A's increase", func(q *protocol.Query) { q.Cox.Weights.B = slices.Repeat([]float64{2}, ne) }, protocol.CodeInvalid, "increase of A"},
		{"Breslow with B", func(q *protocol.Query) { q.Cox.Ties = "breslow"; q.Cox.Weights.B[0] = 0.5 }, protocol.CodeInvalid, "Breslow"},
		{"negative B", func(q *protocol.Query) { q.Cox.Weights.B[0] = -1 }, protocol.CodeInvalid, "non-negative"},
		{"another site", func(q *protocol.Query) { q.Cox.Site = "elsewhere" }, protocol.CodeInvalid, "addressed to site"},
		{"no site", func(q *protocol.Query) { q.Cox.Site = "" }, protocol.CodeInvalid, "names its site"},
		{"beyond the cap", func(q *protocol.Query) { q.Cox.Beta = []float64{0.5} }, protocol.CodeRefusedByPolicy, "max_cox_log_hr"},
		{"weights on phase 1", func(q *protocol.Query) { q.Cox.Form = protocol.CoxPooledSums }, protocol.CodeInvalid, "pooled_hessian request only"},
	} {
		q := pooledQuery(protocol.CoxPooledHessian, "efron", []float64{0.01}, "age")
		q.Cox.Site, q.Cox.Weights = e.Site(), &protocol.CoxWeights{A: slices.Clone(honestA), B: make([]float64, ne)}
		tc.mod(&q)
		r := e.Handle(ctx, q)
		wantCode(t, r, tc.code)
		if r.Cox != nil || !strings.Contains(r.Error.Message, tc.msg) {
			t.Errorf("%s: %+v", tc.name, r.Error)
		}
	}
	// The default policy refuses phase 2 like phase 1.
	def, _ := lungEngine(t, DefaultPolicy(), nil)
	q := pooledQuery(protocol.CoxPooledHessian, "efron", []float64{0}, "age")
	q.Cox.Site, q.Cox.Weights = def.Site(), &protocol.CoxWeights{A: honestA, B: make([]float64, ne)}
	wantCode(t, def.Handle(ctx, q), protocol.CodeRefusedByPolicy)
}

// TestCoxPhase2AuditDigest: the audit log records a phase-2 request with the digest of its
// weights, not the weights, and the chain still verifies.
func TestCoxPhase2AuditDigest(t *testing.T) {
	ctx := context.Background()
	e, store := lungEngine(t, ExactPolicy(), nil)
	c := mustOK(t, e.Handle(ctx, pooledQuery(protocol.CoxPooledSums, "breslow", []float64{0}, "age"))).Cox
	a := make([]float64, len(c.Rows))
	ne := 0
	for k, r := range c.Rows {
		a[k] = 0.001 * float64(k+1)
		if r.D > 0 {
			ne++
		}
	}
	q := pooledQuery(protocol.CoxPooledHessian, "breslow", []float64{0}, "age")
	q.Cox.Site, q.Cox.Weights = e.Site(), &protocol.CoxWeights{A: a, B: make([]float64, ne)}
	mustOK(t, e.Handle(ctx, q))
	recs, err := store.AuditRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	last := recs[len(recs)-1]
	digest := weightsDigest(q.Cox.Weights)
	if !strings.Contains(last.Query, `"weights_sha256":"`+digest) || strings.Contains(last.Query, `"a":`) ||
		!strings.Contains(last.Released, "weights_sha256="+digest) || len(last.Query) > 2048 {
		t.Errorf("audit record %d: query %q, released %q", last.Seq, last.Query, last.Released)
	}
	if seq, err := VerifyChain(recs); err != nil {
		t.Errorf("chain broken at %d: %v", seq, err)
	}
}
