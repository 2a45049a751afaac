package node

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// dpSummaryQuery is lung's Table 1 by sex with age (numeric, declared 18–100, histogram on
// decade edges) and ecog (categorical).
func dpSummaryQuery() protocol.Query {
	q := query(protocol.KindSummary)
	q.GroupBy = "sex"
	q.Variables = []string{"age", "ecog"}
	q.Bins = []protocol.HistogramSpec{{Variable: "age", Edges: []float64{50, 60, 70}}}
	return q
}

// renderSummary runs the client's Table 1 on one site's reply.
func renderSummary(t *testing.T, q protocol.Query, r protocol.Reply) *app.Result {
	t.Helper()
	res := &app.Result{Name: "t1", Request: app.Request{Kind: protocol.KindSummary, Study: q.Study, GroupBy: q.GroupBy, Variables: q.Variables, Bins: q.Bins},
		Rounds: []app.Round{{Query: q, Replies: []protocol.Reply{r}}}}
	if err := app.Render(res); err != nil {
		t.Fatalf("the client cannot render the reply: %v", err)
	}
	return res
}

// ageByGroup returns the group's age aggregate of a summary reply.
func ageOf(t *testing.T, r protocol.Reply, group string) (protocol.GroupSummary, protocol.VariableSummary) {
	t.Helper()
	for _, g := range r.Summary.Groups {
		if g.Group == group {
			for _, v := range g.Variables {
				if v.Variable == "age" {
					return g, v
				}
			}
		}
	}
	t.Fatalf("no age in group %q", group)
	return protocol.GroupSummary{}, protocol.VariableSummary{}
}

// A dp analyst's Table 1 of lung by sex with age and ecog: answered, labelled, charged
// dp_rho_summary, valid for the client and rendered as Table 1; over repeated releases the
// noisy mean age of each sex is within 5 sd of the true one, the sd predicted from the noise
// of Σ(x−c) and of n (σ² = Δ²/(2ρ/K), K = 6 components here), and its empirical sd agrees with
// that prediction within 30%.
func TestDPSummary(t *testing.T) {
	pol := DefaultPolicy()
	pol.DPRhoDaily, pol.DPRhoTotal = 1e6, 1e6
	l := newDPLung(t, pol, lungCSV)
	q := dpSummaryQuery()
	exact := mustOK(t, handleJSON(t, l.e, sign(t, l.tom, q)))
	if exact.Policy.DP != nil {
		t.Fatalf("trusted summary labelled DP %+v", exact.Policy.DP)
	}
	trueMean := map[string]float64{}
	trueN := map[string]int{}
	for _, g := range []string{"female", "male"} {
		_, v := ageOf(t, exact, g)
		trueMean[g], trueN[g] = v.Sum/float64(v.N.N), v.N.N
	}

	r := mustOK(t, handleJSON(t, l.e, sign(t, l.dora, q)))
	d := r.Policy.DP
	if d == nil || d.Mechanism != "discrete-gaussian" || math.Abs(d.Rho-DefaultDP.DPRhoSummary) > 1e-12 || d.SizeSD <= 0 {
		t.Fatalf("summary's DP label %+v, want ρ=%v", d, DefaultDP.DPRhoSummary)
	}
	if err := protocol.ValidateReply(q, r); err != nil {
		t.Fatalf("the client refuses the reply: %v", err)
	}
	res := renderSummary(t, q, r)
	if cols := res.Summary.Table.Columns; len(cols) != 3 || cols[0] != "female" || cols[1] != "male" {
		t.Errorf("Table 1 columns %v", cols)
	}
	if rec := lastAudit(t, l.store); math.Abs(rec.Rho-DefaultDP.DPRhoSummary) > 1e-12 || rec.Analyst != "dora" {
		t.Errorf("audit charged %s ρ=%v, want %v", rec.Analyst, rec.Rho, DefaultDP.DPRhoSummary)
	}

	// The mean age's noise: Σx = h·Σq' + c·n', so mean − c = (Σ(x−c) + z_S)/(n + z_n); to
	// first order its variance is (σ_S² + (mean−c)²·σ_n²)/n², σ_S = 41/√(2ρ/K) in years,
	// σ_n of a count (the fitted n has a little less).
	const k = 6 // sizes, ecog, age's n/missing, Σ, Σ², histogram
	rhoC := DefaultDP.DPRhoSummary / k
	sigma := 1 / math.Sqrt(2*rhoC)
	const trials = 200
	for _, g := range []string{"female", "male"} {
		mid := 59.0
		sd := math.Sqrt(41*41*sigma*sigma+(trueMean[g]-mid)*(trueMean[g]-mid)*sigma*sigma) / float64(trueN[g])
		var s, ss float64
		negative := 0
		_, tv := ageOf(t, exact, g)
		trueSD := analysisSD(tv)
		var sdErr []float64
		for i := 0; i < trials; i++ {
			r := mustOK(t, handleJSON(t, l.e, sign(t, l.dora, q)))
			if err := protocol.ValidateReply(q, r); err != nil {
				t.Fatalf("the client refuses release %d: %v", i, err)
			}
			_, v := ageOf(t, r, g)
			if n := float64(v.N.N); n*v.SumSq < v.Sum*v.Sum {
				// A noisy Σx² below (Σx)²/n: the client shows the SD as not available.
				negative++
				res := renderSummary(t, q, r)
				col := slices.Index(res.Summary.Table.Columns, g)
				for _, tv := range res.Summary.Table.Variables {
					if tv.Name == "age" && !math.IsNaN(tv.Numerics[col].SD) {
						t.Errorf("%s: negative variance shown as SD %v", g, tv.Numerics[col].SD)
					}
				}
			} else {
				sdErr = append(sdErr, math.Abs(analysisSD(v)-trueSD))
				if i%20 == 0 {
					renderSummary(t, q, r)
				}
			}
			m := v.Sum / float64(v.N.N)
			if math.Abs(m-trueMean[g]) > 5*sd {
				t.Errorf("%s: noisy mean age %.2f, true %.2f ± 5·%.2f", g, m, trueMean[g], sd)
			}
			s += m - trueMean[g]
			ss += (m - trueMean[g]) * (m - trueMean[g])
		}
		bias, emp := s/trials, math.Sqrt(ss/trials)
		slices.Sort(sdErr)
		t.Logf("%s (n=%d): mean age %.2f; noisy mean's sd %.2f years over %d releases (predicted %.2f), bias %.2f; SD %.1f: not available in %d, otherwise median |error| %.1f years", g, trueN[g], trueMean[g], emp, trials, sd, bias, trueSD, negative, sdErr[len(sdErr)/2])
		if emp > 1.3*sd || emp < 0.7*sd {
			t.Errorf("%s: empirical sd %.2f, predicted %.2f", g, emp, sd)
		}
		if math.Abs(bias) > 4*sd/math.Sqrt(trials) {
			t.Errorf("%s: bias %.3f beyond 4 standard errors (%.3f)", g, bias, sd/math.Sqrt(trials))
		}
	}
}

// A numeric variable without a declared range is refused to a dp analyst, before any noise
// and without charge; the trusted analyst gets the summary as before.
func TestDPSummaryNeedsRange(t *testing.T) {
	spec := lungSpec
	dict := lungDictionary()
	dict.Entries = append([]DictionaryEntry(nil), dict.Entries...)
	for i := range dict.Entries {
		if dict.Entries[i].Name == "age" {
			dict.Entries[i].Min, dict.Entries[i].Max = nil, nil
		}
	}
	spec.Dictionary = dict
	a, err := ParseAnalysts(strings.NewReader("dora " + pubText(testKey(4)) + "\ntom " + pubText(testKey(5)) + " trusted\n"))
	if err != nil {
		t.Fatal(err)
	}
	store := importFile(t, filepath.Join(t.TempDir(), "lung.db"), lungCSV, spec)
	pol := DefaultPolicy()
	l := newDPLung(t, pol, lungCSV)
	e, err := NewEngine(context.Background(), store, Config{Policy: &pol, Now: l.clock.now, Analysts: a})
	if err != nil {
		t.Fatal(err)
	}
	q := dpSummaryQuery()
	r := handleJSON(t, e, sign(t, l.dora, q))
	wantCode(t, r, protocol.CodeRefusedByPolicy)
	if !strings.Contains(r.Error.Message, "declared range") || r.Policy.DP != nil {
		t.Errorf("undeclared range: %v, DP %+v", r.Error, r.Policy.DP)
	}
	if rec := lastAudit(t, store); rec.Rho != 0 {
		t.Errorf("the refusal charged ρ=%v", rec.Rho)
	}
	// ecog alone needs no range.
	q2 := dpSummaryQuery()
	q2.Variables, q2.Bins = []string{"ecog"}, nil
	mustOK(t, handleJSON(t, e, sign(t, l.dora, q2)))
	tr := mustOK(t, handleJSON(t, e, sign(t, l.tom, q)))
	if tr.Policy.DP != nil || tr.Summary == nil {
		t.Errorf("trusted summary: DP %+v", tr.Policy.DP)
	}
	if err := protocol.ValidateReply(q, tr); err != nil {
		t.Errorf("trusted reply invalid: %v", err)
	}
}

// Membership inference on Σx: the attacker knows every age but patient 1's (74, male) and
// whether he is in; from a summary of age alone (ungrouped, no histogram) they guess "in" when
// the released Σx exceeds the known others' sum plus half his age. At a large ρ the advantage
// stays within the spent ρ's bound; with negligible noise (ρ = 10⁸) the same attacker is right
// nearly every time, so the test does see a leak.
func TestDPSummaryMembershipInference(t *testing.T) {
	run := func(rho float64, trials int) (adv, bound float64) {
		pol := DefaultPolicy()
		pol.DPRhoSummary, pol.DPRhoDaily, pol.DPRhoTotal = rho, 1e12, 1e12
		in := newDPLung(t, pol, lungCSV)
		out := newDPLung(t, pol, withoutFirstPatient(t))
		q := query(protocol.KindSummary)
		q.Variables = []string{"age"}
		exactOut := mustOK(t, handleJSON(t, out.e, sign(t, out.tom, q)))
		threshold := exactOut.Summary.Groups[0].Variables[0].Sum + 74.0/2
		guessedIn := map[*dpLung]int{}
		var spent float64
		for _, world := range []*dpLung{in, out} {
			for i := 0; i < trials; i++ {
				r := mustOK(t, handleJSON(t, world.e, sign(t, world.dora, q)))
				spent = r.Policy.DP.Rho
				if r.Summary.Groups[0].Variables[0].Sum > threshold {
					guessedIn[world]++
				}
			}
		}
		return float64(guessedIn[in]-guessedIn[out]) / float64(trials), advantageBound(spent)
	}
	const trials = 200
	adv, bound := run(0.2, trials)
	se := math.Sqrt(0.5 / trials)
	t.Logf("Σx attack: advantage %.3f over %d trials per world, bound %.3f at ρ=0.2", adv, trials, bound)
	if adv > bound+3*se {
		t.Errorf("membership advantage %.3f exceeds the ρ=0.2 bound %.3f + 3 se", adv, bound)
	}
	if adv, _ := run(1e8, 20); adv < 0.9 {
		t.Errorf("with negligible noise the attacker's advantage is %.2f: the experiment would not catch a leak", adv)
	}
}

func TestFitPartition(t *testing.T) {
	for _, c := range []struct {
		in    []int64
		total int64
	}{{[]int64{10, 20, 30}, 60}, {[]int64{10, 20, 30}, 65}, {[]int64{10, 20, 30}, 50}, {[]int64{-5, 3, 40}, 40}, {[]int64{-50, -3, 4}, 2}, {[]int64{7}, 0}} {
		out := fitPartition(c.in, c.total)
		var s int64
		for _, v := range out {
			if v < 0 {
				t.Errorf("fit %v to %d: negative cell in %v", c.in, c.total, out)
			}
			s += v
		}
		if s != c.total {
			t.Errorf("fit %v to %d: %v sums to %d", c.in, c.total, out, s)
		}
	}
}

// dp_rho_summary: 0.1 by default, filled in when a policy leaves it at zero, refused when
// negative or not finite.
func TestDPSummaryPolicy(t *testing.T) {
	if DefaultPolicy().DPRhoSummary != 0.1 || withDPDefaults(protocol.Policy{}).DPRhoSummary != 0.1 {
		t.Errorf("default dp_rho_summary %v, filled in %v", DefaultPolicy().DPRhoSummary, withDPDefaults(protocol.Policy{}).DPRhoSummary)
	}
	p, err := ParsePolicy([]byte(`{"dp_rho_summary": 0.3}`))
	if err != nil || p.DPRhoSummary != 0.3 {
		t.Errorf("dp_rho_summary 0.3: %v, %v", p.DPRhoSummary, err)
	}
	for _, bad := range []string{`{"dp_rho_summary": -1}`, `{"dp_rho_summary": 0}`} {
		if _, err := ParsePolicy([]byte(bad)); err == nil || !strings.Contains(err.Error(), "dp_rho_summary") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

// A dp reply may carry sums no data could give (Σx² < (Σx)²/n, noise); a rule-based one may not.
func TestValidateNoisySums(t *testing.T) {
	q := query(protocol.KindSummary)
	q.Variables = []string{"age"}
	r := protocol.Reply{Version: protocol.Version, QueryID: q.ID, Site: "s", Kind: q.Kind, Summary: &protocol.SummaryReply{Groups: []protocol.GroupSummary{{
		N: protocol.Count{N: 100}, Variables: []protocol.VariableSummary{{Variable: "age", N: protocol.Count{N: 100}, Sum: 6000, SumSq: 350000}}}}}}
	if err := protocol.ValidateReply(q, r); err == nil {
		t.Error("impossible sums accepted on a rule-based reply")
	}
	r.Policy.DP = &protocol.DPEffects{Mechanism: "discrete-gaussian", Rho: 0.1, Sigma2: 30}
	if err := protocol.ValidateReply(q, r); err != nil {
		t.Errorf("noisy sums refused on a dp reply: %v", err)
	}
}

// analysisSD is the SD the client computes from a released numeric summary.
func analysisSD(v protocol.VariableSummary) float64 {
	_, sd := analysis.MeanSD(v.N.N, v.Sum, v.SumSq)
	return sd
}

// A cohort whose noisy size is below min_cohort is refused and charged (ρ = 50: noise of sd
// well below 1, so that 3 patients are below min_cohort for certain); a group whose noisy size
// is below min_cell is left out and counted as suppressed.
func TestDPSummarySmall(t *testing.T) {
	pol := DefaultPolicy()
	pol.DPRhoSummary, pol.DPRhoDaily, pol.DPRhoTotal = 50, 1000, 1000
	l := newDPLung(t, pol, lungCSV)
	q := dpSummaryQuery()
	q.Cohort = and(eq("sex", "female"), rng("age", fp(80), nil)) // 3 women aged 80 or more
	r := handleJSON(t, l.e, sign(t, l.dora, q))
	wantCode(t, r, protocol.CodeRefusedByPolicy)
	if !strings.Contains(r.Error.Message, "min_cohort") || r.Policy.DP == nil || math.Abs(r.Policy.DP.Rho-50) > 1e-9 {
		t.Errorf("small cohort on noisy size: %v, DP %+v", r.Error, r.Policy.DP)
	}
	if rec := lastAudit(t, l.store); math.Abs(rec.Rho-50) > 1e-9 {
		t.Errorf("the noisy refusal charged ρ=%v, want 50", rec.Rho)
	}
	// Men, and women aged 80 or more: the 3 women's group is left out.
	q.Cohort = &protocol.Filter{Op: protocol.OpOr, Args: []*protocol.Filter{eq("sex", "male"), and(eq("sex", "female"), rng("age", fp(80), nil))}}
	r = mustOK(t, handleJSON(t, l.e, sign(t, l.dora, q)))
	if len(r.Summary.Groups) != 1 || r.Summary.Groups[0].Group != "male" || r.Policy.SuppressedCells == 0 {
		t.Errorf("groups %+v, suppressed %d: want the men only", r.Summary.Groups, r.Policy.SuppressedCells)
	}
	if err := protocol.ValidateReply(q, r); err != nil {
		t.Errorf("the client refuses the reply: %v", err)
	}
	renderSummary(t, q, r)
}
