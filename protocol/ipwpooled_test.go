package protocol

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// The pooled stages of the adjusted model: covariates among the confounders, a coefficient for
// the treatment and each column, a site and its weights on exactly the addressed stages (the
// weights of that stage only), finite weights and origins, origins of adjusting covariates
// only; and none of it on the other stages.
func TestValidateIPWPooledStages(t *testing.T) {
	base := func(stage IPWStage) Query {
		q := Query{Version: Version, Kind: KindIPW, ID: "q1", Study: "lung", Endpoint: "os"}
		q.IPW = &IPWRequest{Stage: stage, Treatment: "sex", Treated: "female", Confounders: []string{"age", "karno"}, Beta: []float64{0, 0, 0},
			Estimand: "ATE", Ties: "efron", CoxBeta: []float64{0, 0}, Adjust: []string{"age"}, Origin: map[string]float64{"age": 59}}
		switch stage {
		case IPWPooledHessian:
			q.IPW.Site, q.IPW.CoxWeights = "inst1", &IPWCoxWeights{A: []float64{0.1}}
		case IPWPooledMeat:
			q.IPW.Site, q.IPW.CoxWeights = "inst1", &IPWCoxWeights{H: []float64{0.1}, AH: []float64{0.2}}
		}
		return q
	}
	for _, stage := range []IPWStage{IPWPooledSums, IPWPooledHessian, IPWPooledMeat} {
		if err := ValidateQuery(base(stage)); err != nil {
			t.Errorf("%s: %v", stage, err)
		}
	}
	with := func(stage IPWStage, f func(r *IPWRequest)) Query { q := base(stage); f(q.IPW); return q }
	for name, c := range map[string]struct {
		q    Query
		want string
	}{
		"no covariates":        {with(IPWPooledSums, func(r *IPWRequest) { r.Adjust, r.Origin = nil, nil }), "needs covariates"},
		"not a confounder":     {with(IPWPooledSums, func(r *IPWRequest) { r.Adjust = []string{"ecog"} }), "must be a confounder"},
		"repeated":             {with(IPWPooledSums, func(r *IPWRequest) { r.Adjust = []string{"age", "age"} }), "must be a confounder"},
		"treatment only":       {with(IPWPooledSums, func(r *IPWRequest) { r.CoxBeta = []float64{0} }), "2 to"},
		"sums addressed":       {with(IPWPooledSums, func(r *IPWRequest) { r.Site = "inst1" }), "ipw.site"},
		"hessian unaddressed":  {with(IPWPooledHessian, func(r *IPWRequest) { r.Site = "" }), "ipw.site"},
		"hessian no weights":   {with(IPWPooledHessian, func(r *IPWRequest) { r.CoxWeights = nil }), "carries the site's weights"},
		"hessian meat weights": {with(IPWPooledHessian, func(r *IPWRequest) { r.CoxWeights.H = []float64{1} }), "a and b only"},
		"meat hessian weights": {with(IPWPooledMeat, func(r *IPWRequest) { r.CoxWeights.A = []float64{1} }), "h, ah, hd, ad and xbar_d only"},
		"weight not finite":    {with(IPWPooledMeat, func(r *IPWRequest) { r.CoxWeights.H = []float64{math.NaN()} }), "not finite"},
		"origin not adjusted":  {with(IPWPooledSums, func(r *IPWRequest) { r.Origin = map[string]float64{"karno": 50} }), "ipw.origin"},
		"origin not finite":    {with(IPWPooledSums, func(r *IPWRequest) { r.Origin = map[string]float64{"age": math.Inf(1)} }), "ipw.origin"},
		"adjust on cox stage":  {func() Query { q := base(IPWPooledSums); q.IPW.Stage, q.IPW.CoxBeta = IPWCox, []float64{0}; return q }(), "belong to the pooled stages"},
		"weights on outcome": {func() Query {
			q := base(IPWOutcome)
			q.IPW.Adjust, q.IPW.Origin, q.IPW.Edges = nil, nil, []float64{0, 1}
			q.IPW.CoxWeights = &IPWCoxWeights{}
			return q
		}(), "belong to the pooled stages"},
		"breslow or efron only": {with(IPWPooledSums, func(r *IPWRequest) { r.Ties = "exact" }), "ipw.ties"},
	} {
		err := ValidateQuery(c.q)
		var pe *Error
		if !errors.As(err, &pe) || pe.Code != CodeInvalid || !strings.Contains(pe.Message, c.want) {
			t.Errorf("%s: %v, want invalid saying %q", name, err, c.want)
		}
	}
	// A treated site may ask the pooled stages (its only Cox form).
	q := base(IPWPooledSums)
	q.IPW.Treatment, q.IPW.Treated, q.IPW.TreatedSite = "", "", "inst1"
	if err := ValidateQuery(q); err != nil {
		t.Errorf("treated site: %v", err)
	}
}

// A site's pooled replies are checked for their shape: the columns and sums of the request's
// coefficients, rows with increasing times whose event sums come with events, a symmetric
// second moment and meat with a non-negative diagonal, a score per column.
func TestValidateIPWPooledReplies(t *testing.T) {
	query := func(stage IPWStage) Query {
		q := Query{Version: Version, Kind: KindIPW, ID: "q1", Study: "lung", Endpoint: "os"}
		q.IPW = &IPWRequest{Stage: stage, Treatment: "sex", Treated: "female", Confounders: []string{"age"}, Beta: []float64{0, 0},
			Estimand: "ATE", Ties: "efron", CoxBeta: []float64{0, 0}, Adjust: []string{"age"}}
		return q
	}
	reply := func(stage IPWStage) Reply {
		r := &IPWReply{Columns: []string{"(Intercept)", "age"}, N: 10, Treated: 4, CoxColumns: []string{"sexfemale", "age"}}
		switch stage {
		case IPWPooledSums:
			r.EventXSum = []float64{1, 60}
			r.Rows = []IPWCoxRow{{Time: 5, D: 1, DW: 1.5, R0: 3, R1: []float64{1, 180}, E0: 1.5, E1: []float64{0, 60}}, {Time: 9, R0: 2, R1: []float64{1, 120}}}
		case IPWPooledHessian:
			r.SecondMoment = []float64{1, 2, 2, 5}
		case IPWPooledMeat:
			r.Meat, r.Score = []float64{1, 0.5, 0.5, 2}, []float64{0.1, -0.2}
		}
		return Reply{Version: Version, QueryID: "q1", Site: "inst1", Kind: KindIPW, IPW: r}
	}
	mod := func(stage IPWStage, f func(r *IPWReply)) func() Reply {
		return func() Reply { r := reply(stage); f(r.IPW); return r }
	}
	for _, c := range []struct {
		name  string
		stage IPWStage
		r     func() Reply
		field string
	}{
		{"sums ok", IPWPooledSums, func() Reply { return reply(IPWPooledSums) }, ""},
		{"hessian ok", IPWPooledHessian, func() Reply { return reply(IPWPooledHessian) }, ""},
		{"meat ok", IPWPooledMeat, func() Reply { return reply(IPWPooledMeat) }, ""},
		{"columns", IPWPooledSums, mod(IPWPooledSums, func(r *IPWReply) { r.CoxColumns = r.CoxColumns[:1] }), "ipw.cox_columns"},
		{"events without sums", IPWPooledSums, mod(IPWPooledSums, func(r *IPWReply) { r.Rows[0].E1 = nil }), "ipw.rows"},
		{"times not increasing", IPWPooledSums, mod(IPWPooledSums, func(r *IPWReply) { r.Rows[1].Time = 5 }), "ipw.rows"},
		{"NaN sum", IPWPooledSums, mod(IPWPooledSums, func(r *IPWReply) { r.Rows[1].R0 = math.NaN() }), "ipw.rows"},
		{"asymmetric moment", IPWPooledHessian, mod(IPWPooledHessian, func(r *IPWReply) { r.SecondMoment[1] = 3 }), "ipw.second_moment"},
		{"negative meat", IPWPooledMeat, mod(IPWPooledMeat, func(r *IPWReply) { r.Meat[3] = -1 }), "ipw.meat"},
		{"short score", IPWPooledMeat, mod(IPWPooledMeat, func(r *IPWReply) { r.Score = r.Score[:1] }), "ipw.score"},
	} {
		err := ValidateReply(query(c.stage), c.r())
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.field != "" && (err == nil || !strings.Contains(err.Error(), c.field)):
			t.Errorf("%s: %v, want an error naming %s", c.name, err, c.field)
		}
	}
}
