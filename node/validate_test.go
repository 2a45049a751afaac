package node

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// Every malformed or unknown request is refused with its code before data is touched.
func TestQueryRefusals(t *testing.T) {
	ctx := context.Background()
	e, _ := lungEngine(t, ExactPolicy(), nil)
	deep := eq("sex", "male")
	for i := 0; i < protocol.MaxFilterDepth+1; i++ {
		deep = &protocol.Filter{Op: protocol.OpNot, Args: []*protocol.Filter{deep}}
	}
	wide := &protocol.Filter{Op: protocol.OpOr}
	for i := 0; i < protocol.MaxFilterNodes; i++ {
		wide.Args = append(wide.Args, eq("sex", "male"))
	}
	long := strings.Repeat("x", protocol.MaxNameLen+1)
	cases := []struct {
		name string
		mod  func(q *protocol.Query)
		code string
		msg  string
	}{
		{"version", func(q *protocol.Query) { q.Version = "v0" }, protocol.CodeUnsupported, "v0"},
		{"kind", func(q *protocol.Query) { q.Kind = "sql" }, protocol.CodeInvalid, "unknown query kind"},
		{"no study", func(q *protocol.Query) { q.Study = "" }, protocol.CodeInvalid, "no study"},
		{"unknown study", func(q *protocol.Query) { q.Study = "colon" }, protocol.CodeNotFound, "colon"},
		{"unknown variable", func(q *protocol.Query) { q.Cohort = eq("stage", "IV") }, protocol.CodeNotFound, `cohort: no variable "stage"`},
		{"unknown category", func(q *protocol.Query) { q.Cohort = and(eq("sex", "male"), eq("ecog", "ecog9")) }, protocol.CodeNotFound, `cohort.args[1]: "ecog" has no category "ecog9"`},
		{"range on categorical", func(q *protocol.Query) { q.Cohort = rng("sex", fp(1), nil) }, protocol.CodeInvalid, "categorical"},
		{"eq on numeric", func(q *protocol.Query) { q.Cohort = eq("age", "60") }, protocol.CodeInvalid, "numeric"},
		{"unknown op", func(q *protocol.Query) { q.Cohort = &protocol.Filter{Op: "like", Var: "sex"} }, protocol.CodeInvalid, "unknown operator"},
		{"empty and", func(q *protocol.Query) { q.Cohort = &protocol.Filter{Op: protocol.OpAnd} }, protocol.CodeInvalid, "without arguments"},
		{"not with two", func(q *protocol.Query) {
			q.Cohort = &protocol.Filter{Op: protocol.OpNot, Args: []*protocol.Filter{eq("sex", "male"), eq("sex", "male")}}
		}, protocol.CodeInvalid, "exactly one"},
		{"nil arg", func(q *protocol.Query) { q.Cohort = and(eq("sex", "male"), nil) }, protocol.CodeInvalid, "cohort.args[1]: empty"},
		{"leaf with args", func(q *protocol.Query) {
			f := eq("sex", "male")
			f.Args = []*protocol.Filter{eq("sex", "male")}
			q.Cohort = f
		}, protocol.CodeInvalid, "takes no args"},
		{"eq with range", func(q *protocol.Query) { f := eq("sex", "male"); f.Min = fp(1); q.Cohort = f }, protocol.CodeInvalid, "var and value only"},
		{"range no bounds", func(q *protocol.Query) { q.Cohort = rng("age", nil, nil) }, protocol.CodeInvalid, "min or max"},
		{"range inverted", func(q *protocol.Query) { q.Cohort = rng("age", fp(70), fp(60)) }, protocol.CodeInvalid, "above max"},
		{"empty in", func(q *protocol.Query) {
			q.Cohort = &protocol.Filter{Op: protocol.OpIn, Var: "sex", Values: []string{}}
		}, protocol.CodeInvalid, "1 to"},
		{"too deep", func(q *protocol.Query) { q.Cohort = deep }, protocol.CodeInvalid, "deeper"},
		{"too wide", func(q *protocol.Query) { q.Cohort = wide }, protocol.CodeInvalid, "more than 256"},
		{"long study", func(q *protocol.Query) { q.Study = long }, protocol.CodeInvalid, "longer"},
		{"long value", func(q *protocol.Query) { q.Cohort = eq("sex", long) }, protocol.CodeInvalid, "longer"},
		{"group numeric", func(q *protocol.Query) { q.GroupBy = "wt.loss" }, protocol.CodeInvalid, "numeric"},
		{"group unknown", func(q *protocol.Query) { q.GroupBy = "stage" }, protocol.CodeNotFound, "stage"},
		{"cox params on count", func(q *protocol.Query) { q.Cox = &protocol.CoxRequest{} }, protocol.CodeInvalid, "cox parameters"},
		{"variables on count", func(q *protocol.Query) { q.Variables = []string{"age"} }, protocol.CodeInvalid, "summary"},
		{"summary unknown var", func(q *protocol.Query) { q.Kind = protocol.KindSummary; q.Variables = []string{"stage"} }, protocol.CodeNotFound, "stage"},
		{"summary no vars", func(q *protocol.Query) { q.Kind = protocol.KindSummary }, protocol.CodeInvalid, "1 to"},
		{"summary bins categorical", func(q *protocol.Query) {
			q.Kind = protocol.KindSummary
			q.Variables = []string{"sex"}
			q.Bins = []protocol.HistogramSpec{{Variable: "sex", Edges: []float64{1}}}
		}, protocol.CodeInvalid, "categorical"},
		{"summary edges unsorted", func(q *protocol.Query) {
			q.Kind = protocol.KindSummary
			q.Variables = []string{"age"}
			q.Bins = []protocol.HistogramSpec{{Variable: "age", Edges: []float64{2, 1}}}
		}, protocol.CodeInvalid, "increasing"},
		{"survival no endpoint", func(q *protocol.Query) { q.Kind = protocol.KindSurvival }, protocol.CodeInvalid, "endpoint"},
		{"survival unknown endpoint", func(q *protocol.Query) { q.Kind = protocol.KindSurvival; q.Endpoint = "PFS" }, protocol.CodeNotFound, "PFS"},
		{"cox bad form", func(q *protocol.Query) {
			q.Kind, q.Endpoint = protocol.KindCox, "OS"
			q.Cox = &protocol.CoxRequest{Form: "exact", Ties: "efron", Covariates: []string{"age"}}
		}, protocol.CodeInvalid, "form"},
		{"cox beta length", func(q *protocol.Query) {
			q.Kind, q.Endpoint = protocol.KindCox, "OS"
			q.Cox = &protocol.CoxRequest{Form: protocol.CoxStratified, Ties: "efron", Covariates: []string{"age"}, Beta: []float64{0, 0}}
		}, protocol.CodeInvalid, "2 coefficients for 1 design columns"},
		{"cox huge beta", func(q *protocol.Query) {
			q.Kind, q.Endpoint = protocol.KindCox, "OS"
			q.Cox = &protocol.CoxRequest{Form: protocol.CoxPooledSums, Ties: "efron", Covariates: []string{"age"}, Beta: []float64{1e6}}
		}, protocol.CodeInvalid, "overflow"},
		{"cox unknown level", func(q *protocol.Query) {
			q.Kind, q.Endpoint = protocol.KindCox, "OS"
			q.Cox = &protocol.CoxRequest{Form: protocol.CoxStratified, Ties: "efron", Covariates: []string{"sex"}, Levels: map[string][]string{"sex": {"f", "m"}}}
		}, protocol.CodeNotFound, "no category"},
		{"cox levels leave a category out", func(q *protocol.Query) {
			q.Kind, q.Endpoint = protocol.KindCox, "OS"
			q.Cox = &protocol.CoxRequest{Form: protocol.CoxStratified, Ties: "efron", Covariates: []string{"ecog"}, Levels: map[string][]string{"ecog": {"ecog1", "ecog0"}}}
		}, protocol.CodeInvalid, "every declared category"},
		{"cox pooled strata", func(q *protocol.Query) {
			q.Kind, q.Endpoint = protocol.KindCox, "OS"
			q.Cox = &protocol.CoxRequest{Form: protocol.CoxPooledSums, Ties: "efron", Covariates: []string{"age"}, Strata: "sex"}
		}, protocol.CodeInvalid, "stratified form"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := query(protocol.KindCount)
			c.mod(&q)
			r := e.Handle(ctx, q)
			wantCode(t, r, c.code)
			if !strings.Contains(r.Error.Message, c.msg) {
				t.Errorf("message %q does not mention %q", r.Error.Message, c.msg)
			}
			if r.Policy.MinCell != 0 || r.Version != protocol.Version || r.Site != "lung" {
				t.Errorf("refusal without the reply envelope: %+v", r)
			}
		})
	}
}

func TestHandleJSON(t *testing.T) {
	ctx := context.Background()
	e, _ := lungEngine(t, ExactPolicy(), nil)
	decode := func(b []byte) protocol.Reply {
		var r protocol.Reply
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("reply is not JSON: %s", b)
		}
		return r
	}
	r := decode(e.HandleJSON(ctx, []byte(`{"version":"v1","kind":"count","id":"x1","study":"lung","group_by":"sex"}`)))
	if r.Error != nil || r.QueryID != "x1" || r.Count.Total.N != 227 || r.Count.Groups["female"].N != 90 || r.DataCut != "2020-01-01" ||
		!slices.Equal(r.Count.Order, []string{"female", "male"}) {
		t.Fatalf("reply %+v", r)
	}
	for _, bad := range []string{
		``, `null`, `[]`, `{"version":"v1","kind":"count","study":"lung","extra":1}`, `{"version":"v1"} {"x":1}`,
		`{"version":"v1","kind":"count","study":"lung","cohort":{"op":"eq","var":"sex","value":7}}`,
		`{"version":"v1","kind":"count","study":"lung"` + strings.Repeat(" ", protocol.MaxQueryBytes) + `}`,
	} {
		r := decode(e.HandleJSON(ctx, []byte(bad)))
		if r.Error == nil || (r.Error.Code != protocol.CodeInvalid && r.Error.Code != protocol.CodeUnsupported) {
			t.Errorf("%.60q: reply %+v, want invalid", bad, r.Error)
		}
	}
}
