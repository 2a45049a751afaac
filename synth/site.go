package synth

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"time"
)

// Spec describes a synthetic federation for one study: how many hospitals, how many
// patients, the seed and the data cut. The same Spec always yields the same bytes.
type Spec struct {
	Study Study
	// Name is the study's name on the network; empty means string(Study).
	Name string
	// Sites is the number of hospitals; ignored when SiteSizes is set.
	Sites int
	// Patients is the total over all sites, split unequally: a few big academic centres
	// and smaller community hospitals. Ignored when SiteSizes is set.
	Patients int
	// SiteSizes optionally fixes the number of patients of each site (in any order); the
	// larger quarter of the sites are the academic centres. List sizes in decreasing order
	// in every study of a federation so that site i is the same hospital in each.
	SiteSizes []int
	Seed      uint64
	// DataCut is the administrative censoring date; zero means DefaultDataCut.
	DataCut time.Time
	// MinFollowUp overrides the study's minimum follow-up in months (patients accrue
	// uniformly over the study's accrual period before it); 0 keeps the default, which is
	// tuned to the trials' reported median follow-up. Tests lengthen it to see medians
	// beyond the default follow-up.
	MinFollowUp float64
	// Markers adds the study's candidate biomarkers (markers.go): ≥40 binary, categorical and
	// numeric markers per cancer, mostly without effect, a few prognostic or predictive as
	// published, some not run at some sites. They come from a stream of their own, so the
	// study's other columns are the same with or without them; outcomes change by the
	// markers' effects.
	Markers bool `json:",omitempty"`
	// NullMarkers adds, with Markers, that many further candidate markers without effect after
	// the study's own: binary mutations null001, null002, … with prevalences cycling over
	// 2–30% (ASSUMPTION: the range of the study's panel genes) and 3% missing. Padding for
	// timing runs that want more markers than a study declares (make bench's 100-marker
	// screen).
	NullMarkers int `json:",omitempty"`
}

// DefaultDataCut is the data cut used when a Spec leaves it zero.
var DefaultDataCut = time.Date(2026, time.June, 30, 0, 0, 0, 0, time.UTC)

// SiteKind is the type of hospital, which drives its size, its biomarker testing and its
// outcome (hospital-volume hazard ratios).
type SiteKind string

// The two kinds of hospital.
const (
	Academic  SiteKind = "academic"  // a high-volume university or cancer centre
	Community SiteKind = "community" // a general, community or regional hospital
)

// Site is one synthetic hospital of a Spec.
type Site struct {
	Index    int
	Name     string // realistic but fictitious, e.g. "north-academic", "riverside-general"
	Kind     SiteKind
	Patients int
	// VolumeQuartile ranks the site by size among the spec's sites: 4 is the busiest
	// quarter, 1 the smallest (the quartiles of the NCDB volume studies).
	VolumeQuartile int
	// LogHazard is the site effect added to every patient's log hazard: the published
	// hospital-volume log hazard ratio plus a log-normal frailty.
	LogHazard float64
	// AsianShare is the fraction of patients of East Asian ancestry (drives EGFR and KRAS
	// prevalence in NSCLC).
	AsianShare float64
	// Testing is the probability that a biomarker was tested (a missing value otherwise).
	Testing float64
	// Registry marks a registry that enrols patients some days after diagnosis: its patients
	// enter observation of OS late (Cohort.OSEntryDays; left truncation: a patient who died
	// before enrolment is never seen). One per study whose model has a registry (myeloma).
	Registry bool `json:",omitempty"`
	seed     [2]uint64
}

// normalized returns the spec with defaults filled in, or an error for bad values.
func (s Spec) normalized() (Spec, error) {
	if _, err := modelOf(s.Study); err != nil {
		return s, err
	}
	if s.Name == "" {
		s.Name = string(s.Study)
	}
	if s.NullMarkers < 0 || (s.NullMarkers > 0 && !s.Markers) || s.NullMarkers > 999 {
		return s, fmt.Errorf("synth: %d null markers: want 0 to 999, with Markers", s.NullMarkers)
	}
	if s.MinFollowUp < 0 || math.IsNaN(s.MinFollowUp) {
		return s, fmt.Errorf("synth: minimum follow-up %v months is negative", s.MinFollowUp)
	}
	if s.DataCut.IsZero() {
		s.DataCut = DefaultDataCut
	}
	if len(s.SiteSizes) > 0 {
		s.Sites = len(s.SiteSizes)
		s.Patients = 0
		for i, n := range s.SiteSizes {
			if n < 1 {
				return s, fmt.Errorf("synth: site %d has %d patients; want at least 1", i, n)
			}
			s.Patients += n
		}
		return s, nil
	}
	if s.Sites < 1 {
		return s, errors.New("synth: a spec needs at least one site")
	}
	if s.Patients < s.Sites {
		return s, fmt.Errorf("synth: %d patients cannot fill %d sites", s.Patients, s.Sites)
	}
	return s, nil
}

var academicNames = []string{
	"north-academic", "central-university", "st-elisabeth-university", "westbrook-academic",
	"eastgate-university", "kingsbridge-academic",
}

var communityNames = []string{
	"riverside-general", "lakeside-community", "valley-regional", "harbor-general",
	"meadowbrook-community", "summit-regional", "oakwood-general", "bayview-community",
	"pinecrest-regional", "elmfield-general", "stonebridge-community", "millbrook-regional",
}

func siteName(kind SiteKind, i int) string {
	names := communityNames
	if kind == Academic {
		names = academicNames
	}
	name := names[i%len(names)]
	if i >= len(names) {
		name += "-" + strconv.Itoa(i/len(names)+1)
	}
	return name
}

// splitmix64 derives independent stream seeds from one seed (Steele et al. 2014).
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func newRand(seed uint64, stream uint64) *rand.Rand {
	a := splitmix64(seed ^ splitmix64(stream))
	return rand.New(rand.NewPCG(a, splitmix64(a)))
}

// Streams of the seed: one for the site plan, one for calibration, one per site.
const (
	streamPlan        = 1
	streamCalibration = 2
	streamSite        = 1000
	streamMarkers     = 1 << 32 // + site index
	streamEntry       = 1 << 33 // + site index: a registry's enrolment delays
)

// frailtySD is the standard deviation of the log-normal site frailty: σ ≈ 0.08–0.10 gives
// site hazard ratios of about 0.82–1.22 (95%), matching the published volume HRs
// (SYNTH.md §5, site heterogeneity).
const frailtySD = 0.08

// plan lays out the sites of a normalized spec.
func plan(s Spec, m *model) []Site {
	r := newRand(s.Seed, streamPlan)
	n := s.Sites
	sizes := s.SiteSizes
	if len(sizes) == 0 {
		// A quarter of the sites are academic centres with 3–5 times the patients of a
		// community hospital: the busiest NCDB quartile treats ≈60% of myeloma patients
		// (Go JCO 2017).
		w := make([]float64, n)
		nAcad := academicCount(n)
		for i := range w {
			if i < nAcad {
				w[i] = 3 + 2*r.Float64()
			} else {
				w[i] = 0.4 + 1.1*r.Float64()
			}
		}
		sizes = apportion(s.Patients, w)
	}
	order := make([]int, n) // site indexes from largest to smallest
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return sizes[order[a]] > sizes[order[b]] })
	nAcad := academicCount(n)
	sites := make([]Site, n)
	nextAcad, nextComm := 0, 0
	for rank, i := range order {
		st := &sites[i]
		st.Index = i
		st.Patients = sizes[i]
		st.VolumeQuartile = 4 - rank*4/n
		if rank < nAcad {
			st.Kind = Academic
		} else {
			st.Kind = Community
		}
	}
	// Names follow site order so that the same index is the same hospital in every study
	// of a federation.
	for i := range sites {
		st := &sites[i]
		if st.Kind == Academic {
			st.Name = siteName(Academic, nextAcad)
			nextAcad++
		} else {
			st.Name = siteName(Community, nextComm)
			nextComm++
		}
		// One site in five serves a large East Asian community: EGFR is 38.4% in China vs
		// 14.1% in Europe (Zhang Oncotarget 2016).
		if r.Float64() < 0.2 {
			st.AsianShare = 0.35 + 0.25*r.Float64()
		} else {
			st.AsianShare = 0.02 + 0.06*r.Float64()
		}
		// Biomarker testing: ASSUMPTION, academic centres test almost everyone, community
		// hospitals miss more (SYNTH.md §5: vary biomarker testing by site).
		if st.Kind == Academic {
			st.Testing = 0.93 + 0.05*r.Float64()
		} else {
			st.Testing = 0.75 + 0.15*r.Float64()
		}
		st.LogHazard = math.Log(m.volumeHR[st.VolumeQuartile-1]) + frailtySD*r.NormFloat64()
		if st.Kind == Community {
			st.LogHazard += math.Log(m.communityHR)
		}
		st.seed = [2]uint64{s.Seed, streamSite + uint64(i)}
	}
	// The registry is the smallest community hospital (the last in size order), drawn from
	// no stream so that every other site stays as it was.
	if m.registryEntryDays > 0 && n > 1 && sites[order[n-1]].Kind == Community {
		sites[order[n-1]].Registry = true
	}
	return sites
}

func academicCount(n int) int {
	a := (n + 2) / 4
	if a < 1 {
		a = 1
	}
	return a
}

// apportion splits total into len(w) positive integers proportional to w (largest
// remainder), each at least 1.
func apportion(total int, w []float64) []int {
	n := len(w)
	sum := 0.0
	for _, x := range w {
		sum += x
	}
	out := make([]int, n)
	rest := total - n // everyone gets one first
	type rem struct {
		i int
		f float64
	}
	rems := make([]rem, n)
	used := 0
	for i, x := range w {
		q := float64(rest) * x / sum
		out[i] = 1 + int(q)
		used += int(q)
		rems[i] = rem{i, q - math.Floor(q)}
	}
	sort.SliceStable(rems, func(a, b int) bool { return rems[a].f > rems[b].f })
	for k := 0; used < rest; k++ {
		out[rems[k%n].i]++
		used++
	}
	return out
}
