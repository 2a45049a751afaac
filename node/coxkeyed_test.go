package node

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// keyedStudy is screenBenchStudy(n) with ages missing for 1 patient in 30, a continuous score
// (too many values to key) and a marker "rare" of 3 positive patients.
func keyedStudy(n int) *StudyData {
	st := screenBenchStudy(n)
	r := rand.New(rand.NewPCG(15, 15))
	score := VariableData{Variable: protocol.Variable{Name: "score", Type: protocol.Numeric}, Numeric: make([]float64, n)}
	rare := VariableData{Variable: protocol.Variable{Name: "rare", Type: protocol.Categorical, Categories: []string{"neg", "pos"}}, Codes: make([]int32, n)}
	for i := range score.Numeric {
		score.Numeric[i] = r.NormFloat64()
		rare.Codes[i] = int32(b2i(i%(n/3) == 7))
	}
	for k := range st.Variables {
		if v := &st.Variables[k]; v.Name == "age" {
			for i := range v.Numeric {
				if r.IntN(30) == 0 {
					v.Numeric[i] = math.NaN()
				}
			}
		}
	}
	st.Variables = append(st.Variables, score, rare)
	return st
}

// keyedModels are the models of TestKeyedDesignsEqualPerPatient in one form and ties:
// prognostic (marker + age + stage, marker + sex), predictive (arm × marker, an indicator),
// a continuous adjuster (not keyed) and a marker too rare for the design-column rule.
func keyedModels(form protocol.CoxForm, ties string) []protocol.CoxRequest {
	ms := []protocol.CoxRequest{
		{Covariates: []string{"mk01", "age", "stage"}, Beta: []float64{0.2, 0.01, 0.1, -0.1, 0.3}},
		{Covariates: []string{"mk02", "sex"}, Beta: []float64{-0.1, 0.05}},
		{Covariates: []string{"arm", "mk03", "age"}, Indicators: map[string]string{"arm": "io"},
			Interactions: []protocol.CoxInteraction{{A: "arm", B: "mk03"}}, Beta: []float64{0.1, 0.2, 0.01, -0.3}},
		{Covariates: []string{"mk04", "score"}, Beta: []float64{0.1, 0.2}},
		{Covariates: []string{"rare", "age"}, Beta: []float64{0.1, 0.01}},
	}
	for k := range ms {
		ms[k].Form, ms[k].Ties = form, ties
		if form == protocol.CoxPooledSums && (k == 0 || k == 2) {
			ms[k].Origin = map[string]float64{"age": 59}
		}
	}
	return ms
}

// TestKeyedDesignsEqualPerPatient: a site answers every model with the same bits, and refuses
// the same models with the same reasons, whether it builds the designs once per key
// (coxkeyed.go) or per patient — at a trusted site and under the default rules (the
// design-column rule tallied per key): keyedModels' screens, stratified and pooled (phase 1
// with an age origin, then phase 2), Efron and Breslow, with markers, ages and stages missing
// for some patients; and the forms that read the design per patient (validate, lp_histogram).
func TestKeyedDesignsEqualPerPatient(t *testing.T) {
	ctx := context.Background()
	store := openStore(t, filepath.Join(t.TempDir(), "keyed.db"))
	if _, err := store.ReplaceStudy(ctx, keyedStudy(6000)); err != nil {
		t.Fatal(err)
	}
	def := DefaultPolicy()
	def.DailyQueryBudget, def.OverlapGuard = 0, false // the same models asked again and again
	for name, pol := range map[string]protocol.Policy{"exact": ExactPolicy(), "default": def} {
		t.Run(name, func(t *testing.T) {
			pol.AllowPooledCox = true
			e, err := NewEngine(ctx, store, Config{InsecureOpen: true, Policy: &pol})
			if err != nil {
				t.Fatal(err)
			}
			declareRanges(t, e, "big", map[string][2]float64{"age": {18, 100}, "score": {-10, 10}})
			keyedEqualsPerPatient(t, e, name == "default")
		})
	}
}

func keyedEqualsPerPatient(t *testing.T, e *Engine, rules bool) {
	ctx := context.Background()
	// answer asks q with the design cache emptied, per key or per patient; keyed counts the
	// designs built per key.
	answer := func(q protocol.Query, perPatient bool) (r protocol.Reply, keyed int) {
		e.coxMu.Lock()
		e.coxCache, e.coxCacheUsed, e.perPatientDesigns = nil, 0, perPatient
		e.coxMu.Unlock()
		r = e.Handle(ctx, q)
		for _, ent := range e.coxCache {
			keyed += b2i(ent.prep.keyed)
		}
		return r, keyed
	}
	for _, form := range []protocol.CoxForm{protocol.CoxStratified, protocol.CoxPooledSums} {
		for _, ties := range []string{"efron", "breslow"} {
			ms := keyedModels(form, ties)
			q := protocol.Query{Version: protocol.Version, Kind: protocol.KindScreen, ID: "k", Analyst: "a", Study: "big", Endpoint: "OS",
				Screen: &protocol.ScreenRequest{Models: ms}}
			got, keyed := answer(q, false)
			want, _ := answer(q, true)
			if wantKeyed := len(ms) - 1 - b2i(rules); keyed != wantKeyed { // not the score's; not the rare one's, refused
				t.Errorf("%s %s: %d models keyed, want %d", form, ties, keyed, wantKeyed)
			}
			for k := range ms {
				g, w := mustOK(t, got).Screen.Models[k], mustOK(t, want).Screen.Models[k]
				refused := rules && k == len(ms)-1
				if (g.Error != nil) != refused || (g.Cox == nil) != refused || !reflect.DeepEqual(g, w) {
					t.Errorf("%s %s, model %d: keyed %+v, per patient %+v", form, ties, k, g, w)
				}
			}
			if form != protocol.CoxPooledSums {
				continue
			}
			// Phase 2 of each answered model at the same β, weights of the lengths phase 1 implies.
			for k, m := range ms[:len(ms)-1] {
				w := &protocol.CoxWeights{A: make([]float64, len(got.Screen.Models[k].Cox.Rows))}
				for i, row := range got.Screen.Models[k].Cox.Rows {
					w.A[i] = 1e-4 * float64(i+1)
					if row.D > 0 {
						w.B = append(w.B, float64(b2i(ties == "efron"))*0.5e-4)
					}
				}
				m.Form, m.Site, m.Weights = protocol.CoxPooledHessian, e.Site(), w
				q2 := protocol.Query{Version: protocol.Version, Kind: protocol.KindCox, ID: "k2", Analyst: "a", Study: "big", Endpoint: "OS", Cox: &m}
				g2, _ := answer(q2, false)
				w2, _ := answer(q2, true)
				if g2.Cox == nil || !reflect.DeepEqual(g2, w2) {
					t.Errorf("phase 2, %s, model %d: keyed %+v, per patient %+v", ties, k, g2, w2)
				}
			}
		}
	}
	// The forms that read each patient's linear predictor.
	for _, form := range []protocol.CoxForm{protocol.CoxValidate, protocol.CoxLPHistogram} {
		m := keyedModels(form, "efron")[0]
		if form == protocol.CoxLPHistogram {
			m.LPBinWidth = 0.1
		}
		q := protocol.Query{Version: protocol.Version, Kind: protocol.KindCox, ID: "v", Analyst: "a", Study: "big", Endpoint: "OS", Cox: &m}
		got, keyed := answer(q, false)
		want, _ := answer(q, true)
		if keyed != 1 || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: keyed (%d) %+v, per patient %+v", form, keyed, got, want)
		}
	}
}
