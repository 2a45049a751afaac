package app_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/cache"
	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/network/demo"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
)

// TestIPWDPDemo measures the dp comparison on the demo network (docs/dp-compare.md's table):
// ONCOFED_DPIPW_DEMO=1 go test ./app -run TestIPWDPDemo -v. For each confounder set it runs
// the comparison as a dp analyst and as a trusted one (a fresh demo each, so neither budget
// runs out) and logs the HR, its robust CI, the noise's SD of the log HR, the pseudo-patients
// against the cohort, the reply size and the time.
func TestIPWDPDemo(t *testing.T) {
	if os.Getenv("ONCOFED_DPIPW_DEMO") == "" {
		t.Skip("set ONCOFED_DPIPW_DEMO=1 to measure the dp comparison on the demo network")
	}
	ctx := context.Background()
	dir := t.TempDir()
	where, err := protocol.ParseFilter("treatment in (pembro-chemo, chemo)")
	if err != nil {
		t.Fatal(err)
	}
	for i, conf := range confSets() {
		for _, role := range roles() {
			// A fresh demo for each comparison: on the same site databases the overlap guard
			// refuses a later comparison whose sets are within min_cell of an earlier one's.
			sites := filepath.Join(dir, "sites"+string(role)+itoa(i))
			d, err := demo.Start(ctx, sites, demo.Options{AnalystRole: role})
			if err != nil {
				t.Fatal(err)
			}
			client, err := network.Dial(ctx, d.URL(), network.WithTimeout(60*time.Second), network.WithSigner(d.Signer()))
			if err != nil {
				t.Fatal(err)
			}
			db, err := cache.Open(ctx, filepath.Join(dir, "cache-"+string(role)+itoa(i)+".db"))
			if err != nil {
				t.Fatal(err)
			}
			svc := app.NewService(client, db, app.NetworkInfo{ID: "demo", Name: "demo", Demo: true}, app.WithAnalyst(demo.DemoAnalyst))
			if _, err := svc.RefreshCatalog(ctx); err != nil {
				t.Fatal(err)
			}
			spec := &app.IPWSpec{Treatment: "treatment", Treated: "pembro-chemo", Confounders: conf, Estimand: "ATE"}
			start := time.Now()
			r, err := svc.Run(ctx, app.Request{Kind: protocol.KindIPW, Study: "nsclc", Endpoint: "OS", Cohort: where, IPW: spec})
			elapsed := time.Since(start)
			if err != nil {
				t.Logf("%s %v: %v", role, conf, err)
			} else {
				res := r.IPW
				size := 0
				for _, rep := range r.Rounds[0].Replies {
					b, _ := json.Marshal(rep)
					size = max(size, len(b))
				}
				line := ""
				if res.DP != nil {
					line = " noise SD of log HR " + g4(res.DP.NoiseSD) + " over " + itoa(res.DP.Copies) + " copies, " + itoa(res.DP.Patients) + " pseudo-patients"
				}
				t.Logf("%s %v: HR %.3f (robust 95%% CI %.3f–%.3f, robust SE of log HR %.3f)%s; propensity n %d; %d of %d sites answered; largest reply %d bytes; %v",
					role, conf, res.Cox.HR[0], res.Robust.Lower[0], res.Robust.Upper[0], res.Robust.SE[0], line, res.Propensity.N,
					len(r.Provenance.Answered), len(r.Provenance.Expected), size, elapsed.Round(time.Millisecond))
				for _, p := range r.Provenance.Refused {
					t.Logf("  %s refused: %s", p.Site, p.Message)
				}
			}
			db.Close()
			client.Close()
			d.Close()
		}
	}
}

func g4(x []float64) string {
	if len(x) == 0 {
		return "n/a"
	}
	b, _ := json.Marshal(float64(int(x[0]*1000+0.5)) / 1000)
	return string(b)
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func confSets() [][]string {
	return [][]string{{"age"}, {"age", "ecog"}, {"ecog", "stage"}, {"age", "ecog", "stage"}}
}

func roles() []node.Role {
	if os.Getenv("ONCOFED_DPIPW_TRUSTED") == "" {
		return []node.Role{node.RoleDP}
	}
	return []node.Role{node.RoleDP, node.RoleTrusted}
}
