package node

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/internal/lungtest"
	"github.com/oncofed/oncofed/protocol"
)

// validateQuery asks a site to evaluate the model β over age and sex (female the reference)
// on its own patients, with calibration in the large at 180 and 365 days.
func validateQuery(beta []float64, cohort *protocol.Filter) protocol.Query {
	q := query(protocol.KindCox)
	q.Endpoint, q.Cohort = "OS", cohort
	q.Cox = &protocol.CoxRequest{Form: protocol.CoxValidate, Ties: "efron", Covariates: []string{"age", "sex"},
		Levels: map[string][]string{"sex": {"female", "male"}}, Beta: beta,
		Landmarks: []float64{180, 365}, BaselineCumHaz: []float64{0.12, 0.31}}
	return q
}

// lungSiteRows returns time, event and the design (age, male) of one lung.csv site.
func lungSiteRows(t *testing.T, site string) (time []float64, event []bool, x []float64) {
	t.Helper()
	h, rows := lungtest.Read(t)
	cs, ct, ce := lungtest.Column(t, h, "site"), lungtest.Column(t, h, "time"), lungtest.Column(t, h, "event")
	ca, cx := lungtest.Column(t, h, "age"), lungtest.Column(t, h, "sex")
	for _, r := range rows {
		if r[cs] != site {
			continue
		}
		tm, _ := strconv.ParseFloat(r[ct], 64)
		age, _ := strconv.ParseFloat(r[ca], 64)
		time, event = append(time, tm), append(event, r[ce] == "1")
		x = append(x, age, b2f(r[cx] == "male"))
	}
	return time, event, x
}

// A held-out site evaluates a broadcast model on its own patients and releases exactly what
// analysis.ValidateAtSite computes over them (which equals R: analysis/validation_test.go),
// and nothing of its patients' linear predictors or pair counts.
func TestCoxValidateHeldOutSite(t *testing.T) {
	beta := []float64{0.017, 0.51}
	for _, e := range lungSites(t, ExactPolicy()) {
		if e.Site() != "inst1" {
			continue
		}
		r := mustOK(t, e.Handle(context.Background(), validateQuery(beta, nil)))
		if err := protocol.ValidateReply(validateQuery(beta, nil), r); err != nil {
			t.Fatalf("reply fails the client's checks: %v", err)
		}
		time, event, x := lungSiteRows(t, "inst1")
		st, err := analysis.NewCoxStratum(time, event, x, 2)
		if err != nil {
			t.Fatal(err)
		}
		want, err := st.Validate(beta, analysis.Efron, []float64{180, 365}, []float64{0.12, 0.31})
		if err != nil {
			t.Fatal(err)
		}
		v := r.Cox.Validation
		if r.Cox.N != want.N || r.Cox.Events != want.Events || r.Cox.N != 36 {
			t.Errorf("n, events = %d, %d; want %d, %d", r.Cox.N, r.Cox.Events, want.N, want.Events)
		}
		for _, c := range []struct {
			what      string
			got, want float64
		}{{"harrell_c", v.HarrellC, want.Harrell.C}, {"harrell_se", v.HarrellSE, want.Harrell.SE},
			{"uno_c", v.UnoC, want.Uno.C}, {"uno_se", v.UnoSE, want.Uno.SE},
			{"slope", *v.CalibrationSlope, want.Slope}, {"slope_se", *v.CalibrationSlopeSE, want.SlopeSE},
			{"observed 365", v.Calibration[1].Observed, want.Calibration[1].Observed},
			{"predicted 365", v.Calibration[1].Predicted, want.Calibration[1].Predicted},
			{"brier 365", *v.Calibration[1].Brier, want.Calibration[1].Brier}} {
			if !scalar.EqualWithinAbsOrRel(c.got, c.want, 1e-12, 1e-12) {
				t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
			}
		}
		b, _ := json.Marshal(r)
		for _, leak := range []string{"concordant", "discordant", "tied", "lp", "rows", "gradient"} {
			if strings.Contains(string(b), `"`+leak) {
				t.Errorf("the reply carries %q: %s", leak, b)
			}
		}
		return
	}
	t.Fatal("no inst1 site")
}

// Under the default (protective) policy a site releases the validation on coarsened times
// when its cohort passes every model rule, and sits out, named by the reply, when it has fewer
// than min_cell events.
func TestCoxValidateSitsOut(t *testing.T) {
	pol := DefaultPolicy()
	pol.EventsPerCoxCovariate = 0
	answered, sat := 0, 0
	for _, e := range lungSites(t, pol) {
		r := e.Handle(context.Background(), validateQuery([]float64{0.017, 0.51}, nil))
		if r.Error == nil {
			answered++
			if r.Cox.Events < pol.MinCell || r.Cox.Validation == nil {
				t.Errorf("%s answered with %d events", e.Site(), r.Cox.Events)
			}
			continue
		}
		if r.Error.Code != protocol.CodeRefusedByPolicy || r.Site != e.Site() || r.Cox != nil {
			t.Errorf("%s: refusal %+v from site %q with payload %v", e.Site(), r.Error, r.Site, r.Cox != nil)
		}
		sat++
	}
	if answered == 0 || sat == 0 {
		t.Errorf("%d sites answered, %d sat out: the lung sites should give both", answered, sat)
	}
}

// withLungRow writes lung.csv with the row of patient id changed by edit.
func withLungRow(t *testing.T, id string, edit func(h []string, r []string)) string {
	t.Helper()
	h, rows := lungtest.Read(t)
	var b strings.Builder
	b.WriteString(strings.Join(quoteAll(h), ",") + "\n")
	for _, r := range rows {
		r = append([]string(nil), r...)
		if r[lungtest.Column(t, h, "id")] == id {
			edit(h, r)
		}
		b.WriteString(strings.Join(quoteAll(r), ",") + "\n")
	}
	p := filepath.Join(t.TempDir(), "lung.csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func quoteAll(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = strconv.Quote(x)
		if x == "" {
			out[i] = ""
		}
	}
	return out
}

// Attacks on the validate form (issue 20), each against two sites that differ only in the
// target patient's outcome: the attacker learns nothing if the two replies are the same.
//
//   - A one-patient held-out set: a cohort of the target alone (or of a handful) is refused
//     for min_cohort before any figure is computed.
//   - A crafted model, β one-hot on the target's covariate pattern (the only ECOG 3 patient):
//     the design-column rule refuses it (the column holds one patient), whatever the target's
//     outcome; an older attacker's trick, a huge β on it, is beyond the cap as well.
//   - Repeated validations of crafted models: each is refused the same way, so repeating
//     them, or varying β, yields the same refusal.
func TestAttackCoxValidate(t *testing.T) {
	h, rows := lungtest.Read(t)
	ce, cid, ct, cev := lungtest.Column(t, h, "ecog"), lungtest.Column(t, h, "id"), lungtest.Column(t, h, "time"), lungtest.Column(t, h, "event")
	target := ""
	for _, r := range rows {
		if r[ce] == "ecog3" {
			target = r[cid]
		}
	}
	if target == "" {
		t.Fatal("lung.csv has no ECOG 3 patient")
	}
	variants := []string{
		withLungRow(t, target, func(_ []string, r []string) { r[ct], r[cev] = "30", "1" }),  // died early
		withLungRow(t, target, func(_ []string, r []string) { r[ct], r[cev] = "900", "0" }), // alive late
	}
	pol := DefaultPolicy()
	pol.EventsPerCoxCovariate = 0
	var engines []*Engine
	for k, p := range variants {
		store := importFile(t, filepath.Join(t.TempDir(), "v"+strconv.Itoa(k)+".db"), p, lungSpec)
		e, err := NewEngine(context.Background(), store, Config{InsecureOpen: true, Policy: &pol})
		if err != nil {
			t.Fatal(err)
		}
		engines = append(engines, e)
	}
	ecog := []string{"ecog0", "ecog1", "ecog2", "ecog3"}
	crafted := func(beta []float64, cohort *protocol.Filter) protocol.Query {
		q := query(protocol.KindCox)
		q.Endpoint, q.Cohort = "OS", cohort
		q.Cox = &protocol.CoxRequest{Form: protocol.CoxValidate, Ties: "efron", Covariates: []string{"ecog"},
			Levels: map[string][]string{"ecog": ecog}, Beta: beta}
		return q
	}
	age := 0.0
	for _, r := range rows {
		if r[cid] == target {
			age, _ = strconv.ParseFloat(r[lungtest.Column(t, h, "age")], 64)
		}
	}
	attacks := map[string]protocol.Query{
		"one-patient held-out set":    validateQuery([]float64{0.017, 0.51}, and(eq("ecog", "ecog3"), rng("age", fp(age), fp(age)))),
		"one-hot β on the target":     crafted([]float64{0, 0, 1}, nil),
		"one-hot β at the cap":        crafted([]float64{0, 0, 5}, nil),
		"one-hot β, negative":         crafted([]float64{0, 0, -1}, nil),
		"one-hot β within a site":     crafted([]float64{0, 0, 1}, eq("site", "inst1")),
		"target's level, the rest at": crafted([]float64{0.2, 0.4, 1}, nil),
	}
	for name, q := range attacks {
		for round := range 3 { // repeated validation of the same crafted model
			q.ID = name + strconv.Itoa(round)
			a := engines[0].Handle(context.Background(), q)
			b := engines[1].Handle(context.Background(), q)
			if a.Error == nil || b.Error == nil {
				t.Fatalf("%s: answered (%v, %v)", name, a.Error, b.Error)
			}
			if a.Error.Code != b.Error.Code || a.Error.Message != b.Error.Message || a.Cox != nil || b.Cox != nil {
				t.Errorf("%s: the replies differ with the target's outcome: %+v vs %+v", name, a.Error, b.Error)
			}
		}
	}
	// The control: without the model rules (an exact policy, for a trusted network) the
	// one-hot model does tell the target's outcome, so the refusals above are what protects it.
	exact := ExactPolicy()
	var cs []float64
	for k, p := range variants {
		store := importFile(t, filepath.Join(t.TempDir(), "x"+strconv.Itoa(k)+".db"), p, lungSpec)
		e, err := NewEngine(context.Background(), store, Config{InsecureOpen: true, Policy: &exact})
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, mustOK(t, e.Handle(context.Background(), crafted([]float64{0, 0, 1}, nil))).Cox.Validation.HarrellC)
	}
	if cs[0] == cs[1] {
		t.Errorf("control: without the rules the one-hot model's C is %v in both variants; the attack test proves nothing", cs[0])
	}
}

// A dp analyst has no differentially private release of a model's validation: refused before
// any data is read, as every Cox query.
func TestCoxValidateRefusedToDP(t *testing.T) {
	l := newDPLung(t, DefaultPolicy(), lungCSV)
	r := handleJSON(t, l.e, sign(t, l.dora, validateQuery([]float64{0.017, 0.51}, nil)))
	wantCode(t, r, protocol.CodeRefusedByPolicy)
	if !strings.Contains(r.Error.Message, "dp role") {
		t.Errorf("refusal %v", r.Error)
	}
	if r := handleJSON(t, l.e, sign(t, l.tom, validateQuery([]float64{0.017, 0.51}, nil))); r.Error != nil || r.Cox.Validation == nil {
		t.Errorf("trusted analyst: %+v", r.Error)
	}
}
