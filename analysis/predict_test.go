package analysis

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"testing"
)

// predictGoldens is testdata/predict_goldens.json (predict_goldens.R).
type predictGoldens struct {
	Cases []struct {
		Name      string       `json:"name"`
		Ties      string       `json:"ties"`
		Site      []string     `json:"site"`
		Time      goldenFloats `json:"time"`
		Event     goldenFloats `json:"event"`
		P         int          `json:"p"`
		Terms     []string     `json:"terms"`
		X         goldenFloats `json:"x"`
		Coef      goldenFloats `json:"coef"`
		Vcov      goldenFloats `json:"vcov"`
		Landmarks goldenFloats `json:"landmarks"`
		Profiles  []struct {
			X        goldenFloats `json:"x"`
			LP       float64      `json:"lp"`
			Time     goldenFloats `json:"time"`
			Surv     goldenFloats `json:"surv"`
			StdErr   goldenFloats `json:"std_err"`
			Lower    goldenFloats `json:"lower"`
			Upper    goldenFloats `json:"upper"`
			AtTime   goldenFloats `json:"at_time"`
			AtSurv   goldenFloats `json:"at_surv"`
			AtStdErr goldenFloats `json:"at_std_err"`
			AtLower  goldenFloats `json:"at_lower"`
			AtUpper  goldenFloats `json:"at_upper"`
		} `json:"profiles"`
	} `json:"cases"`
}

func loadPredictGoldens(t *testing.T) predictGoldens {
	t.Helper()
	b, err := os.ReadFile("testdata/predict_goldens.json")
	if err != nil {
		t.Fatal(err)
	}
	var g predictGoldens
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Cases) == 0 {
		t.Fatal("no prediction goldens")
	}
	return g
}

// TestPredictGoldens fits each case with the two-phase pooled round over its sites, builds the
// baseline from the sites' phase-1 sums at β̂ and predicts every profile: the curve, its
// standard error and interval at R's event times, and the landmarks, equal R's
// survfit(fit, newdata = profile) to 1e-6.
func TestPredictGoldens(t *testing.T) {
	for _, cs := range loadPredictGoldens(t).Cases {
		t.Run(cs.Name, func(t *testing.T) {
			ties, err := ParseTies(cs.Ties)
			if err != nil {
				t.Fatal(err)
			}
			p := cs.P
			bySite := map[string]*siteDesign{}
			var names []string
			for i, s := range cs.Site {
				d := bySite[s]
				if d == nil {
					d = &siteDesign{}
					bySite[s] = d
					names = append(names, s)
				}
				d.time = append(d.time, cs.Time[i])
				d.event = append(d.event, cs.Event[i] == 1)
				d.x = append(d.x, cs.X[i*p:(i+1)*p]...)
				d.n++
			}
			slices.Sort(names)
			sites := make([]siteDesign, len(names))
			for k, s := range names {
				sites[k] = *bySite[s]
			}
			var phase2 int
			fit, err := FitCoxSteps(twoPhaseEvaluator(t, sites, p, ties, len(cs.Time), &phase2, nil), p, CoxOptions{Terms: cs.Terms})
			if err != nil {
				t.Fatal(err)
			}
			for j := range cs.Coef {
				checkClose(t, "coef "+cs.Terms[j], fit.Coef[j], cs.Coef[j], 1e-9)
			}
			base := pooledBaselineAt(t, sites, p, ties, fit.Coef)
			for k, pr := range cs.Profiles {
				ps, err := base.Predict(pr.X, fit.Coef, fit.Vcov, 0.95)
				if err != nil {
					t.Fatal(err)
				}
				checkClose(t, "lp", ps.LP, pr.LP, validationTol)
				if len(ps.Time) != len(pr.Time) {
					t.Fatalf("profile %d: %d event times, R %d", k, len(ps.Time), len(pr.Time))
				}
				for i := range pr.Time {
					if ps.Time[i] != pr.Time[i] {
						t.Fatalf("profile %d: time %d = %v, R %v", k, i, ps.Time[i], pr.Time[i])
					}
					checkClose(t, "surv", ps.Surv[i], pr.Surv[i], validationTol)
					checkClose(t, "std.err", ps.StdErr[i], pr.StdErr[i], validationTol)
					checkClose(t, "lower", ps.Lower[i], pr.Lower[i], validationTol)
					checkClose(t, "upper", ps.Upper[i], pr.Upper[i], validationTol)
				}
				at := ps.At(cs.Landmarks)
				for i, a := range at {
					if a.Beyond || a.Time != pr.AtTime[i] {
						t.Fatalf("profile %d: landmark %v not read (beyond %v)", k, a.Time, a.Beyond)
					}
					checkClose(t, "surv at landmark", a.Surv, pr.AtSurv[i], validationTol)
					// summary.survfit gives the standard error of survival itself, S·se(Λ).
					checkClose(t, "std.err at landmark", a.Surv*a.StdErr, pr.AtStdErr[i], validationTol)
					checkClose(t, "lower at landmark", a.Lower, pr.AtLower[i], validationTol)
					checkClose(t, "upper at landmark", a.Upper, pr.AtUpper[i], validationTol)
				}
			}
		})
	}
}

// TestPredictEdges: before the first event time survival is 1 with no uncertainty, past the
// last released time nothing is read, a non-estimable term (NaN coefficient) leaves the
// prediction as if it were absent, and an unusable profile or level is an error.
func TestPredictEdges(t *testing.T) {
	time := []float64{5, 8, 8, 12, 20, 30}
	event := []bool{true, true, false, true, false, true}
	x := []float64{1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 0, 1}
	st, err := NewCoxStratum(time, event, x, 2)
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err := st.TimeSums([]float64{0.5, 0})
	if err != nil {
		t.Fatal(err)
	}
	base, err := PooledCoxBaseline([][]RiskSetRow{rows}, 2, Efron)
	if err != nil {
		t.Fatal(err)
	}
	if base.LastTime != 30 || !slices.Equal(base.Time, []float64{5, 8, 12, 30}) {
		t.Fatalf("times %v, last %v", base.Time, base.LastTime)
	}
	vcov := []float64{0.2, math.NaN(), math.NaN(), math.NaN()}
	ps, err := base.Predict([]float64{1, 7}, []float64{0.5, math.NaN()}, vcov, 0)
	if err != nil {
		t.Fatal(err)
	}
	one, err := (&CoxBaseline{Ties: base.Ties, P: 1, Time: base.Time, Events: base.Events, CumHaz: base.CumHaz,
		VarHaz: base.VarHaz, XBar: everyOther(base.XBar), LastTime: base.LastTime}).Predict([]float64{1}, []float64{0.5}, []float64{0.2}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ps.LP != 0.5 || !slices.Equal(ps.Surv, one.Surv) || !slices.Equal(ps.StdErr, one.StdErr) {
		t.Errorf("a NaN term changed the prediction: %v %v vs %v %v", ps.Surv, ps.StdErr, one.Surv, one.StdErr)
	}
	at := ps.At([]float64{1, 8, 10, 30, 31})
	if at[0].Surv != 1 || at[0].StdErr != 0 || at[0].Beyond {
		t.Errorf("before the first event: %+v", at[0])
	}
	if at[1].Surv != ps.Surv[1] || at[2].Surv != ps.Surv[1] || at[3].Surv != ps.Surv[3] {
		t.Errorf("step function misread: %+v", at)
	}
	if !at[4].Beyond || !math.IsNaN(at[4].Surv) {
		t.Errorf("past the last time: %+v", at[4])
	}
	if _, err := base.Predict([]float64{math.Inf(1), 0}, []float64{0.5, 0}, []float64{1, 0, 0, 1}, 0); err == nil {
		t.Error("an infinite profile value predicted")
	}
	if _, err := base.Predict([]float64{1, 0}, []float64{0.5, 0}, []float64{1, 0, 0, 1}, 1.5); err == nil {
		t.Error("a level of 1.5 accepted")
	}
	if h, err := base.CumHazAt([]float64{4, 8, 29}); err != nil || h[0] != 0 || h[1] != base.CumHaz[1] || h[2] != base.CumHaz[2] {
		t.Errorf("CumHazAt = %v, %v", h, err)
	}
	if _, err := base.CumHazAt([]float64{31}); err == nil {
		t.Error("a landmark past the last time read")
	}
	if _, err := PooledCoxBaseline([][]RiskSetRow{{{Time: 1, R0: 1, R1: []float64{0, 0}}}}, 2, Efron); err != ErrNoEvents {
		t.Errorf("no events: %v", err)
	}
}

func everyOther(xs []float64) []float64 {
	var out []float64
	for i := 0; i < len(xs); i += 2 {
		out = append(out, xs[i])
	}
	return out
}

// pooledBaselineAt is the pooled baseline hazard from the sites' phase-1 sums at beta, as the
// client builds it from a fit's round at β̂.
func pooledBaselineAt(t *testing.T, sites []siteDesign, p int, ties Ties, beta []float64) *CoxBaseline {
	t.Helper()
	rows := make([][]RiskSetRow, len(sites))
	for k, s := range sites {
		st, err := NewCoxStratum(s.time, s.event, s.x, p)
		if err != nil {
			t.Fatal(err)
		}
		if rows[k], _, err = st.TimeSums(beta); err != nil {
			t.Fatal(err)
		}
	}
	base, err := PooledCoxBaseline(rows, p, ties)
	if err != nil {
		t.Fatal(err)
	}
	return base
}
