package synth_test

import (
	"io"
	"testing"

	"github.com/oncofed/oncofed/synth"
)

// benchSpec is a 1,000,000-patient federation; its last site is tiny so that calling Site on
// it calibrates the generator before the timer starts.
func benchSpec(study synth.Study) synth.Spec {
	return synth.Spec{Study: study, SiteSizes: []int{400000, 300000, 200000, 99990, 10}, Seed: 1}
}

// BenchmarkStream measures the column API: patients generated per second, one block of 65,536
// rows at a time (constant memory whatever the federation size).
func BenchmarkStream(b *testing.B) {
	for _, study := range synth.Studies {
		b.Run(string(study), func(b *testing.B) {
			g, err := synth.New(benchSpec(study))
			if err != nil {
				b.Fatal(err)
			}
			g.Site(4)
			b.ResetTimer()
			n := 0
			for range b.N {
				if err := g.Stream(1<<16, func(c *synth.Cohort) error { n += c.Len(); return nil }); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "patients/s")
		})
	}
}

// BenchmarkWriteCSV measures CSV output of a 400,000-patient site.
func BenchmarkWriteCSV(b *testing.B) {
	g, err := synth.New(benchSpec(synth.NSCLC))
	if err != nil {
		b.Fatal(err)
	}
	g.Site(4)
	b.ResetTimer()
	for range b.N {
		if err := g.WriteCSV(io.Discard, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(400000*b.N)/b.Elapsed().Seconds(), "patients/s")
}

var calibrateSeed uint64 = 1000

// BenchmarkCalibrate measures New plus the calibration (a new seed each time, so the cache
// does not help).
func BenchmarkCalibrate(b *testing.B) {
	for range b.N {
		calibrateSeed++
		g, err := synth.New(synth.Spec{Study: synth.NSCLC, SiteSizes: []int{1000, 10}, Seed: calibrateSeed})
		if err != nil {
			b.Fatal(err)
		}
		g.Site(1)
	}
}
