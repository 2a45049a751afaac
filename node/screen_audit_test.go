package node

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// A pooled screen's phase 2 is audited per model as a pooled_hessian cox query is: the model's
// query with its weights as their digest and lengths (no weight values), its place, the
// SHA-256 of the whole screen query as received, and the weights' digest in what was released;
// and the chain still verifies.
func TestScreenPhase2AuditDigest(t *testing.T) {
	ctx := context.Background()
	pol := ExactPolicy()
	pol.AllowPooledCox = true
	e, store := screenSite(t, pol, "100,1", nil)
	models := screenModels(0, "mk_a", "mk_b")
	for k := range models {
		models[k].Form, models[k].Origin = protocol.CoxPooledSums, map[string]float64{"age": 60}
	}
	sums := screenOutcomes(t, e.Handle(ctx, screenQuery(nil, models)))
	for k := range models {
		rows := sums[k].Cox.Rows
		w := &protocol.CoxWeights{A: make([]float64, len(rows))}
		for g, r := range rows {
			w.A[g] = 0.001 * float64(g+1+k)
			if r.D > 0 {
				w.B = append(w.B, 0)
			}
		}
		models[k].Form, models[k].Site, models[k].Weights = protocol.CoxPooledHessian, e.Site(), w
	}
	q := screenQuery(nil, models)
	raw, err := json.Marshal(q)
	if err != nil {
		t.Fatal(err)
	}
	var r protocol.Reply
	if err := protocol.UnmarshalReply(e.HandleJSON(ctx, raw), &r); err != nil {
		t.Fatal(err)
	}
	for k, o := range screenOutcomes(t, r) {
		if o.Error != nil || len(o.Cox.SecondMoment) != 4 {
			t.Fatalf("model %d: %+v", k, o)
		}
	}
	recs, err := store.AuditRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for k, rec := range recs[len(recs)-len(models):] {
		w := models[k].Weights
		digest := weightsDigest(w)
		want := []string{fmt.Sprintf(`"screen_query_sha256":%q`, HashQuery(string(raw))), fmt.Sprintf(`"model":%d`, k),
			`"weights_sha256":"` + digest, fmt.Sprintf(`"weights":[%d,%d]`, len(w.A), len(w.B)), `"covariates":["` + models[k].Covariates[0]}
		for _, s := range want {
			if !strings.Contains(rec.Query, s) {
				t.Errorf("model %d: audit query lacks %s: %s", k, s, rec.Query)
			}
		}
		if strings.Contains(rec.Query, `"a":`) || len(rec.Query) > 2048 || !strings.Contains(rec.Released, "weights_sha256="+digest) {
			t.Errorf("model %d: audit record %d: query %q, released %q", k, rec.Seq, rec.Query, rec.Released)
		}
	}
	if seq, err := VerifyChain(recs); err != nil {
		t.Fatalf("chain broken at %d: %v", seq, err)
	}
}
