package protocol

import (
	"fmt"
	"math"
)

// A screen query (KindScreen) carries many Cox models of one cohort and endpoint at once: one
// Newton–Raphson round of every still-unconverged marker model of a biomarker screen
// (docs/screen.md). Each model is a CoxRequest as a cox query would carry it, and the
// site answers each as it would answer that cox query alone — the same rules, the same budget
// (one query per model), the same overlap guard, in request order — and says per model what it
// released or why it refused. A screen is therefore never a cheaper way to ask the same models.

// ScreenRequest is the batch of a screen query.
type ScreenRequest struct {
	// Models are the Cox requests, answered in this order. Every model has the same form:
	// stratified or pooled_sums (broadcast), or pooled_hessian (each naming the one site the
	// screen is addressed to, with that site's weights).
	Models []CoxRequest `json:"models"`
	// Rho is, for a screen of dp_tables models (a differentially private screen,
	// docs/dp-cox.md), the total ρ the analyst chooses to spend on it, split evenly over the
	// models; 0 asks the site's dp_rho_screen. A site refuses more than its dp_rho_daily.
	Rho float64 `json:"rho,omitempty"`
}

// ScreenReply answers a screen query: one entry per model, in request order.
type ScreenReply struct {
	Models []ScreenModelReply `json:"models"`
}

// ScreenModelReply is one model's answer: the Cox reply with what the policy did to it, or the
// site's refusal of that model alone (Error; the other models are unaffected).
type ScreenModelReply struct {
	Error  *Error         `json:"error,omitempty"`
	Policy *PolicyEffects `json:"policy,omitempty"`
	Cox    *CoxReply      `json:"cox,omitempty"`
}

// Limits of a screen query: at most MaxScreenModels models, and a JSON encoding of at most
// MaxScreenQueryBytes (MaxScreenModels pooled_hessian models of MaxQueryBytes each would not
// fit; a client splits a larger batch over several queries).
const (
	MaxScreenModels     = 128
	MaxScreenQueryBytes = 8 << 20
)

// MaxQueryBytesOf is the size limit of a query of the given kind.
func MaxQueryBytesOf(kind Kind) int {
	if kind == KindScreen {
		return MaxScreenQueryBytes
	}
	return MaxQueryBytes
}

// ModelQuery is the cox query that the k-th model of a screen query stands for: the screen's
// study, cohort and endpoint with that model (and the same ID and analyst). A node answers the
// model as it answers that query; the client validates the model's reply against it.
func (q Query) ModelQuery(k int) Query {
	m := q
	m.Kind, m.Screen, m.Auth = KindCox, nil, nil
	cox := q.Screen.Models[k]
	m.Cox = &cox
	return m
}

func validateScreenRequest(q Query) error {
	if q.Endpoint == "" || q.GroupBy != "" {
		return queryErrorf(CodeInvalid, "a screen needs an endpoint and takes no group_by")
	}
	s := q.Screen
	if s == nil || len(s.Models) == 0 {
		return queryErrorf(CodeInvalid, "a screen query carries at least one model (screen.models)")
	}
	if len(s.Models) > MaxScreenModels {
		return queryErrorf(CodeInvalid, "screen.models: %d models, more than %d", len(s.Models), MaxScreenModels)
	}
	form, site := s.Models[0].Form, s.Models[0].Site
	switch form {
	case CoxStratified, CoxPooledSums, CoxPooledHessian:
	case CoxDPTables: // a differentially private screen: one release of every model's tables
	default:
		return queryErrorf(CodeInvalid, "screen.models[0].form %q: a screen asks stratified, pooled_sums, pooled_hessian rounds or dp_tables", clipName(string(form)))
	}
	if s.Rho != 0 && (form != CoxDPTables || !(s.Rho > 0) || math.IsInf(s.Rho, 0)) {
		return queryErrorf(CodeInvalid, "screen.rho %v: a positive, finite ρ, for a screen of dp_tables models only", s.Rho)
	}
	for k := range s.Models {
		m := &s.Models[k]
		if m.Form != form || m.Site != site {
			return queryErrorf(CodeInvalid, "screen.models[%d]: every model of a screen has the same form and site", k)
		}
		if err := validateCoxRequest(m, KindCox); err != nil {
			pe := err.(*Error)
			return queryErrorf(pe.Code, "screen.models[%d]: %s", k, pe.Message)
		}
	}
	return nil
}

// screenReply checks a screen reply: one entry per model, each a refusal or a valid Cox reply
// to the model's query (ModelQuery).
func (v *validator) screenReply(q Query, r *ScreenReply) {
	if q.Screen == nil {
		v.failf("screen", "reply to a query without a screen request")
		return
	}
	v.length("screen.models", len(r.Models), len(q.Screen.Models))
	if v.err != nil {
		return
	}
	for k, m := range r.Models {
		path := fmt.Sprintf("screen.models[%d]", k)
		switch {
		case m.Error != nil && (m.Cox != nil || m.Policy != nil):
			v.failf(path, "a refused model carries a payload")
		case m.Error != nil:
			v.refusal(m.Error)
		case m.Cox == nil || m.Policy == nil:
			v.failf(path, "neither a refusal nor a cox reply with its policy effects")
		default:
			v.policyEffects(*m.Policy)
			v.cox(q.ModelQuery(k), m.Cox)
		}
		if v.err != nil {
			v.err = fmt.Errorf("%s: %w", path, v.err)
			return
		}
	}
}
