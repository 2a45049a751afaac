package main

import (
	"encoding/json"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/report"
)

// An analyst of role dp gets the cumulative incidence from the sites' differentially private
// per-cause tables (one dp_rho_survival per site for all causes), labelled as such with the ρ
// spent; near R's where many are at risk; Gray's test and the intervals with the noise, saying so. A Fine–Gray model, which no dp release supports, is
// refused by the client, naming the reason, before anything is asked or charged.
func TestDPAnalystCIF(t *testing.T) {
	keyFile, analysts := dpAnalyst(t)
	pol := node.DefaultPolicy()
	url, gold := startMGUSFor(t, pol, analysts)
	code, out, stderr := cli(t, "--hub", url, "--key", keyFile, "cif", "--study", "mgus", "--endpoint", "E", "--group", "sex", "--format", "json")
	var doc struct {
		Groups []struct {
			Name   string
			Causes []struct {
				Cause string
				Curve struct {
					Time    []float64
					NRisk   []int `json:"n_risk"`
					CIF     []float64
					StdErr  []*float64 `json:"std_err"`
					NoiseSD []*float64 `json:"noise_sd"`
				}
			}
		}
		Gray []struct {
			Cause string
			P     float64
		}
		GrayError     string `json:"gray_error"`
		GrayWithNoise bool   `json:"gray_with_noise"`
		DPNote        string `json:"dp_note"`
		Privacy       struct {
			Release string
			DP      *struct {
				Rho       float64
				LeftToday float64 `json:"left_today"`
			} `json:"dp"`
		}
	}
	if code != exitOK || json.Unmarshal([]byte(out), &doc) != nil {
		t.Fatalf("cif: exit %d\n%s%s", code, out, stderr)
	}
	if doc.Privacy.Release != "differentially private" || doc.Privacy.DP == nil || doc.Privacy.DP.Rho != pol.DPRhoSurvival ||
		math.Abs(doc.Privacy.DP.LeftToday-(pol.DPRhoDaily-pol.DPRhoSurvival)) > 1e-9 || !strings.Contains(doc.DPNote, "noisy") {
		t.Errorf("cif labels: release %q, dp %+v, note %q", doc.Privacy.Release, doc.Privacy.DP, doc.DPNote)
	}
	// Gray's test holds the noise in its variance (taken as exact, it rejects equal groups far
	// too often: node.TestDPGrayNull).
	if len(doc.Gray) != 2 || doc.GrayError != "" || !doc.GrayWithNoise || doc.Gray[1].Cause != "death" || !(doc.Gray[0].P > 0 && doc.Gray[0].P <= 1) ||
		!strings.Contains(doc.DPNote, "the intervals include the noise") {
		t.Errorf("Gray's test on dp tables: %v, %q, with noise %v; note %q", doc.Gray, doc.GrayError, doc.GrayWithNoise, doc.DPNote)
	}
	ref := map[string][2]float64{} // R (survfit, exact times) at 60 months, by group: progression, death
	for _, c := range gold.CIF {
		if c.Name != "mgus2/log" {
			continue
		}
		for _, g := range c.Groups {
			k := sort.SearchFloat64s(g.Time, 60.000001) - 1
			ref[g.Group] = [2]float64{g.CIF[0][k], g.CIF[1][k]}
		}
	}
	if len(doc.Groups) != 2 {
		t.Fatalf("groups %+v", doc.Groups)
	}
	for _, g := range doc.Groups {
		if len(g.Causes) != 2 || g.Causes[0].Cause != "progression" || g.Causes[1].Cause != "death" {
			t.Fatalf("group %s: causes %+v", g.Name, g.Causes)
		}
		for c, cd := range g.Causes {
			cv := cd.Curve
			for k := range cv.CIF {
				if cv.CIF[k] < 0 || cv.CIF[k] > 1 || (k > 0 && cv.CIF[k] < cv.CIF[k-1]) {
					t.Fatalf("group %s cause %s: CIF %v at row %d", g.Name, cd.Cause, cv.CIF[k], k)
				}
			}
			// Time 60 is a bin edge; hundreds are at risk (R: F 415): the noise and the
			// 30-unit bins move the estimate by a few hundredths (docs/competing-risks.md).
			if len(cv.NoiseSD) != len(cv.CIF) || len(cv.StdErr) != len(cv.CIF) {
				t.Fatalf("group %s cause %s: %d rows, %d noise SDs, %d SEs", g.Name, cd.Cause, len(cv.CIF), len(cv.NoiseSD), len(cv.StdErr))
			}
			k := sort.SearchFloat64s(cv.Time, 60.000001) - 1
			if k >= 0 && (cv.NoiseSD[k] == nil || cv.StdErr[k] == nil || !(*cv.NoiseSD[k] > 0 && *cv.StdErr[k] > *cv.NoiseSD[k])) {
				t.Errorf("group %s cause %s at 60: SE %v, noise SD %v", g.Name, cd.Cause, cv.StdErr[k], cv.NoiseSD[k])
			}
			if k < 0 || cv.NRisk[k] < 200 || math.Abs(cv.CIF[k]-ref[g.Name][c]) > 0.15 {
				t.Errorf("group %s cause %s at 60: dp CIF %v, R %v", g.Name, cd.Cause, cv.CIF, ref[g.Name][c])
			}
		}
	}
	code, out, stderr = cli(t, "--hub", url, "--key", keyFile, "cif", "--study", "mgus", "--endpoint", "E", "--group", "sex")
	if code != exitOK || !strings.Contains(out, "the intervals include the noise") || !strings.Contains(out, report.DPGrayNote) ||
		!strings.Contains(out, "Gray's test, death: stat = ") || !strings.Contains(out, "ρ=0.02 each, left today ≥ 0.21") {
		t.Errorf("cif text: exit %d\n%s%s", code, out, stderr)
	}
	code, _, stderr = cli(t, "--hub", url, "--key", keyFile, "finegray", "--study", "mgus", "--endpoint", "E", "--cause", "death", "--covariates", "x1")
	if code == exitOK || !strings.Contains(stderr, "not available to an analyst of role dp") || !strings.Contains(stderr, "nothing was asked of the sites") {
		t.Errorf("finegray: exit %d\n%s", code, stderr)
	}
	// Nothing was charged for it: the next query leaves 0.25 − 3 × 0.02.
	code, out, stderr = cli(t, "--hub", url, "--key", keyFile, "km", "--study", "mgus", "--endpoint", "E")
	if code != exitOK || !strings.Contains(out, "ρ=0.02 each, left today ≥ 0.19 ") {
		t.Errorf("km after the refusal: exit %d\n%s%s", code, out, stderr)
	}
}

// A Kaplan–Meier result whose sites did not split the events by cause (what a dp analyst gets
// without split_causes, as an older client asks) is no cumulative incidence: cif fails saying
// why, rather than drawing a curve of nothing.
func TestCIFDocumentWithoutSplit(t *testing.T) {
	r := &app.Result{Request: app.Request{Kind: protocol.KindSurvival, Study: "mgus", Endpoint: "E"},
		KM: &app.KMResult{Endpoint: "E", Groups: []app.KMGroup{{}}}}
	_, err := cifDocument(r, []string{"progression", "death"}, analysis.ConfLog)
	if err == nil || !strings.Contains(err.Error(), "not asked for the split") || !strings.Contains(err.Error(), "no cumulative incidence") {
		t.Errorf("cif of an unsplit release: %v", err)
	}
}
