package protocol

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func survivalQuery() Query {
	return Query{Version: Version, Kind: KindSurvival, ID: "q1", Study: "lung", Endpoint: "os", GroupBy: "sex"}
}

func survivalReply() Reply {
	return Reply{Version: Version, QueryID: "q1", Site: "inst1", Kind: KindSurvival,
		Survival: &SurvivalReply{Endpoint: "os", Groups: []SurvivalGroup{
			{Group: "female", Time: []float64{5, 10, 30}, Events: []int{1, 0, 2}, Censor: []int{0, 1, 0}},
			{Group: "male", Time: []float64{3}, Events: []int{1}, Censor: []int{0}},
		}}}
}

func coxQuery(form CoxForm) Query {
	return Query{Version: Version, Kind: KindCox, ID: "q2", Study: "lung", Endpoint: "os",
		Cox: &CoxRequest{Form: form, Ties: "efron", Covariates: []string{"age", "sex"}, Beta: []float64{0, 0}}}
}

func coxReply(form CoxForm) Reply {
	r := Reply{Version: Version, QueryID: "q2", Site: "inst1", Kind: KindCox,
		Cox: &CoxReply{Columns: []string{"age", "sexmale"}, N: 3, Events: 2}}
	if form == CoxStratified {
		r.Cox.LogLik = -2.5
		r.Cox.Gradient = []float64{0.1, -0.2}
		r.Cox.Hessian = []float64{-1, 0.1, 0.1, -2}
		return r
	}
	r.Cox.Rows = []CoxRiskSetRow{
		{Time: 1, D: 1, R0: 1, R1: []float64{60, 1}, R2: []float64{3600, 60, 60, 1}, E0: 1, E1: []float64{60, 1}, E2: []float64{3600, 60, 60, 1}},
		{Time: 2, D: 1, R0: 2, R1: []float64{120, 1}, R2: []float64{7300, 60, 60, 1}, E0: 1, E1: []float64{50, 0}, E2: []float64{2500, 0, 0, 0}},
	}
	r.Cox.EventXSum = []float64{110, 1}
	return r
}

func validateQuery() Query {
	q := coxQuery(CoxValidate)
	q.Cox.Beta = []float64{0.02, 0.5}
	q.Cox.Landmarks, q.Cox.BaselineCumHaz = []float64{180}, []float64{0.2}
	return q
}

// validateReply is a well-formed reply to validateQuery, changed by edit (nil: as is).
func validateReply(edit func(v *CoxValidation)) func() Reply {
	return func() Reply {
		r := Reply{Version: Version, QueryID: "q2", Site: "inst1", Kind: KindCox,
			Cox: &CoxReply{Columns: []string{"age", "sexmale"}, N: 30, Events: 20}}
		slope, se, brier := 0.9, 0.3, 0.19
		r.Cox.Validation = &CoxValidation{HarrellC: 0.62, HarrellSE: 0.04, UnoC: 0.6, UnoSE: 0.05,
			CalibrationSlope: &slope, CalibrationSlopeSE: &se, Calibration: []CalibrationAt{{Time: 180, Observed: 0.7, Predicted: 0.68, Brier: &brier}}}
		if edit != nil {
			edit(r.Cox.Validation)
		}
		return r
	}
}

func lpHistogramQuery() Query {
	q := coxQuery(CoxLPHistogram)
	q.Cox.Beta, q.Cox.LPBinWidth = []float64{0.02, 0.5}, 0.25
	return q
}

// lpHistogramReply is a well-formed reply to lpHistogramQuery, changed by edit (nil: as is).
func lpHistogramReply(edit func(c *CoxReply)) func() Reply {
	return func() Reply {
		r := Reply{Version: Version, QueryID: "q2", Site: "inst1", Kind: KindCox,
			Cox: &CoxReply{Columns: []string{"age", "sexmale"}, N: 30, Events: 20,
				LPHistogram: &LPHistogram{Cuts: []int{4, 6}, Counts: []int{10, 12, 8}}}}
		if edit != nil {
			edit(r.Cox)
		}
		return r
	}
}

// TestValidateReply: each case breaks one rule of a well-formed reply and must be refused
// with a message naming the field; the unbroken replies pass.
func TestValidateReply(t *testing.T) {
	inf := math.Inf(1)
	cases := []struct {
		name  string
		q     Query
		r     func() Reply
		field string // "" = valid
	}{
		{"survival ok", survivalQuery(), survivalReply, ""},
		{"stratified cox ok", coxQuery(CoxStratified), func() Reply { return coxReply(CoxStratified) }, ""},
		{"pooled cox ok", coxQuery(CoxPooled), func() Reply { return coxReply(CoxPooled) }, ""},
		{"validate ok", validateQuery(), validateReply(nil), ""},
		{"validate without figures", validateQuery(), validateReply(func(v *CoxValidation) { *v = CoxValidation{} }), "cox.validation.calibration"},
		{"validate C above 1", validateQuery(), validateReply(func(v *CoxValidation) { v.HarrellC = 1.2 }), "cox.validation.harrell_c"},
		{"validate SE negative", validateQuery(), validateReply(func(v *CoxValidation) { v.UnoSE = -0.1 }), "cox.validation.uno_se"},
		{"validate other landmark", validateQuery(), validateReply(func(v *CoxValidation) { v.Calibration[0].Time = 200 }), "cox.validation.calibration[0].time"},
		{"validate survival above 1", validateQuery(), validateReply(func(v *CoxValidation) { v.Calibration[0].Predicted = 1.5 }), "cox.validation.calibration[0]"},
		{"validate Brier negative", validateQuery(), validateReply(func(v *CoxValidation) { b := -0.1; v.Calibration[0].Brier = &b }), "cox.validation.calibration[0].brier"},
		{"validate Brier NaN", validateQuery(), validateReply(func(v *CoxValidation) { b := math.NaN(); v.Calibration[0].Brier = &b }), "cox.validation.calibration[0].brier"},
		{"validate with model sums", validateQuery(), func() Reply {
			r := validateReply(nil)()
			r.Cox.Gradient = []float64{1, 2}
			return r
		}, "cox"},
		{"lp histogram ok", lpHistogramQuery(), lpHistogramReply(nil), ""},
		{"lp histogram missing", lpHistogramQuery(), lpHistogramReply(func(c *CoxReply) { c.LPHistogram = nil }), "cox.lp_histogram"},
		{"lp histogram short", lpHistogramQuery(), lpHistogramReply(func(c *CoxReply) { c.LPHistogram.Counts = c.LPHistogram.Counts[:2] }), "cox.lp_histogram.counts"},
		{"lp histogram other total", lpHistogramQuery(), lpHistogramReply(func(c *CoxReply) { c.LPHistogram.Counts[1]++ }), "cox.lp_histogram.counts"},
		{"lp histogram negative", lpHistogramQuery(), lpHistogramReply(func(c *CoxReply) { c.LPHistogram.Counts = []int{-1, 23, 8} }), "cox.lp_histogram.counts[0]"},
		{"lp histogram cuts unordered", lpHistogramQuery(), lpHistogramReply(func(c *CoxReply) { c.LPHistogram.Cuts = []int{6, 4} }), "cox.lp_histogram.cuts[1]"},
		{"lp histogram with sums", lpHistogramQuery(), lpHistogramReply(func(c *CoxReply) { c.Gradient = []float64{1, 2} }), "cox"},
		{"refusal ok", survivalQuery(), func() Reply {
			r := survivalReply()
			r.Survival = nil
			r.Error = &Error{Code: CodeRefusedByPolicy, Message: "cohort below 10"}
			return r
		}, ""},
		{"other query", survivalQuery(), func() Reply { r := survivalReply(); r.QueryID = "q0"; return r }, "query_id"},
		{"wrong version", survivalQuery(), func() Reply { r := survivalReply(); r.Version = "v0"; return r }, "version"},
		{"wrong kind", survivalQuery(), func() Reply { r := survivalReply(); r.Kind = KindCount; return r }, "kind"},
		{"no site", survivalQuery(), func() Reply { r := survivalReply(); r.Site = ""; return r }, "site"},
		{"no payload", survivalQuery(), func() Reply { r := survivalReply(); r.Survival = nil; return r }, "payloads"},
		{"two payloads", survivalQuery(), func() Reply { r := survivalReply(); r.Count = &CountReply{}; return r }, "payloads"},
		{"error with payload", survivalQuery(), func() Reply {
			r := survivalReply()
			r.Error = &Error{Code: CodeInternal, Message: "x"}
			return r
		}, "payloads"},
		{"negative events", survivalQuery(), func() Reply { r := survivalReply(); r.Survival.Groups[0].Events[2] = -2; return r }, "survival.groups[0].events[2]"},
		{"negative censor", survivalQuery(), func() Reply { r := survivalReply(); r.Survival.Groups[1].Censor[0] = -1; return r }, "survival.groups[1].censor[0]"},
		{"times not increasing", survivalQuery(), func() Reply { r := survivalReply(); r.Survival.Groups[0].Time[1] = 5; return r }, "survival.groups[0].time[1]"},
		{"negative time", survivalQuery(), func() Reply { r := survivalReply(); r.Survival.Groups[1].Time[0] = -3; return r }, "survival.groups[1].time[0]"},
		{"NaN time", survivalQuery(), func() Reply { r := survivalReply(); r.Survival.Groups[0].Time[0] = math.NaN(); return r }, "survival.groups[0].time[0]"},
		{"short events", survivalQuery(), func() Reply { r := survivalReply(); r.Survival.Groups[0].Events = []int{1}; return r }, "survival.groups[0].events"},
		{"duplicate group", survivalQuery(), func() Reply { r := survivalReply(); r.Survival.Groups[1].Group = "female"; return r }, "survival.groups[1].group"},
		{"other endpoint", survivalQuery(), func() Reply { r := survivalReply(); r.Survival.Endpoint = "pfs"; return r }, "survival.endpoint"},
		{"absurd counts", survivalQuery(), func() Reply { r := survivalReply(); r.Survival.Groups[0].Events[0] = math.MaxInt; return r }, "survival.groups[0]"},
		{"bad bin days", survivalQuery(), func() Reply { r := survivalReply(); r.Policy.BinDays = -30; return r }, "policy.bin_days"},
		{"suppressed excluded ok", coxQuery(CoxStratified), func() Reply { r := coxReply(CoxStratified); r.Cox.ExcludedSuppressed = true; return r }, ""},
		{"suppressed excluded with a number", coxQuery(CoxStratified), func() Reply {
			r := coxReply(CoxStratified)
			r.Cox.Excluded, r.Cox.ExcludedSuppressed = 1, true
			return r
		}, "cox.excluded"},
		{"beta limit ok", coxQuery(CoxStratified), func() Reply { r := coxReply(CoxStratified); r.Cox.BetaLimit = []float64{5, 0.06}; return r }, ""},
		{"beta limit length", coxQuery(CoxStratified), func() Reply { r := coxReply(CoxStratified); r.Cox.BetaLimit = []float64{5}; return r }, "cox.beta_limit"},
		{"beta limit zero", coxQuery(CoxStratified), func() Reply { r := coxReply(CoxStratified); r.Cox.BetaLimit = []float64{5, 0}; return r }, "cox.beta_limit[1]"},
		{"beta limit NaN", coxQuery(CoxPooled), func() Reply { r := coxReply(CoxPooled); r.Cox.BetaLimit = []float64{math.NaN(), 1}; return r }, "cox.beta_limit[0]"},
		{"answered beyond its own beta limit", func() Query { q := coxQuery(CoxStratified); q.Cox.Beta = []float64{0, 0.5}; return q }(), func() Reply {
			r := coxReply(CoxStratified)
			r.Cox.BetaLimit = []float64{5, 0.4}
			return r
		}, "cox.beta_limit[1]"},
		{"events above n", coxQuery(CoxStratified), func() Reply { r := coxReply(CoxStratified); r.Cox.Events = 4; return r }, "cox.events"},
		{"short gradient", coxQuery(CoxStratified), func() Reply { r := coxReply(CoxStratified); r.Cox.Gradient = []float64{1}; return r }, "cox.gradient"},
		{"Hessian size", coxQuery(CoxStratified), func() Reply { r := coxReply(CoxStratified); r.Cox.Hessian = r.Cox.Hessian[:3]; return r }, "cox.hessian"},
		{"infinite loglik", coxQuery(CoxStratified), func() Reply { r := coxReply(CoxStratified); r.Cox.LogLik = inf; return r }, "cox.loglik"},
		{"positive Hessian diagonal", coxQuery(CoxStratified), func() Reply { r := coxReply(CoxStratified); r.Cox.Hessian[3] = 2; return r }, "cox.hessian[1,1]"},
		{"asymmetric Hessian", coxQuery(CoxStratified), func() Reply { r := coxReply(CoxStratified); r.Cox.Hessian[1] = 0.5; return r }, "cox.hessian[1,0]"},
		{"columns", coxQuery(CoxStratified), func() Reply { r := coxReply(CoxStratified); r.Cox.Columns = []string{"age"}; return r }, "cox.columns"},
		{"rows out of order", coxQuery(CoxPooled), func() Reply { r := coxReply(CoxPooled); r.Cox.Rows[1].Time = 1; return r }, "cox.rows[1].time"},
		{"zero r0", coxQuery(CoxPooled), func() Reply { r := coxReply(CoxPooled); r.Cox.Rows[0].R0 = 0; return r }, "cox.rows[0].r0"},
		{"e0 above r0", coxQuery(CoxPooled), func() Reply { r := coxReply(CoxPooled); r.Cox.Rows[1].E0 = 3; return r }, "cox.rows[1].e0"},
		{"short r2", coxQuery(CoxPooled), func() Reply { r := coxReply(CoxPooled); r.Cox.Rows[0].R2 = []float64{1}; return r }, "cox.rows[0].r2"},
		{"NaN r1", coxQuery(CoxPooled), func() Reply { r := coxReply(CoxPooled); r.Cox.Rows[1].R1[0] = math.NaN(); return r }, "cox.rows[1].r1[0]"},
		{"events vs rows", coxQuery(CoxPooled), func() Reply { r := coxReply(CoxPooled); r.Cox.Events = 1; return r }, "cox.rows"},
		{"event x sum", coxQuery(CoxPooled), func() Reply { r := coxReply(CoxPooled); r.Cox.EventXSum = nil; return r }, "cox.event_x_sum"},
		{"count adds up", Query{Version: Version, Kind: KindCount, ID: "c", Study: "s", GroupBy: "sex"}, func() Reply {
			return Reply{Version: Version, QueryID: "c", Site: "a", Kind: KindCount, Count: &CountReply{
				Total: Count{N: 20}, Groups: map[string]Count{"female": {N: 8}, "male": {N: 12}}}}
		}, ""},
		{"count does not add up", Query{Version: Version, Kind: KindCount, ID: "c", Study: "s", GroupBy: "sex"}, func() Reply {
			return Reply{Version: Version, QueryID: "c", Site: "a", Kind: KindCount, Count: &CountReply{
				Total: Count{N: 20}, Groups: map[string]Count{"female": {N: 8}, "male": {N: 15}}}}
		}, "groups and missing add up to 23"},
		{"suppressed cell excuses the sum", Query{Version: Version, Kind: KindCount, ID: "c", Study: "s", GroupBy: "sex"}, func() Reply {
			return Reply{Version: Version, QueryID: "c", Site: "a", Kind: KindCount, Count: &CountReply{
				Total: Count{N: 20}, Groups: map[string]Count{"female": {Suppressed: true}, "male": {N: 17}}}}
		}, ""},
		{"negative count", Query{Version: Version, Kind: KindCount, ID: "c", Study: "s"}, func() Reply {
			return Reply{Version: Version, QueryID: "c", Site: "a", Kind: KindCount, Count: &CountReply{Total: Count{N: -1}}}
		}, "count.total"},
		{"feasibility ok", feasQuery(), func() Reply { return feasReply(1230) }, ""},
		{"feasibility zero ok", feasQuery(), func() Reply { return feasReply(0) }, ""},
		{"feasibility not a multiple", feasQuery(), func() Reply { return feasReply(1234) }, "count.total: 1234 is not a multiple of the feasibility rounding 10"},
		{"feasibility negative", feasQuery(), func() Reply { return feasReply(-10) }, "count.total"},
		{"feasibility suppressed", feasQuery(), func() Reply { r := feasReply(0); r.Count.Total.Suppressed = true; return r }, "count.total"},
		{"feasibility without rounding", feasQuery(), func() Reply { r := feasReply(1230); r.Policy.FeasibilityRounding = 0; return r }, "policy.feasibility_rounding"},
		{"feasibility negative noise", feasQuery(), func() Reply { r := feasReply(1230); r.Policy.FeasibilityNoise = -3; return r }, "policy.feasibility_noise"},
		{"feasibility refusal ok", feasQuery(), func() Reply {
			r := feasReply(0)
			r.Count, r.Policy.FeasibilityRounding, r.Policy.FeasibilityNoise = nil, 0, 0
			r.Error = &Error{Code: CodeRefusedByPolicy, Message: "cohort has fewer than min_cohort=10 patients", Reason: ReasonSmallCohort, Limit: 10}
			return r
		}, ""},
		{"refusal with unknown reason", feasQuery(), func() Reply { return refusal(Error{Code: CodeRefusedByPolicy, Reason: "moon_phase"}) }, `error.reason: unknown reason "moon_phase"`},
		{"reason on another code", feasQuery(), func() Reply { return refusal(Error{Code: CodeInvalid, Reason: ReasonDailyBudget, Limit: 1}) }, "error.reason"},
		{"negative limit", feasQuery(), func() Reply { return refusal(Error{Code: CodeRefusedByPolicy, Reason: ReasonOverlapGuard, Limit: -5}) }, "error.limit: -5 is negative"},
		{"limit not finite", feasQuery(), func() Reply {
			return refusal(Error{Code: CodeRefusedByPolicy, Reason: ReasonPrivacyBudget, Limit: math.NaN()})
		}, "error.limit"},
		{"limit without reason", feasQuery(), func() Reply { return refusal(Error{Code: CodeRefusedByPolicy, Limit: 3}) }, "error.limit: 3 without a reason"},
		{"refusal without reason ok", feasQuery(), func() Reply { return refusal(Error{Code: CodeRefusedByPolicy, Message: "pooled Cox not allowed"}) }, ""},
		{"exact count labelled approximate", Query{Version: Version, Kind: KindCount, ID: "f", Study: "s"}, func() Reply { return feasReply(1230) }, "policy.feasibility_rounding"},
		{"feasibility on a survival query", func() Query { q := survivalQuery(); q.GroupBy = ""; q.Feasibility = true; return q }(), func() Reply {
			r := survivalReply()
			r.Survival.Groups = r.Survival.Groups[:1]
			r.Survival.Groups[0].Group = ""
			r.Policy.FeasibilityRounding = 10
			return r
		}, "feasibility: a survival query"},
		{"summary ok", summaryQuery(), summaryReply, ""},
		{"histogram length", summaryQuery(), func() Reply {
			r := summaryReply()
			r.Summary.Groups[0].Variables[0].Histogram = r.Summary.Groups[0].Variables[0].Histogram[:2]
			return r
		}, "summary.groups[0].variables[0].histogram"},
		{"impossible moments", summaryQuery(), func() Reply {
			r := summaryReply()
			r.Summary.Groups[0].Variables[0].SumSq = 1
			return r
		}, "impossible for n = 10"},
		{"categories add up", summaryQuery(), func() Reply {
			r := summaryReply()
			r.Summary.Groups[0].Variables[1].Categories["ecog0"] = Count{N: 9}
			return r
		}, "summary.groups[0].variables[1]"},
		{"unasked variable", summaryQuery(), func() Reply {
			r := summaryReply()
			r.Summary.Groups[0].Variables[1].Variable = "karno"
			return r
		}, "summary.groups[0].variables[1].variable"},
		{"catalog other site", Query{Version: Version, Kind: KindCatalog, ID: "k"}, func() Reply {
			return Reply{Version: Version, QueryID: "k", Site: "a", Kind: KindCatalog, Catalog: &Catalog{Site: "b"}}
		}, "catalog.site"},
		{"catalog feasibility cost", Query{Version: Version, Kind: KindCatalog, ID: "k"}, func() Reply {
			return Reply{Version: Version, QueryID: "k", Site: "a", Kind: KindCatalog, Catalog: &Catalog{Site: "a", Policy: Policy{FeasibilityCost: 2}}}
		}, "catalog.policy.feasibility_cost"},
		{"catalog endpoint horizon", Query{Version: Version, Kind: KindCatalog, ID: "k"}, func() Reply {
			h := -30.0
			return Reply{Version: Version, QueryID: "k", Site: "a", Kind: KindCatalog, Catalog: &Catalog{Site: "a",
				Studies: []StudyCatalog{{Name: "s", Endpoints: []Endpoint{{Name: "OS", HorizonDays: &h}}}}}}
		}, "horizon_days"},
	}
	for _, c := range cases {
		err := ValidateReply(c.q, c.r())
		if c.field == "" {
			if err != nil {
				t.Errorf("%s: unexpected error %v", c.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: accepted, want an error about %s", c.name, c.field)
			continue
		}
		var pe *Error
		if !errors.As(err, &pe) || pe.Code != CodeInvalid {
			t.Errorf("%s: error %v is not coded invalid", c.name, err)
		}
		if !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: error %q does not name %s", c.name, err, c.field)
		}
	}
}

func feasQuery() Query {
	return Query{Version: Version, Kind: KindCount, ID: "f", Study: "s", Feasibility: true}
}

func feasReply(n int) Reply {
	return Reply{Version: Version, QueryID: "f", Site: "a", Kind: KindCount,
		Policy: PolicyEffects{MinCohort: 10, FeasibilityRounding: 10, FeasibilityNoise: 3},
		Count:  &CountReply{Total: Count{N: n}}}
}

// TestCheckFeasibility: only an ungrouped count may be a feasibility count; the refusal names
// the field.
func TestCheckFeasibility(t *testing.T) {
	for _, c := range []struct {
		q  Query
		ok bool
	}{
		{Query{Kind: KindCount, Feasibility: true}, true},
		{Query{Kind: KindCount}, true},
		{Query{Kind: KindSurvival}, true},
		{Query{Kind: KindCount, Feasibility: true, GroupBy: "sex"}, false},
		{Query{Kind: KindSurvival, Feasibility: true}, false},
		{Query{Kind: KindSummary, Feasibility: true}, false},
		{Query{Kind: KindCox, Feasibility: true}, false},
		{Query{Kind: KindCatalog, Feasibility: true}, false},
	} {
		err := CheckFeasibility(c.q)
		if (err == nil) != c.ok {
			t.Errorf("%s feasibility=%v group_by=%q: error %v, want ok=%v", c.q.Kind, c.q.Feasibility, c.q.GroupBy, err, c.ok)
		}
		var pe *Error
		if err != nil && (!errors.As(err, &pe) || pe.Code != CodeInvalid || !strings.HasPrefix(pe.Message, "feasibility: ")) {
			t.Errorf("%s: %v is not an invalid error naming the field", c.q.Kind, err)
		}
	}
}

func summaryQuery() Query {
	return Query{Version: Version, Kind: KindSummary, ID: "s", Study: "lung", Variables: []string{"age", "ecog"},
		Bins: []HistogramSpec{{Variable: "age", Edges: []float64{50, 60, 70}}}}
}

func summaryReply() Reply {
	return Reply{Version: Version, QueryID: "s", Site: "a", Kind: KindSummary, Summary: &SummaryReply{Groups: []GroupSummary{{
		N: Count{N: 12},
		Variables: []VariableSummary{
			{Variable: "age", Missing: Count{N: 2}, N: Count{N: 10}, Sum: 620, SumSq: 39000, Edges: []float64{50, 60, 70},
				Histogram: []Count{{N: 1}, {N: 4}, {N: 3}, {N: 2}}},
			{Variable: "ecog", Missing: Count{N: 1}, Categories: map[string]Count{"ecog0": {N: 5}, "ecog1": {N: 6}}},
		},
	}}}}
}

// refusal is a reply to feasQuery refusing with e.
func refusal(e Error) Reply {
	return Reply{Version: Version, QueryID: "f", Site: "a", Kind: KindCount, Error: &e}
}
