package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/node"
)

// An analyst of role dp screens biomarkers too: the CLI sends one screen query of dp_tables
// models (one scatter-gather), each site releases every marker's tables at --rho over the
// markers, and the client fits them; the text and JSON say it is differentially private with
// the ρ each site charged, and the terms' SE include the noise. Prognostic (sex, age) and
// predictive (lung has no treatment: age's interaction with the indicator sex = male stands
// for one) modes both run. ρ = 20 per screen: the small lung sites' tables nearly exact.
func TestDPAnalystScreen(t *testing.T) {
	keyFile, analysts := dpAnalyst(t)
	pol := node.DefaultPolicy()
	pol.DPRhoDaily, pol.DPRhoTotal = 100, 100
	pol.EventsPerCoxCovariate = 3 // lung's sites hold 20–40 events: 3 columns need 30 at 10 each
	url := startLungFor(t, pol, analysts, nil)
	if code, out, stderr := cli(t, "--hub", url, "--key", keyFile, "catalog"); code != exitOK {
		t.Fatalf("catalog: exit %d\n%s%s", code, out, stderr)
	}
	db := filepath.Join(t.TempDir(), "cache.db")
	code, out, stderr := cli(t, "--hub", url, "--key", keyFile, "--cache", db, "screen", "--study", "lung", "--endpoint", "os",
		"--markers", "sex,age", "--rho", "20")
	if code != exitOK || !strings.Contains(out, "Differentially private: fitted on the sites' noisy tables") || !strings.Contains(out, "in 1 scatter-gather.") {
		t.Fatalf("screen: exit %d\n%s%s", code, out, stderr)
	}
	code, out, stderr = cli(t, "--hub", url, "--key", keyFile, "--cache", db, "screen", "--study", "lung", "--endpoint", "os",
		"--markers", "sex,age", "--rho", "20", "--format", "json")
	var doc struct {
		Queries int
		Privacy struct {
			Release  string
			RhoSpent map[string]float64 `json:"rho_spent"`
		}
		Markers []struct {
			Marker    string
			Estimable bool
			P         *float64
			Terms     []struct {
				Column  string
				Coef    *float64
				SE      *float64
				NoiseSD *float64 `json:"noise_sd"`
			}
		}
	}
	if code != exitOK || json.Unmarshal([]byte(out), &doc) != nil {
		t.Fatalf("screen json: exit %d\n%s%s", code, out, stderr)
	}
	if doc.Queries != 1 || doc.Privacy.Release != "differentially private" || len(doc.Privacy.RhoSpent) == 0 || len(doc.Markers) != 2 {
		t.Fatalf("screen json: %+v\n%s", doc, out)
	}
	for site, rho := range doc.Privacy.RhoSpent {
		if rho > 20+1e-9 {
			t.Errorf("site %s charged ρ=%g for a screen of ρ=20", site, rho)
		}
	}
	// As CSV, each marker's row says the release is noisy, live and exported from the library.
	code, out, stderr = cli(t, "--hub", url, "--key", keyFile, "--cache", db, "screen", "--study", "lung", "--endpoint", "os",
		"--markers", "sex,age", "--rho", "20", "--format", "csv")
	if rel := csvColumn(t, out, "release"); code != exitOK || len(rel) != 2 || rel[0] != "differentially private" || rel[1] != rel[0] {
		t.Errorf("screen csv: exit %d, release %q\n%s%s", code, rel, out, stderr)
	}
	_, list, _ := cli(t, "--offline", "--cache", db, "library", "list", "--format", "csv")
	ids, kinds := csvColumn(t, list, "id"), csvColumn(t, list, "kind")
	if i := slices.Index(kinds, "screen"); i < 0 {
		t.Errorf("no screen in the library:\n%s", list)
	} else {
		path := filepath.Join(t.TempDir(), "screen.csv")
		code, _, stderr = cli(t, "--offline", "--cache", db, "library", "export", ids[i], "--out", path)
		b, _ := os.ReadFile(path)
		if rel := csvColumn(t, string(b), "release"); code != exitOK || len(rel) != 2 || rel[0] != "differentially private" {
			t.Errorf("library export: exit %d, release %q\n%s%s", code, rel, b, stderr)
		}
		// Reopened offline from the stored record (its provenance and trace; the screen's
		// differential privacy is read from the provenance's release), it is the same dp screen.
		code, out, stderr = cli(t, "--offline", "--cache", db, "library", "show", ids[i], "--format", "json")
		var again struct {
			Privacy struct {
				Release  string
				RhoSpent map[string]float64 `json:"rho_spent"`
				Note     string
			}
			Markers []struct {
				Terms []struct {
					NoiseSD *float64 `json:"noise_sd"`
				}
			}
		}
		if code != exitOK || json.Unmarshal([]byte(out), &again) != nil || again.Privacy.Release != "differentially private" ||
			len(again.Privacy.RhoSpent) == 0 || !strings.Contains(again.Privacy.Note, "noisy tables") ||
			len(again.Markers) != 2 || len(again.Markers[0].Terms) != 1 || again.Markers[0].Terms[0].NoiseSD == nil {
			t.Errorf("library show: exit %d\n%s%s", code, out, stderr)
		}
	}
	// R on all of lung, stratified by institution: sexmale 0.53 (age alone 0.019 per year).
	sex := doc.Markers[0]
	if !sex.Estimable || len(sex.Terms) != 1 || sex.Terms[0].Column != "sexmale" || math.Abs(*sex.Terms[0].Coef-0.53) > 0.5 ||
		!(*sex.Terms[0].NoiseSD > 0 && *sex.Terms[0].NoiseSD < *sex.Terms[0].SE) || sex.P == nil {
		t.Errorf("sex: %+v\n%s", sex, out)
	}
	// Predictive: the marker's interaction with a treatment indicator.
	code, out, stderr = cli(t, "--hub", url, "--key", keyFile, "--cache", db, "screen", "--study", "lung", "--endpoint", "os",
		"--markers", "age", "--treatment", "sex", "--treated", "male", "--rho", "20", "--format", "json")
	if code != exitOK || !strings.Contains(out, `"column": "sexmale:age"`) {
		t.Errorf("predictive screen: exit %d\n%s%s", code, out, stderr)
	}
}
