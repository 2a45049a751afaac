package protocol

import (
	"fmt"
	"math"
)

// CoxZPH is the proportional-hazards check of a model stratified by site (R's cox.zph,
// docs/cox-zph.md): at the fitted β̂ broadcast in Beta, each site returns, summed over its own
// event times (its own risk sets, as R's strata(site)), the parts of the score test of
// x·g(t) for the transform CoxRequest.ZPH (CoxReply.ZPH). No per-time or per-patient value
// leaves the site.
const CoxZPH CoxForm = "zph"

// CoxZPHRequest names the transform h of time of a zph request. Identity is computed by the
// site itself from its released times (Times and Values empty). For km (1 − the pooled
// Kaplan–Meier estimate just before t) and rank (the mid-rank of t among all the model's
// subjects) the client sends h at every pooled event time: Times strictly increasing, Values
// non-decreasing, both ≥ 0 (km's ≤ 1); a site answers those only where its policy allows the
// pooled Cox form (its reply is then a function of what the pooled forms release) and refuses
// them otherwise.
type CoxZPHRequest struct {
	Transform string   `json:"transform"`
	Times     Float64s `json:"times,omitempty"`
	Values    Float64s `json:"values,omitempty"`
}

// CoxZPHReply is a site's part of the test (analysis.ZPHSums): with r_t the sum of the
// Schoenfeld residuals of the events at t and V_t the information there, U = Σ r_t,
// UH = Σ h_t r_t (p), I = Σ V_t, IH = Σ h_t V_t, IHH = Σ h_t² V_t (p×p row-major, symmetric),
// and HSum = Σ_events h(T_i) over Events events.
type CoxZPHReply struct {
	Events int      `json:"events"`
	HSum   float64  `json:"h_sum"`
	U      Float64s `json:"u"`
	UH     Float64s `json:"uh"`
	I      Float64s `json:"i"`
	IH     Float64s `json:"ih"`
	IHH    Float64s `json:"ihh"`
}

// ZPHTransforms are the transforms a zph request may name, R's default first.
var ZPHTransforms = []string{"km", "identity", "rank"}

// validateZPHRequest checks a zph request's transform: its name, and for km and rank a table
// of h at increasing times, non-decreasing; identity carries none (the site computes it).
func validateZPHRequest(c *CoxRequest) error {
	if c.Form != CoxZPH {
		if c.ZPH != nil {
			return queryErrorf(CodeInvalid, "cox.zph belongs to the zph form, not %s", c.Form)
		}
		return nil
	}
	z := c.ZPH
	if z == nil {
		return queryErrorf(CodeInvalid, "cox.form zph needs cox.zph (the transform)")
	}
	if len(c.Origin) > 0 {
		return queryErrorf(CodeInvalid, "cox.form zph takes no cox.origin")
	}
	switch z.Transform {
	case "identity":
		if len(z.Times) > 0 || len(z.Values) > 0 {
			return queryErrorf(CodeInvalid, "cox.zph: the identity transform is computed by the site: send no times or values")
		}
		return nil
	case "km", "rank":
	default:
		return queryErrorf(CodeInvalid, "cox.zph.transform %q: want km, identity or rank", clipName(z.Transform))
	}
	if len(z.Times) == 0 || len(z.Times) != len(z.Values) {
		return queryErrorf(CodeInvalid, "cox.zph: transform %s needs one value per pooled event time (%d times, %d values)", z.Transform, len(z.Times), len(z.Values))
	}
	for k, t := range z.Times {
		h := z.Values[k]
		switch {
		case math.IsNaN(t) || math.IsInf(t, 0) || t < 0:
			return queryErrorf(CodeInvalid, "cox.zph.times[%d] = %v is not a finite time ≥ 0", k, t)
		case k > 0 && t <= z.Times[k-1]:
			return queryErrorf(CodeInvalid, "cox.zph.times[%d] = %v does not follow %v", k, t, z.Times[k-1])
		case math.IsNaN(h) || math.IsInf(h, 0) || h < 0:
			return queryErrorf(CodeInvalid, "cox.zph.values[%d] = %v is not a finite value ≥ 0", k, h)
		case k > 0 && h < z.Values[k-1]:
			return queryErrorf(CodeInvalid, "cox.zph.values[%d] = %v decreases (the %s transform is non-decreasing in time)", k, h, z.Transform)
		case z.Transform == "km" && h > 1:
			return queryErrorf(CodeInvalid, "cox.zph.values[%d] = %v: 1 − a survival probability is at most 1", k, h)
		}
	}
	return nil
}

// coxZPH checks a zph reply: p-vectors and symmetric p×p matrices of finite numbers whose
// information diagonal is ≥ 0, over at most the reply's events.
func (v *validator) coxZPH(c *CoxReply, p int) {
	z := c.ZPH
	if z == nil {
		v.failf("cox.zph", "missing from a zph reply")
		return
	}
	v.nonNegative("cox.zph.events", z.Events)
	if z.Events > c.Events {
		v.failf("cox.zph.events", "%d events but the reply has %d", z.Events, c.Events)
	}
	v.finite("cox.zph.h_sum", z.HSum)
	for name, vec := range map[string]Float64s{"u": z.U, "uh": z.UH} {
		v.length("cox.zph."+name, len(vec), p)
		v.finites("cox.zph."+name, vec)
	}
	for name, m := range map[string]Float64s{"i": z.I, "ih": z.IH, "ihh": z.IHH} {
		v.length("cox.zph."+name, len(m), p*p)
		v.finites("cox.zph."+name, m)
		if v.err != nil {
			return
		}
		for a := 0; a < p; a++ {
			for b := 0; b < a; b++ {
				if m[a*p+b] != m[b*p+a] {
					v.failf(fmt.Sprintf("cox.zph.%s[%d,%d]", name, a, b), "%v differs from its transpose %v", m[a*p+b], m[b*p+a])
				}
			}
		}
	}
	if v.err == nil {
		for a := 0; a < p; a++ {
			if d := z.I[a*p+a]; d < -1e-9*(1+math.Abs(d)) {
				v.failf(fmt.Sprintf("cox.zph.i[%d,%d]", a, a), "%v is negative", d)
			}
		}
	}
	if len(c.Rows) != 0 || len(c.Gradient) != 0 || len(c.Hessian) != 0 || len(c.SecondMoment) != 0 {
		v.failf("cox", "rows, gradient or Hessian in a zph reply")
	}
}
