package synth

// SitePolicy is a site's disclosure policy for the demo, with the field names of the node's
// policy file ({"min_cohort":…, "min_cell":…, "bin_days":…, "overlap_guard":…}) so that it
// marshals straight into it.
type SitePolicy struct {
	MinCohort    int  `json:"min_cohort"`
	MinCell      int  `json:"min_cell"`
	BinDays      int  `json:"bin_days"`
	OverlapGuard bool `json:"overlap_guard"`
}

// Federation is a synthetic network: the studies its hospitals hold and each hospital's
// disclosure policy. Every Spec has the same number of sites with sizes in decreasing
// order, so site i is the same hospital (same name) in every study.
type Federation struct {
	Name     string
	Studies  []Spec
	Policies map[string]SitePolicy // by site name
}

// DemoPolicy is the policy of the demo sites that do nothing special.
var DemoPolicy = SitePolicy{MinCohort: 10, MinCell: 5, BinDays: 0, OverlapGuard: true}

// DemoSeed is the seed of the demo federation.
const DemoSeed = 2026

// DemoFederation returns the network the desktop app starts on with no configuration: six
// hospitals (two academic centres, four community hospitals) holding a real-world NSCLC
// cohort of 150–3,000 patients each and smaller TNBC, mesothelioma and myeloma cohorts.
// One site (valley-regional) coarsens survival times to 30-day bins; the smallest
// (harbor-general) is small enough that its subgroups are suppressed.
func DemoFederation() Federation {
	f := Federation{
		Name: "Oncofed demo network (synthetic)",
		Studies: []Spec{
			{Study: NSCLC, SiteSizes: []int{3000, 2100, 1300, 800, 450, 150}, Seed: DemoSeed},
			{Study: TNBC, SiteSizes: []int{900, 700, 400, 250, 150, 60}, Seed: DemoSeed},
			{Study: MPM, SiteSizes: []int{220, 160, 90, 60, 35, 15}, Seed: DemoSeed},
			{Study: MM, SiteSizes: []int{1200, 800, 450, 300, 180, 60}, Seed: DemoSeed},
		},
		Policies: map[string]SitePolicy{},
	}
	for _, name := range f.SiteNames() {
		f.Policies[name] = DemoPolicy
	}
	coarse := DemoPolicy
	coarse.BinDays = 30
	f.Policies["valley-regional"] = coarse
	return f
}

// WithMarkers returns the federation with every study's candidate biomarkers
// (Spec.Markers); the studies' other columns are unchanged.
func (f Federation) WithMarkers() Federation {
	out := f
	out.Studies = append([]Spec(nil), f.Studies...)
	for i := range out.Studies {
		out.Studies[i].Markers = true
	}
	return out
}

// SiteNames returns the hospitals of the federation in site order.
func (f Federation) SiteNames() []string {
	g, err := New(f.Studies[0])
	if err != nil {
		panic("synth: federation: " + err.Error())
	}
	var names []string
	for _, s := range g.Sites() {
		names = append(names, s.Name)
	}
	return names
}
