package synth

import (
	"math"
	"math/rand/v2"
	"sort"
)

// daysPerMonth converts the months of the literature into days (365.25 / 12).
const daysPerMonth = 30.4375

// arm is one first-line regimen (or regimen within a subgroup) with its published
// outcome. Survival is Weibull, S(t) = exp(−(t/λ)^k · e^η), with η the patient's log
// hazard ratio from covariates and site. λ is calibrated (see calibrate) so that the
// arm's population median equals the published median whatever the case mix and site
// effects: covariates redistribute risk inside an arm without moving its median.
type arm struct {
	key                 string // unique within the model, e.g. "pembro-chemo"
	osMedian, osShape   float64
	pfsMedian, pfsShape float64
	// maxECOG is the trial's performance-status limit: the arm is calibrated on its
	// patients with ECOG ≤ maxECOG, the population the published median describes. Frailer
	// real-world patients on the same regimen then do worse than the trial, as they do.
	maxECOG float64
	// cured arms (early TNBC) follow a mixture-cure model for event-free survival: a
	// patient is cured with the probability set by draw (by pCR); otherwise EFS is
	// Weibull(pfsMedian, pfsShape) and OS = EFS + post-recurrence survival
	// Weibull(osMedian, osShape). They are not calibrated.
	cured bool
}

// model is a study generator: its schema, arms, site effects, follow-up and a draw
// function that fills one patient's covariates.
type model struct {
	schema *Schema
	arms   []arm
	// volumeHR holds the hazard ratio of hospital-volume quartiles Q1..Q4 (Q4 = 1).
	volumeHR [4]float64
	// communityHR multiplies the hazard of community hospitals.
	communityHR float64
	// Uniform accrual over accrual months, then minFollowUp months to the data cut
	// (SYNTH.md §5, censoring); loss to follow-up at dropout per year.
	accrual, minFollowUp, dropout float64
	// rho is the correlation of the Gaussian copula joining the latent progression and
	// death times (ASSUMPTION: 0.5–0.7, SYNTH.md §5).
	rho float64
	// pfsCauses labels the competing causes of PFS for studies that report them (myeloma,
	// mesothelioma): 1 = progression, 2 = death before progression. Nil: PFS has one event.
	pfsCauses []string
	// registryEntryDays > 0 makes the study's smallest community site a registry that enrols
	// patients up to that many days after diagnosis (Site.Registry; delayed entry, issue 17).
	registryEntryDays float64
	// draw fills p.v (categorical: level index; NaN: missing), p.arm, p.etaOS, p.etaPFS
	// and, for cured arms, p.cure.
	draw func(r *rand.Rand, s *Site, p *patient)
}

type patient struct {
	v             []float64
	arm           int
	ecog          float64 // true performance status (the recorded one may be missing)
	etaOS, etaPFS float64
	cure          float64
}

// newPatient returns a patient with room for the study's variables and extra more (the
// candidate markers of a Spec with Markers).
func (m *model) newPatient(extra int) *patient {
	return &patient{v: make([]float64, len(m.schema.Variables)+extra)}
}

func (m *model) armIndex(key string) int {
	for i, a := range m.arms {
		if a.key == key {
			return i
		}
	}
	panic("synth: no arm " + key)
}

// Helpers for draw functions.

// pick returns i with probability p[i] (p sums to 1; the last index absorbs rounding).
func pick(r *rand.Rand, p ...float64) float64 {
	u := r.Float64()
	for i, pi := range p {
		if u < pi {
			return float64(i)
		}
		u -= pi
	}
	return float64(len(p) - 1)
}

// bern returns 1 with probability p, else 0.
func bern(r *rand.Rand, p float64) float64 {
	if r.Float64() < p {
		return 1
	}
	return 0
}

// normalTrunc draws N(mean, sd) rounded to an integer and clamped to [lo, hi].
func normalTrunc(r *rand.Rand, mean, sd, lo, hi float64) float64 {
	x := math.Round(mean + sd*r.NormFloat64())
	return math.Max(lo, math.Min(hi, x))
}

// missing returns NaN with probability p, else x.
func missing(r *rand.Rand, p, x float64) float64 {
	if r.Float64() < p {
		return math.NaN()
	}
	return x
}

// is reports whether a drawn value equals a level index (false when missing).
func is(x float64, level int) bool { return x == float64(level) }

func phi(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

// latent holds the uncensored event times (months) of one patient.
type latent struct{ os, pfs float64 }

// scales are the calibrated Weibull scales λ per arm.
type scales struct{ os, pfs []float64 }

// sampleLatent draws the latent OS and PFS of a patient in months with the Gaussian
// copula: U₁ = Φ(Z₁), U₂ = Φ(ρZ₁ + √(1−ρ²)Z₂), T = λ·(−ln U / e^η)^(1/k) (SYNTH.md §5),
// PFS = min(time to progression, OS) so that PFS ≤ OS.
func (m *model) sampleLatent(r *rand.Rand, p *patient, sc *scales, siteEta float64) latent {
	a := &m.arms[p.arm]
	z1, z2 := r.NormFloat64(), r.NormFloat64()
	u1 := phi(z1)
	u2 := phi(m.rho*z1 + math.Sqrt(1-m.rho*m.rho)*z2)
	eo, ep := p.etaOS+siteEta, p.etaPFS+siteEta
	if a.cured {
		if r.Float64() < p.cure {
			return latent{math.Inf(1), math.Inf(1)}
		}
		efs := weibullTime(sc.pfs[p.arm], a.pfsShape, u2, ep)
		prs := weibullTime(sc.os[p.arm], a.osShape, u1, eo)
		return latent{efs + prs, efs}
	}
	os := weibullTime(sc.os[p.arm], a.osShape, u1, eo)
	ttp := weibullTime(sc.pfs[p.arm], a.pfsShape, u2, ep)
	return latent{os, math.Min(os, ttp)}
}

// weibullTime inverts S(t) = exp(−(t/λ)^k e^η) at u: t = λ·(−ln u / e^η)^(1/k), written
// with one exp and two logs instead of a pow.
func weibullTime(lambda, k, u, eta float64) float64 {
	return lambda * math.Exp((math.Log(-math.Log(u))-eta)/k)
}

// weibullScale returns λ = median / (ln 2)^(1/k).
func weibullScale(median, k float64) float64 { return median / math.Pow(math.Ln2, 1/k) }

// Calibration sizes: calMin patients per arm, at most calMaxDraws patients drawn in all
// (so a rare arm, e.g. crizotinib in ALK-positive NSCLC, may get fewer); calReps latent
// draws per calibration patient for PFS.
const (
	calMin      = 8000
	calMaxDraws = 400_000
	calReps     = 6
)

// calibrate sets each non-cured arm's Weibull scales so that, over the spec's pooled
// trial-eligible population (ECOG ≤ the arm's maxECOG; sites weighted by size, with their
// site effects), the arm's median OS equals its published median in expectation (up to the
// sampling of the calibration patients' covariates), and its median PFS (after taking the
// minimum with OS) equals the published median up to Monte Carlo error.
//
// OS: solve (1/n) Σᵢ exp(−(m/λ)^k e^{ηᵢ}) = 1/2 for λ by bisection on x = (m/λ)^k.
// PFS: bisection on λ_p of the empirical median of min(λ_p·Dᵢ, OSᵢ) over calReps
// replicates per patient.
//
// markers, when not nil, draws the candidate markers after the study's covariates (their
// effects move η), so that a federation with markers is calibrated on its own patients.
func (m *model) calibrate(seed uint64, sites []Site, markers *markerSet) scales {
	sc := scales{os: make([]float64, len(m.arms)), pfs: make([]float64, len(m.arms))}
	for i, a := range m.arms {
		sc.os[i] = weibullScale(a.osMedian, a.osShape)
		sc.pfs[i] = weibullScale(a.pfsMedian, a.pfsShape)
	}
	r := newRand(seed, streamCalibration)
	cum := make([]float64, len(sites))
	total := 0.0
	for i, s := range sites {
		total += float64(s.Patients)
		cum[i] = total
	}
	type draw struct{ eo, ep float64 }
	byArm := make([][]draw, len(m.arms))
	need := 0
	for _, a := range m.arms {
		if !a.cured {
			need++
		}
	}
	p := m.newPatient(markers.len())
	for n := 0; n < calMaxDraws && need > 0; n++ {
		u := r.Float64() * total
		si := sort.SearchFloat64s(cum, u)
		if si == len(sites) {
			si--
		}
		s := &sites[si]
		m.draw(r, s, p)
		markers.draw(r, s, p)
		if a := &m.arms[p.arm]; a.cured || p.ecog > a.maxECOG {
			continue
		}
		d := byArm[p.arm]
		if len(d) < calMin {
			byArm[p.arm] = append(d, draw{p.etaOS + s.LogHazard, p.etaPFS + s.LogHazard})
			if len(d)+1 == calMin {
				need--
			}
		}
	}
	os := make([]float64, calMin*calReps)
	dp := make([]float64, calMin*calReps)
	for ai, a := range m.arms {
		d := byArm[ai]
		if a.cured || len(d) == 0 {
			continue
		}
		// OS: f(x) = mean exp(−x e^η) decreases in x; find f(x) = 1/2.
		lo, hi := 1e-6, 1e6
		for it := 0; it < 50; it++ {
			x := math.Sqrt(lo * hi)
			f := 0.0
			for _, e := range d {
				f += math.Exp(-x * math.Exp(e.eo))
			}
			if f/float64(len(d)) > 0.5 {
				lo = x
			} else {
				hi = x
			}
		}
		x := math.Sqrt(lo * hi)
		sc.os[ai] = a.osMedian / math.Pow(x, 1/a.osShape)

		// PFS: latent replicates with the same copula as sampleLatent.
		os, dp = os[:0], dp[:0]
		for _, e := range d {
			for k := 0; k < calReps; k++ {
				z1, z2 := r.NormFloat64(), r.NormFloat64()
				u1 := phi(z1)
				u2 := phi(m.rho*z1 + math.Sqrt(1-m.rho*m.rho)*z2)
				os = append(os, weibullTime(sc.os[ai], a.osShape, u1, e.eo))
				dp = append(dp, weibullTime(1, a.pfsShape, u2, e.ep))
			}
		}
		target := a.pfsMedian
		half := len(os) / 2
		lo, hi = target*1e-3, target*1e3
		for it := 0; it < 40; it++ {
			l := math.Sqrt(lo * hi)
			below := 0
			for j := range os {
				if math.Min(l*dp[j], os[j]) <= target {
					below++
				}
			}
			if below > half {
				lo = l // too many early progressions: stretch
			} else {
				hi = l
			}
		}
		sc.pfs[ai] = math.Sqrt(lo * hi)
	}
	return sc
}
