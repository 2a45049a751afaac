package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
)

// Column holds one variable of a Cohort.
type Column struct {
	// Codes holds a categorical variable: an index into Variable.Levels, −1 when missing.
	Codes []int8
	// Values holds a numeric variable: NaN when missing.
	Values []float64
}

// Cohort is a block of consecutive patients of one site, column by column: what the
// streaming API hands to a benchmark so that a 10,000,000-patient federation never goes
// through CSV. Rows Offset … Offset+Len()−1 of the site.
type Cohort struct {
	Study   string // the study's name on the network
	Site    Site
	Schema  *Schema
	Offset  int
	Columns []Column // aligned with Schema.Variables
	// Endpoints in days; PFSDays[i] ≤ OSDays[i] always.
	OSDays   []float64
	OSEvent  []bool
	PFSDays  []float64
	PFSEvent []bool
	// PFSCause is, for a study whose PFS has competing causes (PFSCauses), 1 for progression,
	// 2 for death before progression and 0 for a censoring; nil otherwise.
	PFSCause []int8
	// FollowUpDays is each patient's potential follow-up: whole days from diagnosis to the
	// data cut (≥ OSDays), so that the diagnosis date is the data cut minus FollowUpDays. It
	// is not a column of the CSV; the OMOP CDM's dates need it (node/omop).
	FollowUpDays []float64
	// OSEntryDays is, at a registry site (Site.Registry), the day after diagnosis on which each
	// patient was enrolled and entered observation of OS (delayed entry: OSDays > OSEntryDays);
	// nil at every other site. The CSV's last column, os_entry_days.
	OSEntryDays []float64
}

// Len returns the number of patients in the block.
func (c *Cohort) Len() int { return len(c.OSDays) }

// ID returns the identifier of row i: the site name and the patient's number in the site,
// so that ids are unique across the federation.
func (c *Cohort) ID(i int) string {
	return string(c.appendID(nil, i))
}

func (c *Cohort) appendID(b []byte, i int) []byte {
	b = append(b, c.Site.Name...)
	b = append(b, '-')
	n := c.Offset + i + 1
	for d := 100000; d > 1 && n < d; d /= 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, int64(n), 10)
}

// Column returns the column of the named variable; it panics for an unknown name.
func (c *Cohort) Column(name string) Column {
	i := c.Schema.Index(name)
	if i < 0 {
		panic("synth: no variable " + name)
	}
	return c.Columns[i]
}

// Level returns the category of a categorical variable at row i, "" when missing.
func (c *Cohort) Level(name string, i int) string {
	v := c.Schema.Variables[c.Schema.Index(name)]
	code := c.Column(name).Codes[i]
	if code < 0 {
		return ""
	}
	return v.Levels[code]
}

// Generator produces the sites of a Spec deterministically. It is safe for concurrent use:
// different sites may be generated in parallel (Site, StreamSite, WriteCSV).
type Generator struct {
	spec      Spec
	model     *model
	schema    *Schema    // the model's, plus the candidate markers when spec.Markers
	markers   *markerSet // nil without spec.Markers
	sites     []Site
	calibrate sync.Once
	scales    scales
}

var calibrations sync.Map // fingerprint string → scales

// New validates spec and lays out its sites. The arms' survival scales are calibrated when
// the first patients are generated (a fraction of a second).
func New(spec Spec) (*Generator, error) {
	s, err := spec.normalized()
	if err != nil {
		return nil, err
	}
	m, _ := modelOf(s.Study)
	g := &Generator{spec: s, model: m, schema: m.schema}
	if s.Markers {
		g.markers = markersOf(s.Study, m, s.NullMarkers)
		g.schema = g.markers.schema
	}
	g.sites = plan(s, m)
	return g, nil
}

// calibrated returns the arms' scales, calibrating on first use. The calibration depends on
// the study, the seed and the site plan; it is cached so that regenerating a spec (tests,
// CSV then columns) is cheap.
func (g *Generator) calibrated() *scales {
	g.calibrate.Do(func() {
		key := fmt.Sprint(g.spec.Study, g.spec.Seed, sizesOf(g.sites), g.spec.Markers)
		if v, ok := calibrations.Load(key); ok {
			g.scales = v.(scales)
			return
		}
		g.scales = g.model.calibrate(g.spec.Seed, g.sites, g.markers)
		calibrations.Store(key, g.scales)
	})
	return &g.scales
}

func sizesOf(sites []Site) []int {
	out := make([]int, len(sites))
	for i, s := range sites {
		out[i] = s.Patients
	}
	return out
}

// Spec returns the normalized spec (defaults filled in).
func (g *Generator) Spec() Spec { return g.spec }

// Schema returns the study's variables.
func (g *Generator) Schema() *Schema { return g.schema }

// Sites returns the site plan: names, kinds, sizes and site effects.
func (g *Generator) Sites() []Site { return append([]Site(nil), g.sites...) }

// Site generates every patient of site i in one Cohort.
func (g *Generator) Site(i int) *Cohort {
	if i < 0 || i >= len(g.sites) {
		panic(fmt.Sprintf("synth: site %d out of range [0,%d)", i, len(g.sites)))
	}
	sg := g.siteGen(i)
	c := g.newCohort(i, g.sites[i].Patients)
	sg.fill(c, g.sites[i].Patients)
	return c
}

// Stream generates the federation site by site in blocks of at most chunk patients
// (chunk ≤ 0: one block per site) and calls fn with each block. The block's slices are
// reused for the next call: copy what must outlive fn. The rows do not depend on chunk.
// Stream stops at the first error fn returns.
func (g *Generator) Stream(chunk int, fn func(*Cohort) error) error {
	for i := range g.sites {
		if err := g.StreamSite(i, chunk, fn); err != nil {
			return err
		}
	}
	return nil
}

// StreamSite is Stream for site i alone. Sites are independent streams of the seed, so
// several goroutines may generate different sites at the same time.
func (g *Generator) StreamSite(i, chunk int, fn func(*Cohort) error) error {
	if i < 0 || i >= len(g.sites) {
		panic(fmt.Sprintf("synth: site %d out of range [0,%d)", i, len(g.sites)))
	}
	total := g.sites[i].Patients
	n := chunk
	if n <= 0 || n > total {
		n = total
	}
	sg := g.siteGen(i)
	c := g.newCohort(i, n)
	for off := 0; off < total; off += n {
		k := min(n, total-off)
		c.Offset = off
		c.resize(k)
		sg.fill(c, k)
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}

func (g *Generator) newCohort(site, n int) *Cohort {
	c := &Cohort{Study: g.spec.Name, Site: g.sites[site], Schema: g.schema}
	c.Columns = make([]Column, len(c.Schema.Variables))
	for j, v := range c.Schema.Variables {
		if v.Categorical() {
			c.Columns[j].Codes = make([]int8, n)
		} else {
			c.Columns[j].Values = make([]float64, n)
		}
	}
	c.OSDays, c.PFSDays = make([]float64, n), make([]float64, n)
	c.OSEvent, c.PFSEvent = make([]bool, n), make([]bool, n)
	if g.model.pfsCauses != nil {
		c.PFSCause = make([]int8, n)
	}
	c.FollowUpDays = make([]float64, n)
	if g.sites[site].Registry {
		c.OSEntryDays = make([]float64, n)
	}
	return c
}

func (c *Cohort) resize(n int) {
	for j := range c.Columns {
		if c.Columns[j].Codes != nil {
			c.Columns[j].Codes = c.Columns[j].Codes[:n]
		} else {
			c.Columns[j].Values = c.Columns[j].Values[:n]
		}
	}
	c.OSDays, c.PFSDays = c.OSDays[:n], c.PFSDays[:n]
	c.OSEvent, c.PFSEvent = c.OSEvent[:n], c.PFSEvent[:n]
	if c.PFSCause != nil {
		c.PFSCause = c.PFSCause[:n]
	}
	c.FollowUpDays = c.FollowUpDays[:n]
	if c.OSEntryDays != nil {
		c.OSEntryDays = c.OSEntryDays[:n]
	}
}

type siteGen struct {
	g       *Generator
	site    *Site
	r       *rand.Rand
	rm      *rand.Rand // the candidate markers' own stream: the study's columns do not change with them
	re      *rand.Rand // a registry's enrolment delays (nil at other sites)
	p       *patient
	yearIdx int
	cut     float64 // data cut as a fractional year
	minFU   float64 // months
}

func (g *Generator) siteGen(i int) *siteGen {
	s := &g.sites[i]
	cut := g.spec.DataCut
	g.calibrated()
	sg := &siteGen{
		g: g, site: s,
		r:       newRand(s.seed[0], s.seed[1]),
		rm:      newRand(s.seed[0], streamMarkers+uint64(i)),
		p:       g.model.newPatient(g.markers.len()),
		yearIdx: g.model.schema.Index("dx_year"),
		cut:     float64(cut.Year()) + float64(cut.YearDay()-1)/365.25,
		minFU:   g.model.minFollowUp,
	}
	if g.spec.MinFollowUp > 0 {
		sg.minFU = g.spec.MinFollowUp
	}
	if s.Registry {
		sg.re = newRand(s.seed[0], streamEntry+uint64(i))
	}
	return sg
}

// fill draws the next n patients of the site into c.
func (sg *siteGen) fill(c *Cohort, n int) {
	m := sg.g.model
	r, p, s := sg.r, sg.p, sg.site
	dropPerMonth := m.dropout / 12
	for i := 0; i < n; i++ {
		// A registry enrols a patient entry days after diagnosis (uniform up to
		// registryEntryDays: ASSUMPTION) if they are still alive and followed then; the others
		// are never seen, so the site draws patients until one is (left truncation).
		entry := 0.0
	draw:
		m.draw(r, s, p)
		sg.g.markers.draw(sg.rm, s, p)
		t := m.sampleLatent(r, p, &sg.g.scales, s.LogHazard)
		// Administrative censoring: uniform accrual over A months, then F months of
		// minimum follow-up to the data cut; loss to follow-up is exponential.
		potential := sg.minFU + m.accrual*r.Float64()
		cens := math.Min(potential, r.ExpFloat64()/dropPerMonth)
		if sg.re != nil {
			entry = math.Floor(sg.re.Float64() * m.registryEntryDays)
			if math.Max(1, math.Round(math.Min(t.os, cens)*daysPerMonth)) <= entry {
				goto draw
			}
			c.OSEntryDays[i] = entry
		}
		if sg.yearIdx >= 0 {
			p.v[sg.yearIdx] = math.Floor(sg.cut - potential/12)
		}
		osM, osE := t.os, true
		if osM > cens {
			osM, osE = cens, false
		}
		pfsM, pfsE := t.pfs, true
		if pfsM > cens {
			pfsM, pfsE = cens, false
		}
		// Whole days, at least one; rounding is monotone so PFS ≤ OS survives it.
		c.OSDays[i] = math.Max(1, math.Round(osM*daysPerMonth))
		c.PFSDays[i] = math.Max(1, math.Round(pfsM*daysPerMonth))
		c.OSEvent[i], c.PFSEvent[i] = osE, pfsE
		if c.PFSCause != nil {
			c.PFSCause[i] = 0
			switch {
			case pfsE && t.pfs < t.os:
				c.PFSCause[i] = 1
			case pfsE:
				c.PFSCause[i] = 2 // death came first (PFS = OS)
			}
		}
		c.FollowUpDays[i] = math.Max(c.OSDays[i], math.Round(potential*daysPerMonth))
		for j := range c.Columns {
			x := p.v[j]
			if codes := c.Columns[j].Codes; codes != nil {
				if math.IsNaN(x) {
					codes[i] = -1
				} else {
					codes[i] = int8(x)
				}
			} else {
				c.Columns[j].Values[i] = x
			}
		}
	}
}
