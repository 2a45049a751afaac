package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/oncofed/oncofed/internal/competingtest"
	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
)

// startMGUS serves survival::mgus2 split over four fake sites on a real embedded hub, its
// endpoint E with the causes progression (1) and death (2), and the covariates sex, x1 (age
// in decades) and x2 (haemoglobin).
func startMGUS(t *testing.T, policy protocol.Policy) (string, *competingtest.Goldens) {
	t.Helper()
	return startMGUSFor(t, policy, nil)
}

// startMGUSFor is startMGUS with sites that serve the analysts listed (nil: open sites).
func startMGUSFor(t *testing.T, policy protocol.Policy, analysts *node.Analysts) (string, *competingtest.Goldens) {
	t.Helper()
	ctx := context.Background()
	gold := competingtest.Load(t)
	d := gold.Dataset(t, "mgus2")
	bySite := map[string]*strings.Builder{}
	for i := range d.Time {
		sb := bySite[d.Site[i]]
		if sb == nil {
			sb = &strings.Builder{}
			sb.WriteString("pid,t,st,sex,x1,x2\n")
			bySite[d.Site[i]] = sb
		}
		fmt.Fprintf(sb, "p%d,%v,%d,%s,%v,%v\n", i, d.Time[i], d.Status[i], d.Group[i], d.X1[i], d.X2[i])
	}
	hub, err := network.StartHub(network.HubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Shutdown)
	dir := t.TempDir()
	for site, sb := range bySite {
		store, err := node.OpenSQLite(filepath.Join(dir, site+".db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		spec := node.ImportSpec{Study: "mgus", IDColumn: "pid", Site: site, DataCut: "2024-01-01",
			Endpoints: []node.EndpointSpec{{Name: "E", TimeColumn: "t", EventColumn: "st"}},
			Causes:    map[string][]string{"E": {"progression", "death"}},
			Dictionary: node.Dictionary{Version: "1", Entries: []node.DictionaryEntry{{Name: "sex", Categories: []string{"F", "M"}},
				{Name: "x1", Type: protocol.Numeric, Min: ptr(2.0), Max: ptr(10.0)}, {Name: "x2", Type: protocol.Numeric, Min: ptr(5.0), Max: ptr(20.0)}}}}
		if _, err := node.ImportCSV(ctx, store, spec, strings.NewReader(sb.String())); err != nil {
			t.Fatal(err)
		}
		p := policy
		eng, err := node.NewEngine(ctx, store, node.Config{InsecureOpen: analysts == nil, Analysts: analysts, Site: site, Policy: &p})
		if err != nil {
			t.Fatal(err)
		}
		nc, err := nats.Connect(hub.URL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		svc, err := network.ServeSite(ctx, nc, site, []string{"mgus"}, eng)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(svc.Stop)
	}
	return hub.URL(), gold
}

// oncofed-cli cif over four sites gives R's survfit cumulative incidence and standard errors
// and cmprsk's Gray test on the pooled mgus2 data; text and CSV say the same, and km on the
// same endpoint treats any cause as the event.
func TestCIFCommandEqualsR(t *testing.T) {
	url, gold := startMGUS(t, node.ExactPolicy())
	code, out, errOut := cli(t, "--hub", url, "cif", "--study", "mgus", "--endpoint", "E", "--group", "sex", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Groups []struct {
			Name   string `json:"name"`
			N      int    `json:"n"`
			Causes []struct {
				Cause string `json:"cause"`
				Curve struct {
					CIF    []float64  `json:"cif"`
					StdErr []*float64 `json:"std_err"`
				} `json:"curve"`
			} `json:"causes"`
		} `json:"groups"`
		Gray []struct {
			Cause string  `json:"cause"`
			Stat  float64 `json:"stat"`
			DF    int     `json:"df"`
			P     float64 `json:"p"`
		} `json:"gray"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var ref = gold.CIF[0]
	for _, c := range gold.CIF {
		if c.Name == "mgus2/log" {
			ref = c
		}
	}
	if len(doc.Groups) != 2 || doc.Groups[0].Causes[0].Cause != "progression" || doc.Groups[1].Causes[1].Cause != "death" {
		t.Fatalf("groups and causes: %+v", doc.Groups)
	}
	for i, gr := range ref.Groups {
		for c := range 2 {
			got := doc.Groups[i].Causes[c].Curve
			for k, want := range gr.CIF[c] {
				if math.Abs(got.CIF[k]-want) > 1e-14 || math.Abs(*got.StdErr[k]-gr.StdErr[c][k]) > 1e-13 {
					t.Fatalf("%s cause %d row %d: %v ± %v, R %v ± %v", gr.Group, c+1, k, got.CIF[k], *got.StdErr[k], want, gr.StdErr[c][k])
				}
			}
		}
	}
	for _, g := range gold.Gray {
		if g.Name != "mgus2/sex" {
			continue
		}
		for i, want := range g.Tests {
			got := doc.Gray[i]
			if math.Abs(got.Stat-want.Stat) > 1e-9*want.Stat || math.Abs(got.P-want.P) > 1e-7*want.P || got.DF != 1 {
				t.Errorf("Gray cause %d: %+v, R stat %v p %v", want.Cause, got, want.Stat, want.P)
			}
		}
	}
	code, out, errOut = cli(t, "--hub", url, "cif", "--study", "mgus", "--endpoint", "E", "--group", "sex", "--landmarks", "120,240")
	if code != 0 || !strings.Contains(out, "Gray's test, progression: stat = ") || !strings.Contains(out, "CIF(120)") {
		t.Errorf("text output (exit %d, %s):\n%s", code, errOut, out)
	}
	code, out, _ = cli(t, "--hub", url, "cif", "--study", "mgus", "--endpoint", "E", "--format", "csv")
	first := strings.SplitN(out, "\n", 3)
	if code != 0 || !strings.HasPrefix(out, "group,cause,time,n_risk,n_event,cif,std_err,lower,upper,release\nAll patients,progression,") || len(first) < 3 || !strings.HasSuffix(first[1], ",exact") {
		t.Errorf("csv output (exit %d):\n%.300s", code, out)
	}
	plot := filepath.Join(t.TempDir(), "cif.png")
	if code, _, errOut = cli(t, "--hub", url, "cif", "--study", "mgus", "--endpoint", "E", "--group", "sex", "--out", plot); code != 0 {
		t.Errorf("plot: exit %d: %s", code, errOut)
	} else if st, err := os.Stat(plot); err != nil || st.Size() < 1000 {
		t.Errorf("plot %s: %v", plot, err)
	}
	code, out, errOut = cli(t, "--hub", url, "km", "--study", "mgus", "--endpoint", "E", "--format", "json")
	if code != 0 || !strings.Contains(out, `"events": 956`) {
		t.Errorf("km on the cause endpoint (exit %d, %s): want every event of any cause:\n%.400s", code, errOut, out)
	}
}
