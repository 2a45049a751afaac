package app

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// screenDPGoldens is app/testdata/screen_dp_goldens.json (screen_dp_goldens.R).
type screenDPGoldens struct {
	Cases []struct {
		Name    string            `json:"name"`
		Marker  string            `json:"marker"`
		Columns []string          `json:"columns"`
		Coef    []json.RawMessage `json:"coef"` // "NA" for a term R drops
		SE      []float64         `json:"se"`
		LogLik  float64           `json:"loglik"`
		N       int               `json:"n"`
		Events  int               `json:"events"`
		Sites   []struct {
			Site     string `json:"site"`
			Patterns []struct {
				X      []float64 `json:"x"`
				Time   []float64 `json:"time"`
				Events []int     `json:"events"`
				Censor []int     `json:"censor"`
			} `json:"patterns"`
		} `json:"sites"`
	} `json:"cases"`
}

// The differentially private screen's fit of each marker's model on the sites' noisy tables
// equals R's coxph(Surv ~ marker + adjusters + strata(site)) — and, in predictive mode,
// ~ treatment * marker — on the pseudo-patients those tables describe, to 1e-9 (coefficients,
// the fit's standard errors, the log-likelihood), on tables built from the real lung data
// (screen_dp_goldens.R). The marker's terms carry the noise: SE² is the fit's variance plus the
// noise's, and the joint Wald χ² uses the inflated covariance; a marker R cannot estimate (no
// high-Karnofsky patient with ECOG ≥ 2: R's NA) is no test and gets no p.
func TestScreenDPFitEqualsR(t *testing.T) {
	b, err := os.ReadFile("testdata/screen_dp_goldens.json")
	if err != nil {
		t.Fatal(err)
	}
	var g screenDPGoldens
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Cases) != 4 {
		t.Fatalf("%d cases", len(g.Cases))
	}
	horizon := 3660.0
	for _, c := range g.Cases {
		predictive := strings.HasPrefix(c.Name, "pred")
		sr := ScreenRequest{Study: "lung", Endpoint: "OS", Markers: []string{c.Marker}, Adjust: []string{"age"}}
		levels := map[string][]string{"sex": {"female", "male"}, "ecog": {"ecog0", "ecog1", "ecog2"}}
		if predictive {
			sr.Treatment, sr.Treated = "karno", "high"
		}
		if c.Name == "pred_ecog" {
			sr.Adjust = nil
		}
		sr.Levels = levels
		r := markerRequest(sr, c.Marker)
		r.Cox.Form, r.Cox.Ties = protocol.CoxDPTables, "efron"
		r.Cox.Levels = map[string][]string{c.Marker: levels[c.Marker]}
		p := len(c.Columns)
		q := protocol.Query{Version: protocol.Version, Kind: protocol.KindCox, ID: "q", Study: "lung", Endpoint: "OS",
			Cox: &protocol.CoxRequest{Form: protocol.CoxDPTables, Ties: "efron", Beta: make([]float64, p)}}
		mg := &Gathered{Query: q}
		for _, s := range c.Sites {
			cr := &protocol.CoxReply{Columns: c.Columns}
			for _, pt := range s.Patterns {
				cp := protocol.CoxPattern{X: pt.X, Time: pt.Time, Events: pt.Events, Censor: pt.Censor}
				for i := range pt.Time {
					cr.N += pt.Events[i] + pt.Censor[i]
					cr.Events += pt.Events[i]
				}
				cr.Patterns = append(cr.Patterns, cp)
			}
			mg.Replies = append(mg.Replies, protocol.Reply{Version: protocol.Version, Site: s.Site, Kind: protocol.KindCox, Cox: cr,
				Policy: protocol.PolicyEffects{BinDays: 30, TruncatedAfter: &horizon, DP: &protocol.DPEffects{Mechanism: "survival-sqrt", Rho: 0.05 / 4, Sigma2: 1}}})
		}
		rec, err := dpMarkerRecord(mg, r, p, c.Marker)
		if err != nil || rec.Trace == nil {
			t.Fatalf("%s: %v (%s)", c.Name, err, rec.Reason)
		}
		cox, err := renderCoxTrace(Request{Kind: protocol.KindCox, Study: "lung", Endpoint: "OS", Cox: rec.Model}, rec.Trace)
		if err != nil {
			t.Fatal(err)
		}
		f := cox.Fit
		if f.N != c.N || f.Events != c.Events || math.Abs(f.LogLik-c.LogLik) > 1e-9*math.Abs(c.LogLik) {
			t.Errorf("%s: n %d events %d loglik %.12g; R %d %d %.12g", c.Name, f.N, f.Events, f.LogLik, c.N, c.Events, c.LogLik)
		}
		for j, raw := range c.Coef {
			var want float64
			if json.Unmarshal(raw, &want) != nil {
				if !math.IsNaN(f.Coef[j]) {
					t.Errorf("%s %s: coef %g, R NA", c.Name, c.Columns[j], f.Coef[j])
				}
				continue
			}
			if math.Abs(f.Coef[j]-want) > 1e-9 || math.Abs(f.SE[j]-c.SE[j]) > 1e-9 {
				t.Errorf("%s %s: coef %.12g se %.12g; R %.12g %.12g", c.Name, c.Columns[j], f.Coef[j], f.SE[j], want, c.SE[j])
			}
		}
		mr, err := markerResult(sr, rec)
		if err != nil {
			t.Fatal(err)
		}
		if c.Name == "pred_ecog" {
			if mr.Estimable || !math.IsNaN(mr.P) {
				t.Errorf("pred_ecog: estimable %v p %g; R cannot estimate karnohigh:ecogecog2", mr.Estimable, mr.P)
			}
		} else {
			if !mr.Estimable || len(rec.NoiseCov) != p*p {
				t.Fatalf("%s: %+v, noise cov %d", c.Name, mr, len(rec.NoiseCov))
			}
			for _, term := range mr.Terms {
				j := indexOf(c.Columns, term.Column)
				if j < 0 || !(term.NoiseSD > 0) || math.Abs(term.SE*term.SE-(c.SE[j]*c.SE[j]+term.NoiseSD*term.NoiseSD)) > 1e-12 {
					t.Errorf("%s %s: SE %g, noise SD %g, fit SE %g", c.Name, term.Column, term.SE, term.NoiseSD, c.SE[max(j, 0)])
				}
			}
			if want := map[bool]int{false: 1, true: 1}[predictive] + map[bool]int{false: 0, true: 1}[c.Marker == "ecog"]; mr.DF != want {
				t.Errorf("%s: df %d, want %d", c.Name, mr.DF, want)
			}
			// The χ² without the noise would be larger: the noise is not information.
			if naive, err := chisqOf(f, mr, c.Columns); err != nil || !(mr.Chisq < naive) {
				t.Errorf("%s: χ² %g with the noise, %g without (%v)", c.Name, mr.Chisq, naive, err)
			}
		}
		t.Logf("%s: terms %+v chisq %.3f p %.4g", c.Name, mr.Terms, mr.Chisq, mr.P)
	}
}

// chisqOf is the joint Wald χ² of mr's terms on the fit f alone (without the noise).
func chisqOf(f *analysis.CoxFit, mr *MarkerResult, columns []string) (float64, error) {
	var idx []int
	for _, term := range mr.Terms {
		idx = append(idx, indexOf(columns, term.Column))
	}
	w, err := analysis.JointWald(f, idx)
	return w.Stat, err
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}
