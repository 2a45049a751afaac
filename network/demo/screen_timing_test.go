package demo_test

import (
	"context"
	"encoding/csv"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/synth"
)

// TestScreenTiming times a screen of ONCOFED_SCREEN_MARKERS candidate markers (default 40:
// every NSCLC candidate; more are padded with markers without effect, synth.Spec.NullMarkers)
// over ONCOFED_SCREEN_PATIENTS patients at ten trusted sites (skipped when unset), stratified by
// site and pooled, and writes the pooled patient-level data to ONCOFED_SCREEN_CSV for the R side
// of the comparison (bench/r/screen_timing.R loops coxph over the same markers). Its
// "screen_timing form=… seconds=…" lines are what scripts/bench.sh compares with R's.
func TestScreenTiming(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("ONCOFED_SCREEN_PATIENTS"))
	if n == 0 {
		t.Skip("set ONCOFED_SCREEN_PATIENTS (and ONCOFED_SCREEN_CSV) to time a screen")
	}
	want, _ := strconv.Atoi(os.Getenv("ONCOFED_SCREEN_MARKERS"))
	own := len(markerNames(t))
	ctx := context.Background()
	spec := synth.Spec{Study: synth.NSCLC, Sites: 10, Patients: n, Seed: 15, Markers: true, NullMarkers: max(0, want-own)}
	fed := synth.Federation{Name: "timing", Policies: map[string]synth.SitePolicy{}, Studies: []synth.Spec{spec}}
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
	g, err := synth.New(fed.Studies[0])
	if err != nil {
		t.Fatal(err)
	}
	base, _ := synth.SchemaOf(synth.NSCLC)
	var markers []string
	for _, v := range g.Schema().Variables[len(base.Variables):] {
		markers = append(markers, v.Name)
	}
	for _, form := range []protocol.CoxForm{protocol.CoxStratified, protocol.CoxPooled} {
		req := app.ScreenRequest{Study: "nsclc", Endpoint: "OS", Markers: markers, Adjust: []string{"age"}, Form: form}
		start = time.Now()
		cpu0 := processCPU(t)
		res, err := svc.Screen(ctx, req, nil)
		if err != nil {
			t.Fatal(err)
		}
		el := time.Since(start)
		// The CPU time of the whole federation (ten sites, hub and client in this process) says
		// what the screen costs when the machine is shared; the seconds are what R is held to.
		t.Logf("screen_timing form=%s seconds=%.2f cpu_seconds=%.2f markers=%d tests=%d patients=%d scatter_gathers=%d", form, el.Seconds(),
			processCPU(t)-cpu0, len(res.Markers), res.Tests, n, res.Queries)
	}
	path := os.Getenv("ONCOFED_SCREEN_CSV")
	if path == "" {
		return
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

// processCPU is the CPU time (user and system) this process has used, in seconds.
func processCPU(t *testing.T) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
