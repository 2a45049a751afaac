package protocol

import (
	"errors"
	"strings"
	"testing"
)

// An ipw query names either a treatment variable and its level or a treated site, not both;
// with a treated site every site holds one arm, so the cox stage (stratified by site) is refused
// with the reason, while the propensity and outcome stages pass.
func TestValidateIPWTreatedSite(t *testing.T) {
	base := func(stage IPWStage) Query {
		q := Query{Version: Version, Kind: KindIPW, ID: "q1", Study: "lung", Endpoint: "os"}
		q.IPW = &IPWRequest{Stage: stage, TreatedSite: "inst1", Confounders: []string{"age"}, Beta: []float64{0, 0},
			Estimand: "ATT", Edges: []float64{0, 0.5, 1}, Ties: "efron", CoxBeta: []float64{0}}
		return q
	}
	for _, stage := range []IPWStage{IPWPropensity, IPWOutcome} {
		if err := ValidateQuery(base(stage)); err != nil {
			t.Errorf("%s with a treated site: %v", stage, err)
		}
	}
	for name, c := range map[string]struct {
		q    Query
		want string
	}{
		"cox stage":          {base(IPWCox), "compares nothing"},
		"site and variable":  {func() Query { q := base(IPWOutcome); q.IPW.Treatment = "sex"; return q }(), "takes no treatment variable"},
		"site and level":     {func() Query { q := base(IPWOutcome); q.IPW.Treated = "female"; return q }(), "takes no treatment variable"},
		"neither":            {func() Query { q := base(IPWOutcome); q.IPW.TreatedSite = ""; return q }(), "or a treated site"},
		"site name too long": {func() Query { q := base(IPWOutcome); q.IPW.TreatedSite = strings.Repeat("x", MaxNameLen+1); return q }(), "treated_site"},
	} {
		err := ValidateQuery(c.q)
		var pe *Error
		if !errors.As(err, &pe) || pe.Code != CodeInvalid || !strings.Contains(pe.Message, c.want) {
			t.Errorf("%s: %v, want invalid saying %q", name, err, c.want)
		}
	}
}
