package app_test

import (
	"runtime"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
)

// BenchmarkDPCoxNoiseSD times the noise SD of a dp_tables Cox fit of lung by sex and age (three
// sites, 30-day bins): DPCoxNoiseReleases copies drawn with the exact sampler and refitted.
func BenchmarkDPCoxNoiseSD(b *testing.B) {
	replies := dpLungReplies(loadLung(b), 30, 18, 100)
	for b.Loop() {
		if sd := app.DPCoxNoiseSD(replies, 2, analysis.Efron); len(sd) != 2 {
			b.Fatalf("noise SD %v", sd)
		}
	}
}

// BenchmarkDPCoxNoiseCov times the screen's noise covariance: 200 fast-drawn copies refitted.
func BenchmarkDPCoxNoiseCov(b *testing.B) {
	replies := dpLungReplies(loadLung(b), 30, 18, 100)
	for b.Loop() {
		if cov := app.DPCoxNoiseCov(replies, 2, analysis.Efron, 200); len(cov) != 4 {
			b.Fatalf("noise covariance %v", cov)
		}
	}
}

// The refits on re-noised tables run on every core, each copy drawn from its own seed: the noise
// SD and covariance are bit for bit those of one core drawing and refitting the copies in turn.
func TestDPCoxNoiseRefitsOnCoresAsInTurn(t *testing.T) {
	replies := dpLungReplies(loadLung(t), 30, 18, 100)
	compute := func(procs int) (sd, cov []float64) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		return app.DPCoxNoiseSD(replies, 2, analysis.Efron), app.DPCoxNoiseCov(replies, 2, analysis.Efron, 40)
	}
	sd1, cov1 := compute(1)
	if len(sd1) != 2 || len(cov1) != 4 || !(sd1[0] > 0) || !(cov1[3] > 0) {
		t.Fatalf("noise SD %v, covariance %v", sd1, cov1)
	}
	for _, procs := range []int{2, 4, 7} {
		sd, cov := compute(procs)
		if !analysis.EqualBits(sd, sd1) || !analysis.EqualBits(cov, cov1) {
			t.Errorf("GOMAXPROCS %d: noise SD %v, covariance %v; in turn %v, %v", procs, sd, cov, sd1, cov1)
		}
	}
}
