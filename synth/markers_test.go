package synth

import (
	"math"
	"testing"
)

// Every cancer offers at least 40 candidate markers after its own variables, the study's
// columns do not change when they are added, and some markers are missing at whole sites.
func TestMarkersAddColumnsWithoutChangingTheStudy(t *testing.T) {
	for _, st := range Studies {
		spec := Spec{Study: st, SiteSizes: []int{600, 300, 200, 150}, Seed: 7}
		plain, err := New(spec)
		if err != nil {
			t.Fatal(err)
		}
		spec.Markers = true
		withM, err := New(spec)
		if err != nil {
			t.Fatal(err)
		}
		base := len(plain.Schema().Variables)
		extra := len(withM.Schema().Variables) - base
		if extra < 40 {
			t.Errorf("%s: %d candidate markers, want at least 40", st, extra)
		}
		for i := range plain.Sites() {
			a, b := plain.Site(i), withM.Site(i)
			for j := 0; j < base; j++ {
				ca, cb := a.Columns[j], b.Columns[j]
				for k := 0; k < a.Len(); k++ {
					if ca.Codes != nil && ca.Codes[k] != cb.Codes[k] ||
						ca.Values != nil && !(ca.Values[k] == cb.Values[k] || math.IsNaN(ca.Values[k]) && math.IsNaN(cb.Values[k])) {
						t.Fatalf("%s site %d: column %s row %d changed with markers", st, i, plain.Schema().Variables[j].Name, k)
					}
				}
			}
		}
		// Site 3 is a community hospital with an odd index: no extended panel there.
		c := withM.Site(3)
		if c.Site.Kind != Community {
			t.Fatalf("%s: site 3 is %s", st, c.Site.Kind)
		}
		wholeMissing := 0
		for j := base; j < len(c.Columns); j++ {
			col := c.Columns[j]
			all := true
			for k := 0; k < c.Len(); k++ {
				if col.Codes != nil && col.Codes[k] >= 0 || col.Values != nil && !math.IsNaN(col.Values[k]) {
					all = false
					break
				}
			}
			if all {
				wholeMissing++
			}
		}
		if wholeMissing == 0 {
			t.Errorf("%s: no marker is missing at a whole site", st)
		}
	}
}

// The markers' effects are in the outcomes: under immunotherapy, STK11-mutant NSCLC dies
// sooner (simulated HR 1.7), under other regimens it does not.
func TestMarkersSTK11UnderImmunotherapy(t *testing.T) {
	g, err := New(Spec{Study: NSCLC, Sites: 4, Patients: 40000, Seed: 11, Markers: true})
	if err != nil {
		t.Fatal(err)
	}
	type acc struct{ ev, time float64 }
	var on, off [2]acc // [wt, mut] crude event rates
	err = g.Stream(0, func(c *Cohort) error {
		for i := 0; i < c.Len(); i++ {
			stk := c.Column("stk11").Codes[i]
			if stk < 0 {
				continue
			}
			trt := c.Level("treatment", i)
			a := &off[stk]
			if trt == "pembrolizumab" || trt == "pembro-chemo" {
				a = &on[stk]
			}
			a.time += c.OSDays[i]
			if c.OSEvent[i] {
				a.ev++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rate := func(a acc) float64 { return a.ev / a.time }
	if r := rate(on[1]) / rate(on[0]); r < 1.3 || r > 2.2 {
		t.Errorf("STK11 crude rate ratio under immunotherapy %.2f, want ≈1.7", r)
	}
	if r := rate(off[1]) / rate(off[0]); r < 0.8 || r > 1.25 {
		t.Errorf("STK11 crude rate ratio off immunotherapy %.2f, want ≈1", r)
	}
}
