package protocol

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func coxSumsReply() Reply {
	r := coxReply(CoxPooled)
	for k := range r.Cox.Rows {
		r.Cox.Rows[k].R2, r.Cox.Rows[k].E2 = nil, nil
	}
	return r
}

func coxHessianQuery() Query {
	q := coxQuery(CoxPooledHessian)
	q.Cox.Site = "inst1"
	q.Cox.Weights = &CoxWeights{A: []float64{0.5, 1.5}, B: []float64{0, 0.2}}
	return q
}

func coxHessianReply() Reply {
	r := Reply{Version: Version, QueryID: "q2", Site: "inst1", Kind: KindCox,
		Cox: &CoxReply{Columns: []string{"age", "sexmale"}, N: 3, Events: 2, SecondMoment: []float64{3600, 60, 60, 1}}}
	return r
}

// TestValidateTwoPhaseCox: phase-1 rows carry no p×p sums, phase-2 replies only a symmetric
// second moment with a non-negative diagonal; each broken rule names its field.
func TestValidateTwoPhaseCox(t *testing.T) {
	for _, c := range []struct {
		name  string
		q     Query
		r     func() Reply
		field string
	}{
		{"sums ok", coxQuery(CoxPooledSums), coxSumsReply, ""},
		{"sums with r2", coxQuery(CoxPooledSums), func() Reply { return coxReply(CoxPooled) }, "cox.rows[0].r2"},
		{"sums with a second moment", coxQuery(CoxPooledSums), func() Reply { r := coxSumsReply(); r.Cox.SecondMoment = []float64{1, 0, 0, 1}; return r }, "cox"},
		{"hessian ok", coxHessianQuery(), coxHessianReply, ""},
		{"hessian short", coxHessianQuery(), func() Reply { r := coxHessianReply(); r.Cox.SecondMoment = r.Cox.SecondMoment[:3]; return r }, "cox.second_moment"},
		{"hessian asymmetric", coxHessianQuery(), func() Reply { r := coxHessianReply(); r.Cox.SecondMoment[1] = 61; return r }, "cox.second_moment[1,0]"},
		{"hessian negative diagonal", coxHessianQuery(), func() Reply { r := coxHessianReply(); r.Cox.SecondMoment[3] = -1; return r }, "cox.second_moment[1,1]"},
		{"hessian NaN", coxHessianQuery(), func() Reply { r := coxHessianReply(); r.Cox.SecondMoment[0] = math.NaN(); return r }, "cox.second_moment[0]"},
		{"hessian with rows", coxHessianQuery(), func() Reply { r := coxHessianReply(); r.Cox.Rows = coxSumsReply().Cox.Rows; return r }, "cox"},
	} {
		err := ValidateReply(c.q, c.r())
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.field != "" && (err == nil || !strings.Contains(err.Error(), c.field)):
			t.Errorf("%s: %v, want an error naming %s", c.name, err, c.field)
		}
	}
}

// TestValidateTwoPhaseCoxQuery: the one-phase pooled form is an unsupported version; weights
// belong to pooled_hessian only, which names its site and sends finite, ordered weights.
func TestValidateTwoPhaseCoxQuery(t *testing.T) {
	for _, c := range []struct {
		name string
		mod  func(q *Query)
		code string
	}{
		{"ok", func(q *Query) {}, ""},
		{"one-phase pooled", func(q *Query) { q.Cox.Form, q.Cox.Site, q.Cox.Weights = CoxPooled, "", nil }, CodeUnsupported},
		{"sums with weights", func(q *Query) { q.Cox.Form = CoxPooledSums }, CodeInvalid},
		{"no site", func(q *Query) { q.Cox.Site = "" }, CodeInvalid},
		{"no weights", func(q *Query) { q.Cox.Weights = nil }, CodeInvalid},
		{"decreasing A", func(q *Query) { q.Cox.Weights.A = []float64{2, 1} }, CodeInvalid},
		{"negative A", func(q *Query) { q.Cox.Weights.A = []float64{-1, 1} }, CodeInvalid},
		{"infinite B", func(q *Query) { q.Cox.Weights.B[1] = math.Inf(1) }, CodeInvalid},
	} {
		q := coxHessianQuery()
		c.mod(&q)
		err := ValidateQuery(q)
		var pe *Error
		switch {
		case c.code == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.code != "" && (err == nil || !asError(err, &pe) || pe.Code != c.code):
			t.Errorf("%s: %v, want code %s", c.name, err, c.code)
		}
	}
	// The weights travel as base64 vectors and decode bit for bit.
	q := coxHessianQuery()
	b, err := json.Marshal(q)
	if err != nil {
		t.Fatal(err)
	}
	var back Query
	if err := json.Unmarshal(b, &back); err != nil || back.Cox.Weights.B[1] != 0.2 || back.Cox.Site != "inst1" {
		t.Fatalf("round trip: %v %+v", err, back.Cox)
	}
}

func asError(err error, pe **Error) bool {
	e, ok := err.(*Error)
	*pe = e
	return ok
}
