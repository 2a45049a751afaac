package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/cache"
	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/synth"
)

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("bench: " + err.Error())
	}
	return string(b)
}

const cachedResults = 10000

// kmFigure is the KM figure the app draws for OS by sex on a large cohort: two curves with a
// step per distinct day, confidence bands, censor marks, the number-at-risk table, medians and
// the log-rank p.
func kmFigure(n int) (*chart.KMFigure, error) {
	g, err := synth.New(synth.Spec{Study: synth.NSCLC, Sites: 1, Patients: n, Seed: synth.DemoSeed})
	if err != nil {
		return nil, err
	}
	c := g.Site(0)
	sex := c.Column("sex").Codes
	var times [2][]float64
	var events [2][]bool
	for i := range c.OSDays {
		if sex[i] < 0 {
			continue
		}
		times[sex[i]] = append(times[sex[i]], c.OSDays[i])
		events[sex[i]] = append(events[sex[i]], c.OSEvent[i])
	}
	fig := &chart.KMFigure{Title: "Overall survival by sex (synthetic NSCLC)", ShowMedianLines: true}
	var tables []analysis.SurvivalTable
	for k, name := range []string{"female", "male"} {
		t, err := analysis.NewSurvivalTable(times[k], events[k])
		if err != nil {
			return nil, err
		}
		tables = append(tables, t)
		km, err := analysis.KaplanMeier(t, analysis.KMOptions{})
		if err != nil {
			return nil, err
		}
		curve := chart.KMCurve{Name: name, N: km.N, Time: km.Time, Surv: km.Surv, Lower: km.Lower, Upper: km.Upper, NRisk: km.NRisk}
		for j, c := range km.NCensor {
			if c > 0 {
				curve.CensorTimes = append(curve.CensorTimes, km.Time[j])
			}
		}
		if q, err := km.Quantile(0.5); err == nil && len(q) == 1 {
			curve.Median = &chart.MedianCI{Median: q[0].Time, Lower: q[0].Lower, Upper: q[0].Upper}
		}
		fig.Curves = append(fig.Curves, curve)
	}
	if lr, err := analysis.LogRank(tables); err == nil {
		fig.LogRankP = &lr.P
	}
	return fig, nil
}

func appFigures(ctx context.Context, cfg config, r *report) error {
	var b strings.Builder
	b.WriteString("## 5. App figures\n\n")
	b.WriteString("| Figure | Median | Repetitions | Detail |\n|---|---|---|---|\n")

	// KM chart render.
	const figPatients = 200000
	fig, err := kmFigure(figPatients)
	if err != nil {
		return err
	}
	steps := 0
	for _, c := range fig.Curves {
		steps += len(c.Time)
	}
	reps := max(cfg.reps*2, 11)
	log.Printf("app: KM chart render, %d repetitions", reps)
	var png, img []time.Duration
	var buf bytes.Buffer
	for i := 0; i < reps; i++ {
		buf.Reset()
		t := time.Now()
		if err := chart.WritePNG(&buf, fig, 1600, 1000); err != nil {
			return err
		}
		png = append(png, time.Since(t))
		t = time.Now()
		if _, err := chart.Image(fig, 1600, 1000); err != nil {
			return err
		}
		img = append(img, time.Since(t))
	}
	fmt.Fprintf(&b, "| KM chart render to an image (chart.Image, 1600×1000) | %s | %d | 2 curves, %d steps, bands, censor marks, risk table, medians, log-rank p (%s patients) |\n",
		fmtDur(medianDur(img)), reps, steps, sizeName(figPatients))
	fmt.Fprintf(&b, "| KM chart render to PNG (chart.WritePNG, 1600×1000) | %s | %d | same figure, %d KiB |\n", fmtDur(medianDur(png)), reps, buf.Len()/1024)

	// Cached-results listing.
	dir := filepath.Join(cfg.work, "cache")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	db, err := cache.Open(ctx, filepath.Join(dir, "cache.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	nw := app.NetworkInfo{ID: "bench", Name: "bench network", LastConnected: time.Now()}
	if err := db.SaveNetwork(ctx, nw); err != nil {
		return err
	}
	log.Printf("app: filling the cache with %d results", cachedResults)
	t0 := time.Now()
	now := time.Now().UTC()
	sites := []string{"central-university", "north-academic", "riverside-general"}
	for i := 0; i < cachedResults; i++ {
		req := app.Request{Kind: protocol.KindSurvival, Study: benchStudy, Endpoint: "OS", GroupBy: "sex", Landmarks: []float64{365, 730}}
		q := protocol.Query{Version: protocol.Version, Kind: protocol.KindSurvival, ID: fmt.Sprintf("q%d", i), Study: benchStudy, Endpoint: "OS", GroupBy: "sex"}
		var replies []protocol.Reply
		for _, s := range sites {
			replies = append(replies, protocol.Reply{Version: protocol.Version, QueryID: q.ID, Site: s, Kind: q.Kind,
				Survival: &protocol.SurvivalReply{Endpoint: "OS", Groups: []protocol.SurvivalGroup{
					{Group: "female", Time: []float64{30, 60, 90}, Events: []int{3, 2, 1}, Censor: []int{0, 1, 4}},
					{Group: "male", Time: []float64{30, 60, 90}, Events: []int{4, 2, 2}, Censor: []int{1, 0, 3}},
				}}})
		}
		res := &app.Result{Name: fmt.Sprintf("OS by sex #%d", i), Network: nw.ID, Request: req, Pinned: i%100 == 0,
			Provenance: app.Provenance{RanAt: now.Add(-time.Duration(i) * time.Minute), Expected: sites, Answered: sites,
				AppVersion: app.Version, ProtocolVersion: protocol.Version, ContentHash: fmt.Sprintf("%064x", i)},
			Rounds: []app.Round{{Query: q, Replies: replies}}}
		if err := db.SaveResult(ctx, res); err != nil {
			return fmt.Errorf("cache: save result %d: %w", i, err)
		}
	}
	fill := time.Since(t0)
	var list, page []time.Duration
	for i := 0; i < reps; i++ {
		t := time.Now()
		rs, err := db.Results(ctx, app.ResultFilter{Network: nw.ID})
		if err != nil {
			return err
		}
		list = append(list, time.Since(t))
		if len(rs) != cachedResults {
			return fmt.Errorf("cache listed %d results, want %d", len(rs), cachedResults)
		}
		t = time.Now()
		if _, err := db.Results(ctx, app.ResultFilter{Network: nw.ID, Limit: 50}); err != nil {
			return err
		}
		page = append(page, time.Since(t))
	}
	fmt.Fprintf(&b, "| Cached-results listing, all %d results (cache.DB.Results) | %s | %d | pinned first, newest first; filling the cache took %s (%s per SaveResult) |\n",
		cachedResults, fmtDur(medianDur(list)), reps, fmtDur(fill), fmtDur(fill/cachedResults))
	fmt.Fprintf(&b, "| Cached-results listing, first page of 50 | %s | %d | same cache |\n", fmtDur(medianDur(page)), reps)
	if st, ok := goBenchMedian(cfg.goResults, "StartToFirstFrame"); ok {
		fmt.Fprintf(&b, "| App start to first frame (ui BenchmarkStartToFirstFrame, Fyne test driver, headless) | %s | %d runs | from %s: a window from New to its first complete frame on the running demo network (catalog, study chosen, first feasibility count shown) |\n\n",
			fmtDur(time.Duration(medianFloat(st.ns))), len(st.ns), cfg.goResults)
	} else {
		b.WriteString("| App start to first frame | skipped | — | needs the ui package's BenchmarkStartToFirstFrame in the Go results (a display is not available to this harness) |\n\n")
	}
	r.add(b.String())
	return nil
}
