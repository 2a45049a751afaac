package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
)

// ipwGolden is the part of analysis/testdata/r/ipw_goldens.json the end-to-end test reads:
// R's answers for lung.csv with one site per institution (gen_ipw.R, "lung sites …").
type ipwGolden struct {
	Cases []ipwGoldenCase
}

type ipwGoldenCase struct {
	Name       string
	Estimand   string
	Stabilise  bool
	Trim       float64
	OutcomeCov []string `json:"outcome_covariates"`
	Propensity struct{ Coef, SE []float64 }
	ESS        struct{ Treated, Control float64 }
	Balance    []struct {
		Column    string
		SMDBefore float64 `json:"smd_before"`
		SMDAfter  float64 `json:"smd_after"`
	}
	KM struct {
		Control, Treated struct {
			Time, Surv, Lower, Upper []float64
			NRisk                    []float64 `json:"n_risk"`
			StdErr                   []float64 `json:"std_err"`
		}
	}
	CoxSite   []ipwGoldenCox `json:"cox_site"`
	CoxPooled []ipwGoldenCox `json:"cox_pooled"`
}

type ipwGoldenCox struct {
	Ties          string
	Coef          json.RawMessage
	SERobust      json.RawMessage `json:"se_robust"`
	SENaive       json.RawMessage `json:"se_naive"`
	Score, RScore json.RawMessage
}

// goldenNumbers reads one number or an array of them.
func goldenNumbers(t *testing.T, raw json.RawMessage) []float64 {
	t.Helper()
	var xs []float64
	if err := json.Unmarshal(raw, &xs); err == nil {
		return xs
	}
	return []float64{goldenNumber(t, raw)}
}

func goldenNumber(t *testing.T, raw json.RawMessage) float64 {
	t.Helper()
	var x float64
	if err := json.Unmarshal(raw, &x); err != nil {
		var xs []float64
		if err := json.Unmarshal(raw, &xs); err != nil || len(xs) != 1 {
			t.Fatalf("golden value %s is not one number", raw)
		}
		return xs[0]
	}
	return x
}

// TestIPWCommandEqualsR: oncofed-cli ipw over a real hub with one node per lung institution
// (exact policy) gives R's propensity model, balance, ESS, weighted KM and weighted Cox
// stratified by site (glm, survfit(weights=), coxph(weights=, robust=TRUE) + strata(site)).
func TestIPWCommandEqualsR(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "analysis", "testdata", "r", "ipw_goldens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g ipwGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	// Every site counts the ipw stages it is asked: the pooled form asks no cox stage.
	var mu sync.Mutex
	stages := map[protocol.IPWStage]int{}
	centred := 0 // pooled rounds centring age on the midpoint of its declared range
	url := startLungWrapped(t, node.ExactPolicy(), func(site string, h network.Handler, nc *nats.Conn) network.Handler {
		return network.HandlerFunc(func(ctx context.Context, b []byte) []byte {
			var q protocol.Query
			if json.Unmarshal(b, &q) == nil && q.IPW != nil {
				mu.Lock()
				stages[q.IPW.Stage]++
				if q.IPW.Origin["age"] != 0 {
					centred++
				}
				mu.Unlock()
			}
			return h.HandleJSON(ctx, b)
		})
	})
	coxAsked := func() int { mu.Lock(); defer mu.Unlock(); return stages[protocol.IPWCox] }
	adjustedAsked := func() int {
		mu.Lock()
		defer mu.Unlock()
		return stages[protocol.IPWPooledSums] + stages[protocol.IPWPooledHessian] + stages[protocol.IPWPooledMeat]
	}
	ran := 0
	for _, c := range g.Cases {
		switch {
		case strings.HasPrefix(c.Name, "lung sites"), strings.HasPrefix(c.Name, "lung ecog merged sites"):
			sex := append([]string{"--treatment", "sex", "--treated", "female"}, ipwCaseFlags(c)...)
			if strings.HasPrefix(c.Name, "lung ecog merged") { // ECOG coarsened as R's case has it
				sex = append(sex, "--confounders", "age,karno,wt.loss,ecog", "--merge", "ecog=ecog2,ecog3")
			}
			if len(c.OutcomeCov) > 0 {
				// Adjusted: pooled (its own stages) and stratified by site (the cox stage with
				// the covariates, no pooled stage).
				for _, cox := range c.CoxPooled {
					before := adjustedAsked()
					checkIPWCommand(t, url, c, cox, "none", append(slices.Clone(sex), "--strata", "none")...)
					if adjustedAsked() == before {
						t.Errorf("%s %s: no pooled stage was asked", c.Name, cox.Ties)
					}
					ran++
				}
				for _, cox := range c.CoxSite {
					before, pooled := coxAsked(), adjustedAsked()
					checkIPWCommand(t, url, c, cox, "site", sex...)
					if coxAsked() == before || adjustedAsked() != pooled {
						t.Errorf("%s %s: the stratified adjusted model asked no cox stage, or a pooled one", c.Name, cox.Ties)
					}
					ran++
				}
				continue
			}
			for _, cox := range c.CoxSite {
				checkIPWCommand(t, url, c, cox, "site", sex...)
				ran++
			}
			for _, cox := range c.CoxPooled {
				before := coxAsked()
				checkIPWCommand(t, url, c, cox, "none", append(slices.Clone(sex), "--strata", "none")...)
				if coxAsked() != before {
					t.Errorf("%s %s: the pooled form asked the sites a cox stage", c.Name, cox.Ties)
				}
				ran++
			}
		case strings.HasPrefix(c.Name, "lung trial inst1"):
			// A single-arm trial: inst1's patients against every other institution's.
			before := coxAsked()
			for _, cox := range c.CoxPooled {
				checkIPWCommand(t, url, c, cox, "none", append([]string{"--treatment", "site", "--treated", "inst1"}, ipwCaseFlags(c)...)...)
				ran++
			}
			if coxAsked() != before {
				t.Errorf("%s: a cox stage was asked", c.Name)
			}
		}
	}
	if ran != 42 {
		t.Errorf("%d comparisons checked, want 42 (3 lung sites cases stratified and pooled, 5 adjusted stratified and pooled, of which one each with ECOG merged, 5 lung trial cases pooled of which 2 adjusted; Efron and Breslow)", ran)
	}
	if centred == 0 {
		t.Error("no adjusted round centred age on its declared range's midpoint")
	}
	if stages[protocol.IPWPooledHessian] == 0 || stages[protocol.IPWPooledMeat] == 0 {
		t.Errorf("stages asked %v: the adjusted model asked no Hessian or meat round", stages)
	}
	if coxAsked() == 0 || stages[protocol.IPWPropensity] == 0 || stages[protocol.IPWOutcome] == 0 {
		t.Errorf("stages asked %v: the counting wrapper saw nothing", stages)
	}
}

// ipwCaseFlags are the command's flags for the estimand, stabilisation, trimming and adjusting
// covariates of R's case c.
func ipwCaseFlags(c ipwGoldenCase) []string {
	out := []string{"--estimand", c.Estimand}
	if c.Stabilise {
		out = append(out, "--stabilise")
	}
	if c.Trim > 0 {
		out = append(out, "--trim", strconv.FormatFloat(c.Trim, 'g', -1, 64))
	}
	if len(c.OutcomeCov) > 0 {
		out = append(out, "--adjust", strings.Join(c.OutcomeCov, ","))
	}
	return out
}

// checkIPWCommand runs oncofed-cli ipw with args and compares its JSON with R's case c.
func checkIPWCommand(t *testing.T, url string, c ipwGoldenCase, cox ipwGoldenCox, strata string, args ...string) {
	t.Helper()
	args = append([]string{"--hub", url, "ipw", "--study", "lung", "--endpoint", "os", "--confounders", "age,karno,wt.loss", "--ties", cox.Ties, "--format", "json"}, args...)
	code, out, errOut := cli(t, args...)
	if code != 0 {
		t.Fatalf("%s %s: exit %d: %s", c.Name, cox.Ties, code, errOut)
	}
	var doc struct {
		Propensity struct {
			Terms []struct {
				Column   string
				Coef, SE float64
			}
			Converged bool
		}
		ESS     struct{ Treated, Control float64 }
		Balance []struct {
			Column    string
			SMDBefore float64 `json:"smd_before"`
			SMDAfter  float64 `json:"smd_after"`
		}
		KM struct {
			Groups []struct {
				Name  string
				Curve struct {
					Time, Surv []float64
					NRisk      []float64  `json:"n_risk"`
					StdErr     []*float64 `json:"std_err"`
					Lower      []*float64
				}
			}
		}
		Cox struct {
			Strata   string
			Coef     float64
			SERobust float64 `json:"se_robust"`
			SENaive  float64 `json:"se_naive"`
			Terms    []struct {
				Term     string
				Coef     float64
				SERobust float64 `json:"se_robust"`
				SENaive  float64 `json:"se_naive"`
			}
		}
		Logrank struct{ Robust, Naive struct{ Stat float64 } }
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	what := c.Name + " " + cox.Ties + " " + strata
	if doc.Cox.Strata != strata {
		t.Errorf("%s: cox.strata %q", what, doc.Cox.Strata)
	}
	if !doc.Propensity.Converged || len(doc.Propensity.Terms) != len(c.Propensity.Coef) {
		t.Fatalf("%s: propensity %+v", what, doc.Propensity)
	}
	for j, term := range doc.Propensity.Terms {
		near(t, what+" propensity coef "+term.Column, &term.Coef, c.Propensity.Coef[j], 1e-9)
		near(t, what+" propensity se "+term.Column, &term.SE, c.Propensity.SE[j], 1e-9)
	}
	near(t, what+" ESS treated", &doc.ESS.Treated, c.ESS.Treated, 1e-9)
	near(t, what+" ESS control", &doc.ESS.Control, c.ESS.Control, 1e-9)
	for j, bal := range doc.Balance {
		near(t, what+" SMD before "+bal.Column, &bal.SMDBefore, c.Balance[j].SMDBefore, 1e-9)
		near(t, what+" SMD after "+bal.Column, &bal.SMDAfter, c.Balance[j].SMDAfter, 1e-9)
	}
	for k, want := range [][]float64{c.KM.Control.Surv, c.KM.Treated.Surv} {
		got := doc.KM.Groups[k].Curve
		if len(got.Surv) != len(want) {
			t.Fatalf("%s: arm %d: %d rows, R %d", what, k, len(got.Surv), len(want))
		}
		se := [][]float64{c.KM.Control.StdErr, c.KM.Treated.StdErr}[k]
		for i := range want {
			near(t, what+" KM surv", &got.Surv[i], want[i], 1e-9)
			near(t, what+" KM std.err", got.StdErr[i], se[i], 1e-9)
		}
	}
	coef, seR, seN := goldenNumbers(t, cox.Coef), goldenNumbers(t, cox.SERobust), goldenNumbers(t, cox.SENaive)
	if len(doc.Cox.Terms) != len(coef) {
		t.Fatalf("%s: %d Cox terms, R %d", what, len(doc.Cox.Terms), len(coef))
	}
	for j, term := range doc.Cox.Terms {
		near(t, what+" cox coef "+term.Term, &term.Coef, coef[j], 1e-9)
		near(t, what+" cox robust se "+term.Term, &term.SERobust, seR[j], 1e-9)
		near(t, what+" cox naive se "+term.Term, &term.SENaive, seN[j], 1e-9)
	}
	near(t, what+" cox coef", &doc.Cox.Coef, coef[0], 1e-9)
	near(t, what+" cox robust se", &doc.Cox.SERobust, seR[0], 1e-9)
	near(t, what+" cox naive se", &doc.Cox.SENaive, seN[0], 1e-9)
	near(t, what+" naive log-rank", &doc.Logrank.Naive.Stat, goldenNumber(t, cox.Score), 1e-8)
	near(t, what+" robust log-rank", &doc.Logrank.Robust.Stat, goldenNumber(t, cox.RScore), 1e-8)
}

// With the treatment membership in a site, every site holds one arm: the command refuses the
// site-stratified Cox form with a message saying why, and a trial site the study does not have.
func TestIPWTreatedSiteRefusals(t *testing.T) {
	url := startLung(t, node.ExactPolicy())
	base := []string{"--hub", url, "ipw", "--study", "lung", "--endpoint", "os", "--confounders", "age,karno,wt.loss", "--treatment", "site"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--treated", "inst1", "--strata", "site"}, "compares nothing"},
		{[]string{"--treated", "inst99"}, `"inst99" is not a site of lung`},
	} {
		code, _, errOut := cli(t, append(slices.Clone(base), c.args...)...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q; want exit 2 and %q", c.args, code, errOut, c.want)
		}
	}
}

// The adjusted comparison, pooled and stratified, is stored with its rounds: the same command
// --offline, and library show, print it again from the cache identically (the fit and
// sandwich replayed from the stored pooled_sums, pooled_hessian and pooled_meat rounds, or the
// stored cox rounds with their covariates).
func TestIPWAdjustedReopensOffline(t *testing.T) {
	url := startLung(t, node.ExactPolicy())
	for _, strata := range []string{"none", "site"} {
		t.Run(strata, func(t *testing.T) { ipwAdjustedReopens(t, url, strata) })
	}
}

func ipwAdjustedReopens(t *testing.T, url, strata string) {
	db := filepath.Join(t.TempDir(), "cache.db")
	args := []string{"ipw", "--study", "lung", "--endpoint", "os", "--treatment", "sex", "--treated", "female",
		"--confounders", "age,karno,wt.loss", "--strata", strata, "--adjust", "age,karno"}
	for _, format := range []string{"text", "json"} {
		a := append(slices.Clone(args), "--format", format)
		code, live, errOut := cli(t, append([]string{"--hub", url, "--cache", db}, a...)...)
		if code != exitOK {
			t.Fatalf("live: exit %d: %s", code, errOut)
		}
		if format == "text" && (!strings.Contains(live, "weighted Cox adjusted for age, karno") || !strings.Contains(live, "SE NAIVE")) {
			t.Errorf("the text answer has no adjusted HR table:\n%s", live)
		}
		code, out, errOut := cli(t, append([]string{"--offline", "--cache", db}, a...)...)
		if code != exitOK {
			t.Fatalf("offline: exit %d: %s", code, errOut)
		}
		if format == "text" {
			out = withoutCachedLine(t, out)
		}
		if withoutWhen(out) != withoutWhen(live) {
			t.Errorf("offline answer differs from the live one:\n%s\nlive:\n%s", out, live)
		}
	}
}

// Adjusting takes confounders only, in either form: the command says so before asking anything.
func TestIPWAdjustUsage(t *testing.T) {
	base := []string{"--hub", "nats://127.0.0.1:1", "ipw", "--study", "lung", "--endpoint", "os", "--treatment", "sex", "--treated", "female", "--confounders", "age,karno"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--adjust", "ecog"}, "ecog is not among --confounders"},
		{[]string{"--strata", "none", "--adjust", "ecog"}, "ecog is not among --confounders"},
	} {
		code, _, errOut := cli(t, append(slices.Clone(base), c.args...)...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q; want exit %d and %q", c.args, code, errOut, exitUsage, c.want)
		}
	}
}

// Where a site's published policy does not allow pooled models, the adjusted comparison is
// refused from the catalog before any ipw round is asked (it would be aborted at its first
// pooled round, after the propensity and outcome rounds were spent), naming the sites.
func TestIPWAdjustedRefusedFromCatalog(t *testing.T) {
	var mu sync.Mutex
	asked := 0
	pol := node.ExactPolicy()
	pol.AllowPooledCox = false
	url := startLungWrapped(t, pol, func(site string, h network.Handler, nc *nats.Conn) network.Handler {
		return network.HandlerFunc(func(ctx context.Context, b []byte) []byte {
			var q protocol.Query
			if json.Unmarshal(b, &q) == nil && q.IPW != nil {
				mu.Lock()
				asked++
				mu.Unlock()
			}
			return h.HandleJSON(ctx, b)
		})
	})
	code, _, errOut := cli(t, "--hub", url, "ipw", "--study", "lung", "--endpoint", "os", "--treatment", "sex", "--treated", "female",
		"--confounders", "age,karno", "--strata", "none", "--adjust", "age")
	mu.Lock()
	defer mu.Unlock()
	if code != exitFailure || !strings.Contains(errOut, "published policies of inst1") || !strings.Contains(errOut, "nothing was asked") || asked != 0 {
		t.Errorf("exit %d, %q, %d ipw queries asked; want a refusal naming the sites before any round", code, errOut, asked)
	}
}

// --merge coarsens confounders only, by their declared levels: the command says so before any
// ipw round is asked.
func TestIPWMergeUsage(t *testing.T) {
	url := startLung(t, node.ExactPolicy())
	base := []string{"--hub", url, "ipw", "--study", "lung", "--endpoint", "os", "--treatment", "sex", "--treated", "female", "--confounders", "age,karno,ecog"}
	for _, c := range []struct {
		merge, want string
	}{
		{"age=50,60", "age is continuous"},
		{"wt.loss=1,2", "wt.loss is merged but is not among the confounders"},
		{"ecog=ecog2,ecog9", `"ecog9" is not a level`},
		{"ecog=ecog2", "merges 2 to 256 levels"},
	} {
		code, _, errOut := cli(t, append(slices.Clone(base), "--merge", c.merge)...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("--merge %s: exit %d, %q; want exit %d and %q", c.merge, code, errOut, exitUsage, c.want)
		}
	}
}

// TestIPWTrimmedSiteSitsOut: trimming is applied from the outcome round on, with the fitted
// model's weights, so a site can answer every propensity round and then find an arm too small
// after trimming (lung by institution, age and karno, min_cohort 6 and min_cell 3, trim 0.35 and
// 0.4: one and then three of the five sites that answer the propensity rounds). Such a site
// sits out of the outcome and the Cox model — named, with its reason — and the others'
// comparison is computed, where it used to be aborted for everyone. Its patients stay in the
// propensity model (the model of trim 0, the same rounds).
func TestIPWTrimmedSiteSitsOut(t *testing.T) {
	pol := node.DefaultPolicy()
	pol.MinCohort, pol.MinCell = 6, 3
	url := startLung(t, pol)
	args := func(trim string) []string {
		return []string{"--hub", url, "--format", "json", "ipw", "--study", "lung", "--endpoint", "os", "--treatment", "sex", "--treated", "female",
			"--confounders", "age,karno", "--trim", trim}
	}
	read := func(trim string) ipwSatOutDoc {
		code, out, errOut := cli(t, args(trim)...)
		if code != 0 {
			t.Fatalf("--trim %s: exit %d, %s", trim, code, errOut)
		}
		var d ipwSatOutDoc
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	all := read("0")
	for _, trim := range []string{"0.35", "0.4"} {
		trimmedSitsOut(t, all, read(trim))
	}
}

func trimmedSitsOut(t *testing.T, all, trimmed ipwSatOutDoc) {
	t.Helper()
	var sat []string
	for _, r := range trimmed.Sites.Refused {
		if strings.HasPrefix(r.Reason, "sat out after the propensity model") {
			sat = append(sat, r.Site)
			if r.Code != "refused_by_policy" || !strings.Contains(r.Reason, "after trimming") {
				t.Errorf("site %s sat out with %q (%s)", r.Site, r.Reason, r.Code)
			}
		}
	}
	if len(sat) == 0 || len(sat)+len(trimmed.Sites.Answered) != len(all.Sites.Answered) {
		t.Fatalf("sat out %v, answered %v (untrimmed: %v); want the sites that sit out named, the others answering", sat, trimmed.Sites.Answered, all.Sites.Answered)
	}
	for _, s := range sat {
		if slices.Contains(trimmed.Sites.Answered, s) || !slices.Contains(all.Sites.Answered, s) {
			t.Errorf("site %s sat out, but answered %v (untrimmed %v)", s, trimmed.Sites.Answered, all.Sites.Answered)
		}
	}
	if trimmed.Propensity.N != all.Propensity.N || trimmed.Propensity.Terms[1].Coef != all.Propensity.Terms[1].Coef {
		t.Errorf("propensity model on %d patients (age %v), untrimmed %d (%v): the site sitting out stays in it", trimmed.Propensity.N, trimmed.Propensity.Terms[1].Coef, all.Propensity.N, all.Propensity.Terms[1].Coef)
	}
	if !(trimmed.Cox.N > 0 && trimmed.Cox.N < all.Cox.N) {
		t.Errorf("weighted Cox on %d patients, untrimmed %d", trimmed.Cox.N, all.Cox.N)
	}
}

// ipwSatOutDoc is what TestIPWTrimmedSiteSitsOut reads of ipw's JSON.
type ipwSatOutDoc struct {
	Propensity struct {
		N     int
		Terms []struct{ Coef float64 }
	}
	Cox   struct{ N int }
	Sites struct {
		Answered []string
		Refused  []struct{ Site, Code, Reason string }
	}
}
