package ui

import (
	"errors"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

func TestFormatCountNeverShowsSuppressedAsZero(t *testing.T) {
	for _, c := range []struct {
		n    app.Count
		want string
	}{
		{app.Count{N: 1284}, "1,284"},
		{app.Count{N: 0}, "0"},
		{app.Count{N: 999}, "999"},
		{app.Count{N: 1234567}, "1,234,567"},
		{app.Count{N: 1, Suppressed: true, Max: 4}, "<5"},
		{app.Count{N: 13, Suppressed: true, Max: 16}, "13–16"},
	} {
		if got := FormatCount(c.n); got != c.want {
			t.Errorf("FormatCount(%+v) = %q, want %q", c.n, got, c.want)
		}
	}
}

func TestRangeFilterFlagsBadInput(t *testing.T) {
	f, err := rangeFilter("age", " 18 ", "")
	if err != nil || f.String() != "age ≥ 18" || f.Filter().Op != protocol.OpRange || *f.Filter().Min != 18 || f.Filter().Max != nil {
		t.Errorf("rangeFilter(18, \"\") = %+v, %v", f, err)
	}
	for _, c := range []struct{ lo, hi, msg string }{
		{"abc", "", `"abc" in the field "at least" is not a number`},
		{"", "1e", `"1e" in the field "at most" is not a number`},
		{"", "", "give a lower bound, an upper bound or both"},
		{"70", "60", "the lower bound 70 is above the upper bound 60"},
		{"NaN", "", `"NaN" in the field "at least" is not a number`},
	} {
		_, err := rangeFilter("age", c.lo, c.hi)
		var e *app.Error
		if !errors.As(err, &e) || e.Code != app.EInvalid || e.Message != c.msg {
			t.Errorf("rangeFilter(%q, %q) = %v, want invalid %q", c.lo, c.hi, err, c.msg)
		}
	}
	if numberValidator("x") == nil || numberValidator("") != nil || numberValidator("2.5") != nil {
		t.Error("numberValidator flags the wrong fields")
	}
}

func TestCohortFilterWords(t *testing.T) {
	hi := 65.0
	for _, c := range []struct {
		f    cohortFilter
		want string
	}{
		{cohortFilter{Var: "stage", Categorical: true, Values: []string{"IIIB", "IVA"}}, "stage in IIIB, IVA"},
		{cohortFilter{Var: "age", Max: &hi}, "age ≤ 65"},
	} {
		if got := c.f.String(); got != c.want {
			t.Errorf("%+v reads %q, want %q", c.f, got, c.want)
		}
	}
}

func TestPredictRefusals(t *testing.T) {
	count := &app.CountResult{PerSite: []app.SiteCount{
		{Site: "big", Groups: map[string]app.Count{"a": {N: 40}, "b": {N: 12}}},
		{Site: "small", Groups: map[string]app.Count{"a": {N: 7}, "b": {N: 1, Suppressed: true, Max: 4}, "c": {N: 0}}},
	}}
	// A refusal for the feasibility budget says nothing of an analysis, whatever its words.
	got := PredictRefusals(count, []app.SiteProblem{
		{Site: "tiny", Code: protocol.CodeRefusedByPolicy, Message: "cohort has fewer than min_cohort=10 patients", Reason: protocol.ReasonSmallCohort, Limit: 10},
		{Site: "busy", Code: protocol.CodeRefusedByPolicy, Message: "daily feasibility budget of 300 counts used up", Reason: protocol.ReasonFeasibilityBudget, Limit: 300},
	}, map[string]int{"big": 10, "small": 10})
	if len(got) != 2 || got[0].Site != "tiny" || got[1].Site != "small" ||
		got[1].Message != "group a (7), b (<5) below its minimum of 10 patients" {
		t.Errorf("PredictRefusals = %+v", got)
	}
}

func TestErrorText(t *testing.T) {
	err := app.Errorf(app.ERefusedByPolicy, "no site answered: a: cohort has fewer than min_cohort=10 patients")
	want := "A site's privacy policy does not allow this query.\nNo site answered: a: cohort has fewer than min_cohort=10 patients."
	if got := ErrorText(err); got != want {
		t.Errorf("ErrorText = %q, want %q", got, want)
	}
	if got := ErrorText(errors.New("sql: database is locked")); strings.Contains(got, "sql") {
		t.Errorf("an uncoded error leaks its detail: %q", got)
	}
}
