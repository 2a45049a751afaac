package synth

import (
	"math"
	"math/rand/v2"
)

// ConfoundedPatient is one patient of a confounded external-control-arm cohort, with both
// potential survival times (the one under the new regimen and under chemotherapy alone; the
// observed time is the one of the regimen received), so that the true effect is known.
type ConfoundedPatient struct {
	Site    int
	Age     float64 // years
	ECOG    float64 // 0, 1 or 2
	Treated bool    // the new regimen; otherwise chemotherapy alone
	// Time and Event are the observed outcome (days): the potential time of the regimen
	// received, censored at the end of follow-up.
	Time  float64
	Event bool
	// Time0/Event0 and Time1/Event1 are both potential outcomes under the same censoring.
	Time0, Time1   float64
	Event0, Event1 bool
}

// The simulated truth of ConfoundedCohort (docs/ipw.md, "Synthetic check").
const (
	// ConfoundedLogHR is the conditional log hazard ratio of the new regimen given age and
	// ECOG: log 0.7. Because the Cox model is not collapsible, the marginal hazard ratio the
	// weighted (ATE) comparison estimates differs a little; ConfoundedTruth computes it.
	ConfoundedLogHR = -0.35667494393873245
	// The prognostic effects (log hazard per year of age above 65, per ECOG point) and the
	// assignment model: logit P(new regimen) = 1 − 0.04 (age − 65) − 0.9 ECOG, so older and
	// frailer patients more often get chemotherapy alone and the unweighted comparison
	// flatters the new regimen.
	confoundedAgeLogHR  = 0.03
	confoundedECOGLogHR = 0.6
)

// ConfoundedCohort draws n patients over sites hospitals (site by patient number): age
// N(65, 10) rounded and truncated to 30–90, ECOG 0/1/2 with probabilities 0.4/0.45/0.15,
// treatment by the assignment model above, overall survival Weibull (shape 1.2, median 540 days
// for a 65-year-old ECOG 0 patient on chemotherapy) proportional in exp(ConfoundedLogHR·T +
// 0.03 (age − 65) + 0.6 ECOG), and uniform follow-up of 1 to 5 years. Both potential outcomes
// share the patient's uniform draw, so they differ by the treatment effect alone.
func ConfoundedCohort(n, sites int, seed uint64) []ConfoundedPatient {
	r := rand.New(rand.NewPCG(seed, 0x1e5ca))
	const k = 1.2
	lambda := weibullScale(540, k)
	out := make([]ConfoundedPatient, n)
	for i := range out {
		p := &out[i]
		p.Site = i % sites
		p.Age = normalTrunc(r, 65, 10, 30, 90)
		p.ECOG = pick(r, 0.4, 0.45, 0.15)
		lin := 1 - 0.04*(p.Age-65) - 0.9*p.ECOG
		p.Treated = r.Float64() < 1/(1+math.Exp(-lin))
		eta := confoundedAgeLogHR*(p.Age-65) + confoundedECOGLogHR*p.ECOG
		u := r.Float64()
		follow := 365 + r.Float64()*4*365
		t0 := weibullTime(lambda, k, u, eta)
		t1 := weibullTime(lambda, k, u, eta+ConfoundedLogHR)
		p.Time0, p.Event0 = math.Min(t0, follow), t0 <= follow
		p.Time1, p.Event1 = math.Min(t1, follow), t1 <= follow
		p.Time, p.Event = p.Time0, p.Event0
		if p.Treated {
			p.Time, p.Event = p.Time1, p.Event1
		}
	}
	return out
}
