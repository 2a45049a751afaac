package protocol

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

// TestValidateQuery: each structural fault of a query is refused with its code and a message
// naming the field, whatever the study; well-formed queries of every kind pass.
func TestValidateQuery(t *testing.T) {
	base := func() Query {
		return Query{Version: Version, Kind: KindCount, ID: "q1", Study: "lung",
			Cohort: &Filter{Op: OpEq, Var: "sex", Value: "male"}}
	}
	good := []func(q *Query){
		func(q *Query) {},
		func(q *Query) { q.Kind, q.Study, q.Cohort = KindCatalog, "", nil },
		func(q *Query) { q.Kind, q.Variables = KindSummary, []string{"age"} },
		func(q *Query) { q.Kind, q.Endpoint = KindSurvival, "os" },
		func(q *Query) { q.Kind, q.Endpoint, q.SplitCauses = KindSurvival, "os", true },
		func(q *Query) {
			q.Kind, q.Endpoint = KindCox, "os"
			q.Cox = &CoxRequest{Form: CoxStratified, Ties: "efron", Covariates: []string{"age"}, Beta: []float64{0}}
		},
		func(q *Query) { q.Feasibility = true },
		func(q *Query) {
			q.Kind, q.Endpoint = KindCox, "os"
			q.Cox = &CoxRequest{Form: CoxValidate, Ties: "efron", Covariates: []string{"age"}, Beta: []float64{0.02},
				Landmarks: []float64{180, 365}, BaselineCumHaz: []float64{0.1, 0.3}}
		},
		func(q *Query) {
			q.Kind, q.Endpoint = KindCox, "os"
			q.Cox = &CoxRequest{Form: CoxLPHistogram, Ties: "efron", Covariates: []string{"age"}, Beta: []float64{0.02}, LPBinWidth: 0.25}
		},
		func(q *Query) {
			q.Kind, q.Endpoint = KindCox, "os"
			q.Cox = &CoxRequest{Form: CoxStratified, Ties: "efron", Covariates: []string{"trt", "tp53", "age"},
				Indicators: map[string]string{"trt": "pembro"}, Interactions: []CoxInteraction{{"trt", "tp53"}}}
		},
	}
	for i, mod := range good {
		q := base()
		mod(&q)
		if err := ValidateQuery(q); err != nil {
			t.Errorf("good query %d refused: %v", i, err)
		}
	}
	long := strings.Repeat("x", MaxNameLen+1)
	cases := []struct {
		mod  func(q *Query)
		code string
		msg  string
	}{
		{func(q *Query) { q.Version = "v0" }, CodeUnsupported, `"v0"`},
		{func(q *Query) { q.Kind = "sql" }, CodeInvalid, "unknown query kind"},
		{func(q *Query) { q.SplitCauses = true }, CodeInvalid, "split_causes belongs to survival queries, not count"},
		{func(q *Query) {
			q.Kind, q.Endpoint, q.Cox = KindCox, "os", validateReq(nil, []float64{1}, []float64{0.1})
		}, CodeInvalid, "needs the model's beta"},
		{func(q *Query) {
			q.Kind, q.Endpoint = KindCox, "os"
			q.Cox = &CoxRequest{Form: CoxLPHistogram, Ties: "efron", Covariates: []string{"age"}, Beta: []float64{0.02}, LPBinWidth: 0.001}
		}, CodeInvalid, "cox.lp_bin_width 0.001"},
		{func(q *Query) {
			q.Kind, q.Endpoint = KindCox, "os"
			q.Cox = &CoxRequest{Form: CoxLPHistogram, Ties: "efron", Covariates: []string{"age"}, Beta: []float64{0.02}}
		}, CodeInvalid, "cox.lp_bin_width 0"},
		{func(q *Query) {
			q.Kind, q.Endpoint = KindCox, "os"
			q.Cox = &CoxRequest{Form: CoxStratified, Ties: "efron", Covariates: []string{"age"}, Beta: []float64{0.02}, LPBinWidth: 0.25}
		}, CodeInvalid, "belongs to the lp_histogram form"},
		{func(q *Query) {
			q.Kind, q.Endpoint, q.Cox = KindCox, "os", validateReq([]float64{1}, []float64{1, 2}, []float64{0.1})
		}, CodeInvalid, "cox.landmarks has 2 times"},
		{func(q *Query) {
			q.Kind, q.Endpoint, q.Cox = KindCox, "os", validateReq([]float64{1}, []float64{2, 1}, []float64{0.1, 0.2})
		}, CodeInvalid, "cox.landmarks[1]"},
		{func(q *Query) {
			q.Kind, q.Endpoint, q.Cox = KindCox, "os", validateReq([]float64{1}, []float64{1, 2}, []float64{0.3, 0.2})
		}, CodeInvalid, "cox.baseline_cumhaz[1]"},
		{func(q *Query) {
			q.Kind, q.Endpoint, q.Cox = KindCox, "os", validateReq([]float64{1}, []float64{1}, []float64{0.3})
			q.Cox.Form = CoxStratified
		}, CodeInvalid, "belong to the validate form"},
		{func(q *Query) { q.Study = "" }, CodeInvalid, "no study"},
		{func(q *Query) { q.Study = long }, CodeInvalid, "study longer"},
		{func(q *Query) { q.Cohort = &Filter{Op: OpAnd} }, CodeInvalid, "cohort: \"and\" without arguments"},
		{func(q *Query) { q.Cohort = &Filter{Op: OpRange, Var: "age"} }, CodeInvalid, "min or max"},
		{func(q *Query) { q.Kind, q.Cohort = KindCatalog, nil; q.GroupBy = "sex" }, CodeInvalid, "catalog query takes no"},
		{func(q *Query) { q.Feasibility, q.GroupBy = true, "sex" }, CodeInvalid, "feasibility"},
		{func(q *Query) { q.Variables = []string{"age"} }, CodeInvalid, "belong to summary"},
		{func(q *Query) { q.Cox = &CoxRequest{} }, CodeInvalid, "cox parameters given to a count"},
		{func(q *Query) { q.Kind = KindSummary }, CodeInvalid, "summary needs 1 to"},
		{func(q *Query) { q.Kind, q.Variables = KindSummary, []string{"age", "age"} }, CodeInvalid, "requested twice"},
		{func(q *Query) {
			q.Kind, q.Variables = KindSummary, []string{"age"}
			q.Bins = []HistogramSpec{{Variable: "age", Edges: []float64{1, math.NaN()}}}
		}, CodeInvalid, "bins[0].edges[1]"},
		{func(q *Query) { q.Kind = KindSurvival }, CodeInvalid, "survival needs an endpoint"},
		{func(q *Query) { q.Kind, q.Endpoint = KindCox, "os" }, CodeInvalid, "without cox parameters"},
		{func(q *Query) {
			q.Kind, q.Endpoint = KindCox, "os"
			q.Cox = &CoxRequest{Form: CoxPooledSums, Ties: "exact", Covariates: []string{"age"}}
		}, CodeInvalid, "cox.ties"},
		{func(q *Query) {
			q.Kind, q.Endpoint = KindCox, "os"
			q.Cox = &CoxRequest{Form: CoxPooledSums, Ties: "efron", Covariates: []string{"age"}, Beta: []float64{math.Inf(1)}}
		}, CodeInvalid, "cox.beta[0]"},
		{func(q *Query) {
			q.Kind, q.Endpoint = KindCox, "os"
			q.Cox = &CoxRequest{Form: CoxPooledSums, Ties: "efron", Covariates: []string{"age"}, Levels: map[string][]string{"sex": {"m"}}}
		}, CodeInvalid, "is not a covariate"},
		{func(q *Query) {
			q.Kind, q.Endpoint = KindCox, "os"
			q.Cox = &CoxRequest{Form: CoxStratified, Ties: "efron", Covariates: []string{"trt", "age"}, Interactions: []CoxInteraction{{"trt", "tp53"}}}
		}, CodeInvalid, "cox.interactions[0]"},
		{func(q *Query) {
			q.Kind, q.Endpoint = KindCox, "os"
			q.Cox = &CoxRequest{Form: CoxStratified, Ties: "efron", Covariates: []string{"trt", "age"}, Interactions: []CoxInteraction{{"trt", "age"}, {"age", "trt"}}}
		}, CodeInvalid, "cox.interactions[1]"},
		{func(q *Query) {
			q.Kind, q.Endpoint = KindCox, "os"
			q.Cox = &CoxRequest{Form: CoxStratified, Ties: "efron", Covariates: []string{"trt"}, Indicators: map[string]string{"trt": "x"},
				Levels: map[string][]string{"trt": {"x", "y"}}}
		}, CodeInvalid, "also has cox.levels"},
	}
	for i, c := range cases {
		q := base()
		c.mod(&q)
		err := ValidateQuery(q)
		var pe *Error
		if !errors.As(err, &pe) || pe.Code != c.code || !strings.Contains(pe.Message, c.msg) {
			t.Errorf("case %d: %v; want %s and %q", i, err, c.code, c.msg)
		}
	}
}

func validateReq(beta, landmarks, cumhaz []float64) *CoxRequest {
	return &CoxRequest{Form: CoxValidate, Ties: "efron", Covariates: []string{"age"}, Beta: beta, Landmarks: landmarks, BaselineCumHaz: cumhaz}
}

// A survival query that does not ask for the split by cause encodes as before the field
// existed (a node older than it refuses unknown fields), and one that asks carries it.
func TestSplitCausesOmittedUnlessAsked(t *testing.T) {
	q := Query{Version: Version, Kind: KindSurvival, ID: "q", Study: "lung", Endpoint: "os"}
	plain, err := json.Marshal(q)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(plain), "split_causes") {
		t.Errorf("unsplit query encodes the field: %s", plain)
	}
	q.SplitCauses = true
	split, err := json.Marshal(q)
	if err != nil {
		t.Fatal(err)
	}
	var back Query
	if err := json.Unmarshal(split, &back); err != nil || !back.SplitCauses || !strings.Contains(string(split), `"split_causes":true`) {
		t.Errorf("split query %s decodes to %+v (%v)", split, back, err)
	}
}
