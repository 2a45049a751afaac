package synth_test

import (
	"math"
	"sort"
	"testing"

	"github.com/oncofed/oncofed/synth"
)

// tally counts the levels of categorical variables among patients who pass a condition.
type tally struct {
	n      map[string]int            // condition name → patients
	counts map[string]map[string]int // condition name → level → count
}

func newTally() *tally { return &tally{n: map[string]int{}, counts: map[string]map[string]int{}} }

func (t *tally) add(cond, level string) {
	t.n[cond]++
	if t.counts[cond] == nil {
		t.counts[cond] = map[string]int{}
	}
	t.counts[cond][level]++
}

// check compares the share of level under cond with p: |p̂ − p| ≤ 4·SE.
func (tl *tally) check(t *testing.T, cond, level string, p float64, source string) {
	t.Helper()
	n := tl.n[cond]
	if n == 0 {
		t.Errorf("%s: no patients", cond)
		return
	}
	got := float64(tl.counts[cond][level]) / float64(n)
	se := math.Sqrt(p * (1 - p) / float64(n))
	if math.Abs(got-p) > 4*se+1e-9 {
		t.Errorf("%s: %s %.4f, want %.4f ± %.4f (%s)", cond, level, got, p, 4*se, source)
	}
}

func stream(t *testing.T, spec synth.Spec, fn func(c *synth.Cohort, i int)) {
	t.Helper()
	if testing.Short() || raceEnabled {
		spec.Patients /= 4
	}
	g := mustNew(t, spec)
	if err := g.Stream(20000, func(c *synth.Cohort) error {
		for i := 0; i < c.Len(); i++ {
			fn(c, i)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// Each expected proportion below is the generator's sourced input (see the comment at its
// use in the study's file); the tests check the generator reproduces them within 4 SE.

func TestMarginalsNSCLC(t *testing.T) {
	tl := newTally()
	stream(t, synth.Spec{Study: synth.NSCLC, Sites: 8, Patients: 200000, Seed: 21}, func(c *synth.Cohort, i int) {
		tl.add("all/sex", c.Level("sex", i))
		tl.add("all/stage", c.Level("stage", i))
		ecog := "present"
		if math.IsNaN(c.Column("ecog").Values[i]) {
			ecog = "missing"
		}
		tl.add("all/ecog", ecog)
		wl := "present"
		if math.IsNaN(c.Column("weight_loss_kg").Values[i]) {
			wl = "missing"
		}
		tl.add("all/weight_loss", wl)
		egfr, alk := c.Level("egfr", i), c.Level("alk", i)
		if egfr == "wild-type" && alk == "negative" && c.Level("pdl1_tps", i) != "" {
			tl.add("driver-negative/pdl1", c.Level("pdl1_tps", i))
		}
		if egfr != "" && c.Level("histology", i) != "squamous" && c.Level("race", i) != "asian" {
			tl.add("tested non-squamous non-Asian "+c.Level("sex", i)+"/egfr", egfr)
		}
	})
	tl.check(t, "all/sex", "male", 0.53, "SEER-NPCR")
	for _, s := range []struct {
		l string
		p float64
	}{{"IIIB", 0.08}, {"IIIC", 0.04}, {"IVA", 0.38}, {"IVB", 0.50}} {
		tl.check(t, "all/stage", s.l, s.p, "ASSUMPTION stage mix")
	}
	tl.check(t, "all/ecog", "missing", 0.03, "brief")
	tl.check(t, "all/weight_loss", "missing", 0.061, "NCCTG lung 14/228")
	tl.check(t, "driver-negative/pdl1", "<1", 0.47, "EXPRESS")
	tl.check(t, "driver-negative/pdl1", "1-49", 0.26, "EXPRESS")
	tl.check(t, "driver-negative/pdl1", ">=50", 0.27, "EXPRESS")
	// EGFR 14.1% in Europe, women:men 43.7:24.0 (Zhang 2016), ×1.3 in non-squamous.
	tl.check(t, "tested non-squamous non-Asian female/egfr", "mutant", 1.3*0.141*1.82/(0.47*1.82+0.53), "Zhang 2016")
	tl.check(t, "tested non-squamous non-Asian male/egfr", "mutant", 1.3*0.141/(0.47*1.82+0.53), "Zhang 2016")
}

func TestMarginalsTNBC(t *testing.T) {
	tl := newTally()
	stream(t, synth.Spec{Study: synth.TNBC, Sites: 6, Patients: 200000, Seed: 22}, func(c *synth.Cohort, i int) {
		tl.add("all/stage", c.Level("stage", i))
		if b := c.Level("brca", i); b != "" {
			tl.add("tested/brca", b)
		}
		if c.Level("stage", i) == "IV" && c.Level("pdl1_cps", i) != "" {
			tl.add("metastatic tested/cps", c.Level("pdl1_cps", i))
		}
		tl.add("all/sex", c.Level("sex", i))
	})
	for _, s := range []struct {
		l string
		p float64
	}{{"I", 0.35}, {"II", 0.40}, {"III", 0.17}, {"IV", 0.08}} {
		tl.check(t, "all/stage", s.l, s.p, "ASSUMPTION stage split")
	}
	tl.check(t, "tested/brca", "gBRCA1", 0.085, "Couch JCO 2015")
	tl.check(t, "tested/brca", "gBRCA2", 0.027, "Couch JCO 2015")
	tl.check(t, "metastatic tested/cps", ">=10", 0.38, "KEYNOTE-355 323/847")
	tl.check(t, "all/sex", "female", 0.995, "≈100% female")
}

func TestMarginalsMPM(t *testing.T) {
	tl := newTally()
	stream(t, synth.Spec{Study: synth.MPM, Sites: 6, Patients: 200000, Seed: 23}, func(c *synth.Cohort, i int) {
		tl.add("all/sex", c.Level("sex", i))
		h := c.Level("histology", i)
		tl.add("all/histology", h)
		if b := c.Level("bap1", i); b != "" {
			tl.add(h+" tested/bap1", b)
		}
	})
	tl.check(t, "all/sex", "male", 0.732, "NCDB, Bou-Samra 2023")
	tl.check(t, "all/histology", "epithelioid", 0.69, "NCDB, Verma 2018")
	tl.check(t, "all/histology", "sarcomatoid", 0.18, "NCDB, Verma 2018")
	tl.check(t, "all/histology", "biphasic", 0.13, "NCDB, Verma 2018")
	tl.check(t, "epithelioid tested/bap1", "lost", 0.55, "Erber 2019")
	tl.check(t, "sarcomatoid tested/bap1", "lost", 0.42, "Erber 2019")
	tl.check(t, "biphasic tested/bap1", "lost", 0.64, "Erber 2019")
}

func TestMarginalsMM(t *testing.T) {
	tl := newTally()
	var ages []float64
	stream(t, synth.Spec{Study: synth.MM, Sites: 6, Patients: 200000, Seed: 24}, func(c *synth.Cohort, i int) {
		tl.add("all/sex", c.Level("sex", i))
		tl.add("all/iss", c.Level("iss", i))
		ages = append(ages, c.Column("age").Values[i])
		if c.Level("fish_risk", i) != "" {
			tl.add("tested/del17p", c.Level("del17p", i))
			tl.add("tested/t4_14", c.Level("t4_14", i))
			tl.add("tested/t14_16", c.Level("t14_16", i))
			tl.add("tested/gain1q", c.Level("gain1q", i))
		}
		if r := c.Level("r_iss", i); r != "" {
			tl.add("known/r_iss", r)
		}
	})
	tl.check(t, "all/sex", "male", 0.547, "NCDB, Go JCO 2017")
	tl.check(t, "all/iss", "I", 0.35, "HARMONY")
	tl.check(t, "all/iss", "II", 0.40, "HARMONY")
	tl.check(t, "all/iss", "III", 0.25, "HARMONY")
	tl.check(t, "tested/del17p", "yes", 0.105, "Fonseca 2003")
	tl.check(t, "tested/t4_14", "yes", 0.12, "Fonseca 2003")
	tl.check(t, "tested/t14_16", "yes", 0.04, "Fonseca 2003")
	tl.check(t, "tested/gain1q", "yes", 0.28, "Mayo 2020")
	// R-ISS follows from ISS, FISH and LDH; Palumbo JCO 2015 reports 28/62/10%. Derived, so
	// a looser check: within 5 points.
	for _, r := range []struct {
		l string
		p float64
	}{{"I", 0.28}, {"II", 0.62}, {"III", 0.10}} {
		got := float64(tl.counts["known/r_iss"][r.l]) / float64(tl.n["known/r_iss"])
		if math.Abs(got-r.p) > 0.05 {
			t.Errorf("R-ISS %s: %.3f, Palumbo 2015 %.2f ± 0.05", r.l, got, r.p)
		}
	}
	sort.Float64s(ages)
	if med := ages[len(ages)/2]; math.Abs(med-69) > 0.5 {
		t.Errorf("median age %v, SEER 69", med)
	}
}
