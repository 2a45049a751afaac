package node

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// predictiveQuery is the Cox query of a predictive screen's marker on the lung data: sex ==
// male as the "treated" indicator, interacting with marker.
func predictiveQuery(marker string, beta []float64) protocol.Query {
	q := query(protocol.KindCox)
	q.Endpoint = "OS"
	q.Cox = &protocol.CoxRequest{Form: protocol.CoxStratified, Ties: "efron", Covariates: []string{"sex", marker, "age"},
		Indicators: map[string]string{"sex": "male"}, Interactions: []protocol.CoxInteraction{{A: "sex", B: marker}}, Beta: beta}
	return q
}

// The predictive design in both regimes. A dp analyst's model is refused before any row is
// read (no differentially private Cox release exists), so a predictive screen run by one
// learns nothing. A trusted analyst gets the design with the indicator and the interaction
// columns named as R names them; under a protective policy an interaction column whose
// treated-and-marker patients are fewer than min_cell is refused, naming the column, and an
// interaction's β beyond the product of its factors' caps is refused.
func TestPredictiveDesignBothRegimes(t *testing.T) {
	pol := DefaultPolicy()
	pol.DPRhoDaily, pol.DPRhoTotal = 1e12, 1e12
	pol.OverlapGuard = false      // the same cohort asked at several β: not what is tested here
	pol.EventsPerCoxCovariate = 0 // the small cohort below has 39 patients for 8 columns
	l := newDPLung(t, pol, lungCSV)

	r := handleJSON(t, l.e, sign(t, l.dora, predictiveQuery("karno", nil)))
	if r.Error == nil || r.Error.Code != protocol.CodeRefusedByPolicy || !strings.Contains(r.Error.Message, "dp role") || r.Cox != nil {
		t.Fatalf("dp analyst: %+v", r.Error)
	}

	r = mustOK(t, handleJSON(t, l.e, sign(t, l.tom, predictiveQuery("karno", nil))))
	want := []string{"sexmale", "karno", "age", "sexmale:karno"}
	if !slices.Equal(r.Cox.Columns, want) || len(r.Cox.Gradient) != 4 || len(r.Cox.BetaLimit) != 4 {
		t.Fatalf("columns %q (gradient %d, limits %d), want %q", r.Cox.Columns, len(r.Cox.Gradient), len(r.Cox.BetaLimit), want)
	}
	if lim := r.Cox.BetaLimit; math.Abs(lim[3]-lim[0]*lim[1]/pol.MaxCoxLogHR) > 1e-15 {
		t.Errorf("interaction cap %g, want %g", lim[3], lim[0]*lim[1]/pol.MaxCoxLogHR)
	}
	beyond := []float64{0, 0, 0, 1.01 * r.Cox.BetaLimit[3]}
	if r := handleJSON(t, l.e, sign(t, l.tom, predictiveQuery("karno", beyond))); r.Error == nil || !strings.Contains(r.Error.Message, "sexmale:karno") {
		t.Errorf("β beyond the interaction's cap: %+v", r.Error)
	}
	// Women, and men aged 75 or more: the indicator ecog == ecog1 and sex each hold enough
	// patients and events (10 men, one censored), but only 4 of the men have ECOG 1: the
	// interaction column ecogecog1:sexmale is refused, and named.
	q := predictiveQuery("sex", nil)
	q.Cohort = &protocol.Filter{Op: protocol.OpOr, Args: []*protocol.Filter{eq("sex", "female"), rng("age", fp(75), nil)}}
	q.Cox.Covariates = []string{"ecog", "sex", "age"}
	q.Cox.Indicators = map[string]string{"ecog": "ecog1"}
	q.Cox.Interactions = []protocol.CoxInteraction{{A: "ecog", B: "sex"}}
	r = handleJSON(t, l.e, sign(t, l.tom, q))
	if r.Error == nil || r.Error.Code != protocol.CodeRefusedByPolicy || !strings.Contains(r.Error.Message, "design column ecogecog1:sexmale ") || r.Cox != nil {
		t.Fatalf("small interaction cell: %+v", r.Error)
	}
	q.Cox.Interactions = nil // the same model without the interaction is answered
	mustOK(t, handleJSON(t, l.e, sign(t, l.tom, q)))
	// Unknown indicator level, and an indicator on a numeric variable: refused as invalid.
	q = predictiveQuery("karno", nil)
	q.Cox.Indicators = map[string]string{"sex": "other"}
	if r := handleJSON(t, l.e, sign(t, l.tom, q)); r.Error == nil || r.Error.Code != protocol.CodeNotFound {
		t.Errorf("unknown indicator level: %+v", r.Error)
	}
	q = predictiveQuery("karno", nil)
	q.Cox.Indicators = map[string]string{"age": "60"}
	if r := handleJSON(t, l.e, sign(t, l.tom, q)); r.Error == nil || r.Error.Code != protocol.CodeInvalid {
		t.Errorf("indicator on a numeric variable: %+v", r.Error)
	}
}
