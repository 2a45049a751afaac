package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// A marker is one candidate biomarker of a Spec with Markers: a variable drawn for each
// patient after the study's covariates and regimen (from its own random stream), with its
// effect on the log hazard. Most candidates have none: a screen over them should find the
// few that do (markers_data.go cites each prevalence and effect; SOURCES.md lists the
// sources).
type marker struct {
	v Variable
	// draw returns the value for patient p: a level index (categorical) or a number. ms gives
	// the values of the markers drawn before this one, by name.
	draw func(r *rand.Rand, s *Site, p *patient, ms markerValues) float64
	// logHR is the marker's effect on the log hazard of OS and PFS (nil: none).
	logHR func(x float64, p *patient, ms markerValues) float64
	// missing is the share of patients with no result (not tested, failed assay).
	missing float64
	// extended markers belong to an extended panel that every other community hospital does
	// not run: missing for all its patients (realistic panels differ by site).
	extended bool
	// panel, when set, makes the marker missing whenever the study's own biomarker panel was
	// not done for the patient (NSCLC: the NGS panel that gives EGFR, ALK and KRAS G12C).
	panel func(p *patient) bool
}

// markerValues reads the values of the markers drawn so far for the current patient.
type markerValues struct {
	set *markerSet
	p   *patient
}

// get returns the value of the named marker (NaN when missing); it panics for a name that
// is not a marker drawn earlier, a mistake in markers_data.go.
func (mv markerValues) get(name string) float64 {
	k, ok := mv.set.index[name]
	if !ok {
		panic("synth: no marker " + name)
	}
	return mv.p.v[mv.set.base+k]
}

// markerSet is the candidate markers of one study and the schema they extend.
type markerSet struct {
	markers []marker
	base    int // the study's own variables come first
	index   map[string]int
	schema  *Schema
}

// markersOf returns the candidate markers of a study, after the study's variables, and nulls
// markers without effect after them (Spec.NullMarkers).
func markersOf(study Study, m *model, nulls int) *markerSet {
	base := m.schema
	var ms []marker
	switch study {
	case NSCLC:
		ms = nsclcMarkers(m)
	case TNBC:
		ms = tnbcMarkers(m)
	case MPM:
		ms = mpmMarkers(m)
	case MM:
		ms = mmMarkers(m)
	default:
		panic("synth: no markers for " + string(study))
	}
	for k := 1; k <= nulls; k++ {
		prev := 0.02 + 0.28*float64((k*7)%15)/14
		ms = append(ms, mutation(fmt.Sprintf("null%03d", k), "padding marker without effect (Spec.NullMarkers)", prev).miss(0.03))
	}
	set := &markerSet{markers: ms, base: len(base.Variables), index: map[string]int{}}
	sch := &Schema{Study: base.Study, Title: base.Title, Variables: slices.Clone(base.Variables)}
	for k, m := range ms {
		if base.Index(m.v.Name) >= 0 {
			panic(fmt.Sprintf("synth: marker %s is already a variable of %s", m.v.Name, study))
		}
		if _, dup := set.index[m.v.Name]; dup {
			panic(fmt.Sprintf("synth: marker %s listed twice for %s", m.v.Name, study))
		}
		set.index[m.v.Name] = k
		sch.Variables = append(sch.Variables, m.v)
	}
	set.schema = sch
	return set
}

// len returns the number of markers (0 for a nil set).
func (set *markerSet) len() int {
	if set == nil {
		return 0
	}
	return len(set.markers)
}

// draw fills the markers of patient p (after the study's draw) and adds their effects to its
// log hazards. A nil set draws nothing. A missing value still had a true value, which drives
// the hazard: results are missing at random, as for the study's own variables.
func (set *markerSet) draw(r *rand.Rand, s *Site, p *patient) {
	if set == nil {
		return
	}
	noExtended := s.Kind == Community && s.Index%2 == 1
	mv := markerValues{set: set, p: p}
	for k := range set.markers {
		m := &set.markers[k]
		p.v[set.base+k] = m.draw(r, s, p, mv)
	}
	eta := 0.0
	for k := range set.markers {
		m := &set.markers[k]
		if m.logHR != nil {
			eta += m.logHR(p.v[set.base+k], p, mv)
		}
	}
	p.etaOS += eta
	p.etaPFS += eta
	// Missingness last, so that effects and later draws saw the true values.
	for k := range set.markers {
		m := &set.markers[k]
		u := r.Float64()
		if u < m.missing || (m.extended && noExtended) || (m.panel != nil && !m.panel(p)) {
			p.v[set.base+k] = math.NaN()
		}
	}
}

// Constructors of the common kinds of marker.

// mutation is a binary marker with levels wt, mut (R's model matrix names its column
// NAME+"mut") present with probability prev.
func mutation(name, doc string, prev float64) marker {
	return marker{
		v:    cat(name, doc, "wt", "mut"),
		draw: func(r *rand.Rand, _ *Site, _ *patient, _ markerValues) float64 { return bern(r, prev) },
	}
}

// present is a binary marker with levels no, yes, present with probability prev.
func present(name, doc string, prev float64) marker {
	return marker{
		v:    cat(name, doc, "no", "yes"),
		draw: func(r *rand.Rand, _ *Site, _ *patient, _ markerValues) float64 { return bern(r, prev) },
	}
}

// score is a numeric marker drawn N(0, 1) and clamped to ±6: an expression score in
// standard units, without effect.
func score(name, doc string) marker {
	return marker{
		v: num(name, "SD", doc, -6, 6),
		draw: func(r *rand.Rand, _ *Site, _ *patient, _ markerValues) float64 {
			return math.Max(-6, math.Min(6, math.Round(r.NormFloat64()*1000)/1000))
		},
	}
}

// hr makes a binary marker prognostic: log hazard ratio log(h) when positive (level 1).
func (m marker) hr(h float64) marker {
	lh := math.Log(h)
	m.logHR = func(x float64, _ *patient, _ markerValues) float64 {
		if x == 1 {
			return lh
		}
		return 0
	}
	return m
}

// hrOn makes a binary marker predictive: log hazard ratio log(h) when positive and the
// patient's regimen is one of arms (indexes into the model's arms).
func (m marker) hrOn(h float64, arms ...int) marker {
	lh := math.Log(h)
	m.logHR = func(x float64, p *patient, _ markerValues) float64 {
		if x == 1 && slices.Contains(arms, p.arm) {
			return lh
		}
		return 0
	}
	return m
}

func (m marker) miss(share float64) marker { m.missing = share; return m }
func (m marker) ext() marker               { m.extended = true; return m }
func (m marker) onPanel(f func(*patient) bool) marker {
	m.panel = f
	return m
}

// gene is one entry of a table of panel genes given no effect: name and prevalence.
type gene struct {
	name string
	prev float64
}

// nullGenes returns a mutation marker per gene, without effect, on the extended panel when
// extended is set.
func nullGenes(study string, extended bool, genes ...gene) []marker {
	out := make([]marker, 0, len(genes))
	for _, g := range genes {
		m := mutation(g.name, g.name+" mutation ("+study+" panel; no simulated effect)", g.prev).miss(0.03)
		if extended {
			m = m.ext()
		}
		out = append(out, m)
	}
	return out
}

// nullScores returns expression scores without effect.
func nullScores(names ...string) []marker {
	out := make([]marker, 0, len(names))
	for _, n := range names {
		out = append(out, score("score_"+n, n+" expression score, standardised (no simulated effect)").miss(0.05).ext())
	}
	return out
}
