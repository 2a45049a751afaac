package demo_test

import (
	"context"
	"encoding/csv"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/synth"
)

// TestScreenTiming times a site-stratified screen of every NSCLC candidate marker over
// ONCOFED_SCREEN_PATIENTS patients at ten trusted sites (skipped when unset), and writes the
// pooled patient-level data to ONCOFED_SCREEN_CSV for the R side of the comparison
// (bench/r/screen_timing.R loops coxph(... + strata(site)) over the same markers).
func TestScreenTiming(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("ONCOFED_SCREEN_PATIENTS"))
	if n == 0 {
		t.Skip("set ONCOFED_SCREEN_PATIENTS (and ONCOFED_SCREEN_CSV) to time a screen")
	}
	ctx := context.Background()
	fed := synth.Federation{Name: "timing", Policies: map[string]synth.SitePolicy{},
		Studies: []synth.Spec{{Study: synth.NSCLC, Sites: 10, Patients: n, Seed: 15, Markers: true}}}
	for _, s := range fed.SiteNames() {
		fed.Policies[s] = synth.SitePolicy{}
	}
	start := time.Now()
	c, db := startDemo(t, fed)
	t.Logf("federation of %d patients generated and imported in %v", n, time.Since(start))
	svc := app.NewService(c, db, app.NetworkInfo{ID: "timing", Name: "timing"}, app.WithAnalyst("timing"))
	if _, err := svc.RefreshCatalog(ctx); err != nil {
		t.Fatal(err)
	}
	markers := markerNames(t)
	type run struct {
		form     string
		parallel int
	}
	runs := []run{{"stratified", 0}, {"pooled", 0}}
	if os.Getenv("ONCOFED_SCREEN_COMPARE_PARALLEL") != "" {
		// Interleaved, so that the neighbours' load hits both alike.
		runs = []run{{"stratified", 1}, {"stratified", 4}, {"stratified", 1}, {"stratified", 4}}
	}
	for _, rn := range runs {
		form := rn.form
		req := app.ScreenRequest{Study: "nsclc", Endpoint: "OS", Markers: markers, Adjust: []string{"age"}}
		if form == "pooled" {
			req.Form = "pooled"
		}
		start = time.Now()
		res, err := svc.Screen(ctx, req, nil)
		if err != nil {
			t.Fatal(err)
		}
		el := time.Since(start)
		t.Logf("%s screen (parallel %d): %d markers (%d tests), %d scatter-gathers, %v (%.1f ms per scatter-gather)", form, rn.parallel, len(res.Markers), res.Tests,
			res.Queries, el, float64(el.Milliseconds())/float64(res.Queries))
	}
	path := os.Getenv("ONCOFED_SCREEN_CSV")
	if path == "" {
		return
	}
	g, err := synth.New(fed.Studies[0])
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := csv.NewWriter(f)
	_ = w.Write(append([]string{"site", "time", "event", "age"}, markers...))
	err = g.Stream(65536, func(co *synth.Cohort) error {
		for k := 0; k < co.Len(); k++ {
			ev := "0"
			if co.OSEvent[k] {
				ev = "1"
			}
			row := []string{co.Site.Name, strconv.FormatFloat(co.OSDays[k], 'f', -1, 64), ev, strconv.FormatFloat(co.Column("age").Values[k], 'f', -1, 64)}
			for _, m := range markers {
				col := co.Column(m)
				switch {
				case col.Codes != nil:
					row = append(row, co.Level(m, k))
				case col.Values[k] != col.Values[k]:
					row = append(row, "")
				default:
					row = append(row, strconv.FormatFloat(col.Values[k], 'f', -1, 64))
				}
			}
			if err := w.Write(row); err != nil {
				return err
			}
		}
		return nil
	})
	w.Flush()
	if err != nil || w.Error() != nil {
		t.Fatal(err, w.Error())
	}
}
