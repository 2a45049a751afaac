package node

import (
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// TestIPWDPUtility measures the dp role's treatment comparison (app/ipwdp.go,
// docs/dp-compare.md) end to end on real site databases: a synthetic NSCLC cohort (its
// treatment confounded by age and ECOG) in 4 sites, pembrolizumab–chemotherapy against
// chemotherapy, ATE weights, confounders age and ECOG. The reference is the same comparison at
// a ρ so large that only the grid and the bins remain; at the default dp_rho_cox each release
// is rendered by app.Render (what the desktop and the CLI do), with and without the rule that
// leaves out patterns the noise alone explains. It logs the bias and spread of the log HR over
// the releases against the reference, the noise SD the result states, and how often the
// robust CI alone and the CI widened by the noise SD cover the reference.
// ONCOFED_DPIPW_UTILITY=REPS [ONCOFED_DPIPW_CONFOUNDERS='age,ecog;age'] [ONCOFED_DPIPW_PATIENTS=4000] go test ./node -run TestIPWDPUtility -v
func TestIPWDPUtility(t *testing.T) {
	reps, _ := strconv.Atoi(os.Getenv("ONCOFED_DPIPW_UTILITY"))
	if reps < 2 {
		t.Skip("set ONCOFED_DPIPW_UTILITY to the number of releases to measure the dp comparison")
	}
	n := 4000
	if env, err := strconv.Atoi(os.Getenv("ONCOFED_DPIPW_PATIENTS")); err == nil && env > 0 {
		n = env
	}
	f := newFederation(t, synthCohort(t, n, 4), 0.02)
	where, err := protocol.ParseFilter("treatment in (pembro-chemo, chemo)")
	if err != nil {
		t.Fatal(err)
	}
	sets := [][]string{{"age"}, {"age", "sex"}, {"age", "ecog"}}
	if env := os.Getenv("ONCOFED_DPIPW_CONFOUNDERS"); env != "" { // e.g. "age,ecog;age"
		sets = nil
		for _, s := range strings.Split(env, ";") {
			sets = append(sets, strings.Split(s, ","))
		}
	}
	for _, conf := range sets {
		spec := app.IPWSpec{Treatment: "treatment", Treated: "pembro-chemo", Confounders: conf, Estimand: "ATE"}
		if slices.Contains(conf, "sex") {
			spec.Levels = map[string][]string{"sex": {"female", "male"}}
		}
		// release asks every site once and renders the replies with the rule on and off.
		release := func() (on, all *app.IPWResult) {
			s := spec
			cox := &protocol.CoxRequest{Form: protocol.CoxDPTables, Ties: "efron", Covariates: append([]string{"treatment"}, conf...),
				Levels: s.Levels, Indicators: map[string]string{"treatment": "pembro-chemo"}}
			cox.Beta = make([]float64, 1+len(conf))
			q := protocol.Query{Version: protocol.Version, Kind: protocol.KindCox, ID: "q", Study: "nsclc", Endpoint: "OS", Cohort: where, Cox: cox}
			var replies []protocol.Reply
			for _, e := range f.dp {
				r := handleJSON(t, e, sign(t, f.dora, q))
				if r.Error != nil {
					if r.Error.Code != protocol.CodeRefusedByPolicy {
						t.Fatalf("site %s: %v", e.Site(), r.Error)
					}
					continue
				}
				replies = append(replies, r)
			}
			render := func(all bool) *app.IPWResult {
				s := s
				s.DPAllPatterns = all
				res := &app.Result{Request: app.Request{Kind: protocol.KindIPW, Study: "nsclc", Endpoint: "OS", Cohort: where, IPW: &s},
					Rounds: []app.Round{{Query: q, Replies: replies}}}
				if err := app.Render(res); err != nil {
					t.Logf("a release could not be compared: %v", err)
					return nil
				}
				return res.IPW
			}
			return render(false), render(true)
		}
		pol := dpUtilityPolicy(0.02)
		pol.DPRhoCox = 1e6
		f.setPolicy(t, pol)
		exact, _ := release()
		if exact == nil {
			t.Fatal("no reference")
		}
		ref := exact.Cox.Coef[0]
		pol.DPRhoCox = DefaultDP.DPRhoCox
		f.setPolicy(t, pol)
		type stats struct {
			shift, noise         []float64
			cover, coverNoise, n int
			patients, dropped    int
		}
		var st [2]stats // rule on, all patterns
		for range reps {
			on, all := release()
			for k, res := range []*app.IPWResult{on, all} {
				if res == nil {
					continue
				}
				b, se := res.Cox.Coef[0], res.Robust.SE[0]
				s := &st[k]
				s.shift = append(s.shift, b-ref)
				s.n++
				s.patients += res.DP.Patients
				s.dropped += res.DP.DroppedPatients
				if math.Abs(b-ref) < 1.96*se {
					s.cover++
				}
				if res.DP.NoiseSD != nil {
					s.noise = append(s.noise, res.DP.NoiseSD[0])
					if math.Abs(b-ref) < 1.96*math.Hypot(se, res.DP.NoiseSD[0]) {
						s.coverNoise++
					}
				}
			}
		}
		t.Logf("%s, confounders %s: reference log HR %.3f (ρ = 1e6: the grid and bins alone), %d patients", f.cohort.name, strings.Join(conf, "+"), ref, exact.DP.Patients)
		for k, name := range []string{"patterns the noise explains left out", "every pattern kept"} {
			s := st[k]
			t.Logf("  %s: shift of the log HR median %+.3f, mean %+.3f, SD %.3f over %d releases; stated noise SD median %.3f; robust 95%% CI covers the reference %d/%d, widened by the noise SD %d/%d; pseudo-patients %.0f per release (%.0f left out)",
				name, quantile(s.shift, 0.5), mean(s.shift), sd(s.shift), s.n, quantile(s.noise, 0.5), s.cover, s.n, s.coverNoise, len(s.noise), float64(s.patients)/float64(s.n), float64(s.dropped)/float64(s.n))
		}
	}
}
