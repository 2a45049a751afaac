package node

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/internal/lungtest"
	"github.com/oncofed/oncofed/protocol"
)

// lpHistogramQuery asks the distribution of x'β over age and sex (female the reference).
func lpHistogramQuery(beta []float64, width float64, cohort *protocol.Filter) protocol.Query {
	q := query(protocol.KindCox)
	q.Endpoint, q.Cohort = "OS", cohort
	q.Cox = &protocol.CoxRequest{Form: protocol.CoxLPHistogram, Ties: "efron", Covariates: []string{"age", "sex"},
		Levels: map[string][]string{"sex": {"female", "male"}}, Beta: beta, LPBinWidth: width}
	return q
}

// A site releases the histogram analysis.BinLinearPredictors computes over its complete cases
// (every non-empty cell its own bin under the exact policy, min_cell a bin under a protective
// one that opts in to the pooled form), counts only, and refuses it without the opt-in.
func TestCoxLPHistogram(t *testing.T) {
	beta := []float64{0.017, 0.51}
	time, event, x := lungSiteRows(t, "inst1")
	st, err := analysis.NewCoxStratum(time, event, x, 2)
	if err != nil {
		t.Fatal(err)
	}
	lp, err := st.LinearPredictors(beta)
	if err != nil {
		t.Fatal(err)
	}
	protective := DefaultPolicy()
	protective.AllowPooledCox, protective.EventsPerCoxCovariate = true, 0
	for _, tc := range []struct {
		name    string
		pol     protocol.Policy
		minCell int
	}{{"exact", ExactPolicy(), 1}, {"protective", protective, protective.MinCell}} {
		for _, e := range lungSites(t, tc.pol) {
			if e.Site() != "inst1" {
				continue
			}
			q := lpHistogramQuery(beta, 0.1, nil)
			r := mustOK(t, e.Handle(context.Background(), q))
			if err := protocol.ValidateReply(q, r); err != nil {
				t.Fatalf("%s: reply fails the client's checks: %v", tc.name, err)
			}
			want, err := analysis.BinLinearPredictors(lp, 0.1, tc.minCell)
			if err != nil {
				t.Fatal(err)
			}
			h := r.Cox.LPHistogram
			if !slices.Equal(h.Cuts, want.Cuts) || !slices.Equal(h.Counts, want.Counts) || len(h.Counts) < 3 {
				t.Errorf("%s: cuts %v counts %v, want %v %v", tc.name, h.Cuts, h.Counts, want.Cuts, want.Counts)
			}
			for k, n := range h.Counts {
				if n < tc.minCell {
					t.Errorf("%s: bin %d holds %d patients", tc.name, k, n)
				}
			}
			b, _ := json.Marshal(r.Cox)
			for _, leak := range []string{"rows", "gradient", "validation", "second_moment"} {
				if strings.Contains(string(b), `"`+leak) {
					t.Errorf("%s: the reply carries %q: %s", tc.name, leak, b)
				}
			}
		}
	}
	pol := DefaultPolicy() // allow_pooled_cox off
	for _, e := range lungSites(t, pol)[:1] {
		r := e.Handle(context.Background(), lpHistogramQuery(beta, 0.1, nil))
		wantCode(t, r, protocol.CodeRefusedByPolicy)
		if !strings.Contains(r.Error.Message, "allow_pooled_cox") || r.Cox != nil {
			t.Errorf("refusal %+v", r.Error)
		}
	}
	l := newDPLung(t, ExactPolicy(), lungCSV)
	r := handleJSON(t, l.e, sign(t, l.dora, lpHistogramQuery(beta, 0.1, nil)))
	wantCode(t, r, protocol.CodeRefusedByPolicy)
}

// Attacks on what prediction releases (issue 20), each against two databases that differ only
// in the target patient, who passes when the replies are the same:
//
//   - the baseline hazard of a one-patient cohort (the pooled phase-1 sums of the target alone,
//     from which the client's baseline would be the target's own time) and its lp histogram:
//     refused for min_cohort, whatever the target's outcome;
//   - the target as the most extreme patient (the oldest, at 88 or at 99, under β on age
//     positive and negative, many grid widths): the open extreme bins and min_cell merging
//     leave every histogram the same;
//   - histogram differencing, the whole site and then the site without the target (age ≤ 82):
//     the overlap guard refuses the second, the same way in both databases;
//   - a crafted β one-hot on the target's covariate pattern (the only ECOG 3 patient):
//     refused by the design-column rule.
//
// The control: under the exact policy the extreme target's cell shows in the histogram, so
// the rules above are what protect it.
func TestAttackLPHistogram(t *testing.T) {
	h, rows := lungtest.Read(t)
	cid, cage, ce := lungtest.Column(t, h, "id"), lungtest.Column(t, h, "age"), lungtest.Column(t, h, "ecog")
	target, oldest, ecog3 := "", 0.0, ""
	for _, r := range rows {
		age, _ := strconv.ParseFloat(r[cage], 64)
		if age > oldest {
			target, oldest = r[cid], age
		}
		if r[ce] == "ecog3" {
			ecog3 = r[cid]
		}
	}
	if oldest >= 88 || ecog3 == "" {
		t.Fatalf("lung.csv: oldest %v, ECOG 3 patient %q", oldest, ecog3)
	}
	variants := []string{
		withLungRow(t, target, func(_ []string, r []string) { r[cage] = "88" }),
		withLungRow(t, target, func(_ []string, r []string) { r[cage] = "99" }),
	}
	engines := func(pol protocol.Policy) []*Engine {
		var out []*Engine
		for _, p := range variants {
			// The same file name: the site is named after it.
			store := importFile(t, filepath.Join(t.TempDir(), "site.db"), p, lungSpec)
			e, err := NewEngine(context.Background(), store, Config{InsecureOpen: true, Policy: &pol})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, e)
		}
		return out
	}
	pol := DefaultPolicy()
	pol.AllowPooledCox, pol.EventsPerCoxCovariate = true, 0
	es := engines(pol)
	same := func(name string, q protocol.Query) protocol.Reply {
		t.Helper()
		q.ID = name
		a, b := es[0].Handle(context.Background(), q), es[1].Handle(context.Background(), q)
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) {
			t.Errorf("%s: the replies differ with the target:\n%s\n%s", name, ja, jb)
		}
		return a
	}
	alone := and(eq("sex", "male"), rng("age", fp(87), fp(100)))
	oneSums := pooledQuery(protocol.CoxPooledSums, "efron", []float64{0}, "age")
	oneSums.Cohort = alone
	for name, q := range map[string]protocol.Query{
		"baseline hazard of a one-patient cohort": oneSums,
		"lp histogram of a one-patient cohort":    lpHistogramQuery([]float64{0.02, 0}, 0.1, alone),
	} {
		if r := same(name, q); r.Error == nil || r.Error.Code != protocol.CodeRefusedByPolicy {
			t.Errorf("%s: %+v", name, r.Error)
		}
	}
	answered := 0
	for _, beta := range [][]float64{{0.02, 0}, {-0.02, 0}, {0.05, 0.3}, {-0.05, -0.3}} {
		for _, w := range []float64{0.01, 0.03, 0.1, 0.37, 1} {
			if r := same("extreme target", lpHistogramQuery(beta, w, nil)); r.Error == nil {
				answered++
			}
		}
	}
	if answered < 10 {
		t.Errorf("only %d extreme-target histograms answered: the attack was not tried", answered)
	}
	if r := same("differencing: all", lpHistogramQuery([]float64{0.02, 0}, 0.1, nil)); r.Error != nil {
		t.Fatalf("the whole site refused: %v", r.Error)
	}
	if r := same("differencing: all but the target", lpHistogramQuery([]float64{0.02, 0}, 0.1, rng("age", fp(18), fp(82)))); r.Error == nil {
		t.Error("the site without the target answered after the whole site: the pair differences the target out")
	}
	crafted := query(protocol.KindCox)
	crafted.Endpoint = "OS"
	crafted.Cox = &protocol.CoxRequest{Form: protocol.CoxLPHistogram, Ties: "efron", Covariates: []string{"ecog"},
		Levels: map[string][]string{"ecog": {"ecog0", "ecog1", "ecog2", "ecog3"}}, Beta: []float64{0, 0, 1}, LPBinWidth: 0.5}
	if r := same("one-hot β on the ECOG 3 patient", crafted); r.Error == nil {
		t.Error("a histogram of a one-hot β on one patient answered")
	}
	// The control: without the rules, the lowest bin closes at the target's own cell under
	// β on age negative, so the two databases differ.
	ex := engines(ExactPolicy())
	q := lpHistogramQuery([]float64{-0.02, 0}, 0.1, nil)
	a, b := mustOK(t, ex[0].Handle(context.Background(), q)), mustOK(t, ex[1].Handle(context.Background(), q))
	if slices.Equal(a.Cox.LPHistogram.Cuts, b.Cox.LPHistogram.Cuts) {
		t.Errorf("control: the exact policy's histograms are the same (%v): the attack test proves nothing", a.Cox.LPHistogram.Cuts)
	}
}
