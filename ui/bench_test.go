package ui

import (
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/report"
	"github.com/oncofed/oncofed/synth"
)

// BenchmarkKMFigure renders the Survival tab's figure of a 4-group Kaplan–Meier result (NSCLC by
// stage on the demo network: 7,800 patients, 5 of 6 sites) with its number-at-risk table at
// 1600×1000 pixels, as the tab does off the UI goroutine on every resize. Goal: under 30 ms.
func BenchmarkKMFigure(b *testing.B) {
	f := startAppOn(b, synth.DemoFederation())
	a := f.ui
	before := a.cohort.feas
	a.cohort.groupBy.SetSelected("stage")
	f.loop.until(b, "feasibility by stage", func() bool { return a.cohort.feas != before })
	a.cohort.refusals = nil // run on the sites that allow it
	test.Tap(a.cohort.run)
	f.loop.until(b, "the KM result", func() bool { return a.survival.result != nil })
	r := a.survival.result
	if len(r.KM.Groups) != 4 {
		b.Fatalf("%d groups, want 4", len(r.KM.Groups))
	}
	style := chart.PublicationStyle()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := chart.Image(report.KMFigure(r, report.KMOptions{}, style, "footnote"), 1600, 1000); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStartToFirstFrame measures a window from New to its first complete frame on a
// running demo network: the cached catalog or the network's, the study chosen and the first
// feasibility count shown. Goal: under 1.5 s.
func BenchmarkStartToFirstFrame(b *testing.B) {
	f := startApp(b)
	f.ui.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		f.open(b, f.client)
		f.ui.Start()
		f.loop.until(b, "the first frame", func() bool { return f.ui.study != "" && f.ui.cohort.feas != nil })
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms/start")
		b.StopTimer()
		f.ui.Close()
		b.StartTimer()
	}
}
