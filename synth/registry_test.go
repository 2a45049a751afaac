package synth_test

import (
	"testing"

	"github.com/oncofed/oncofed/synth"
)

// The demo network has one registry, in the myeloma study: its smallest community hospital,
// whose patients enter OS observation 0–59 days after diagnosis and were alive and followed
// then (left truncation); no other site of any study records entries.
func TestDemoRegistry(t *testing.T) {
	registries := 0
	for _, spec := range synth.DemoFederation().Studies {
		g := mustNew(t, spec)
		for i, s := range g.Sites() {
			c := g.Site(i)
			if !s.Registry {
				if c.OSEntryDays != nil || g.ImportSpec(i).Entry != nil {
					t.Errorf("%s/%s: entries at a site that is not a registry", spec.Study, s.Name)
				}
				continue
			}
			registries++
			if spec.Study != synth.MM || s.Kind != synth.Community || g.ImportSpec(i).Entry["OS"] != synth.EntryColumn {
				t.Errorf("%s/%s (%s) is the registry; import %+v", spec.Study, s.Name, s.Kind, g.ImportSpec(i))
			}
			late := 0
			for k, e := range c.OSEntryDays {
				if e < 0 || e >= 60 || e >= c.OSDays[k] {
					t.Fatalf("%s patient %d: entry %v, OS %v", s.Name, k, e, c.OSDays[k])
				}
				if e > 0 {
					late++
				}
			}
			if late < len(c.OSEntryDays)/2 {
				t.Errorf("%s: %d of %d patients entered late", s.Name, late, len(c.OSEntryDays))
			}
		}
	}
	if registries != 1 {
		t.Errorf("%d registries in the demo network, want 1", registries)
	}
}
