package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
)

// TestCountFeasibility: `count --feasibility` asks the sites' approximate counts (each a
// multiple of the default rounding 10, labelled with rounding and noise, small sites "<10"),
// and a count without the flag stays exact. Feasibility counts of A minus one patient (women
// aged ≤ 76: lung has one woman aged 77, at inst1) and of A, then the exact count of A: the
// site holding her refuses it (guard rule 6, the reverse order of review class 5: the
// approximate answer of A minus her and the exact count of A are a difference of one
// patient), and the exact count of a cohort never counted approximately is answered.
func TestCountFeasibility(t *testing.T) {
	url := startLung(t, node.DefaultPolicy())
	type countDoc struct {
		Total   struct{ N int }
		PerSite []struct {
			Site  string
			Total struct{ N int }
		} `json:"per_site"`
		Approximate *struct{ Rounding, Noise int }
		Sites       struct {
			Answered []string
			Refused  []struct{ Site, Code, Reason, Rule, Limit string }
		}
	}
	count := func(args ...string) countDoc {
		t.Helper()
		code, out, errOut := cli(t, append([]string{"--hub", url, "count", "--study", "lung", "--format", "json"}, args...)...)
		if code != 0 {
			t.Fatalf("count %q: exit %d\n%s%s", args, code, out, errOut)
		}
		var doc countDoc
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return doc
	}
	for _, where := range []string{"sex = female and age <= 76", "sex = female"} {
		doc := count("--where", where, "--feasibility")
		if doc.Approximate == nil || doc.Approximate.Rounding != 10 || doc.Approximate.Noise != 3 {
			t.Fatalf("%s: not labelled approximate with rounding 10, noise 3: %+v", where, doc.Approximate)
		}
		sum := 0
		for _, s := range doc.PerSite {
			if s.Total.N%10 != 0 || s.Total.N < 10 {
				t.Errorf("%s: site %s released %d", where, s.Site, s.Total.N)
			}
			sum += s.Total.N
		}
		if sum != doc.Total.N || len(doc.PerSite) == 0 {
			t.Errorf("%s: sites add up to %d, total %d", where, sum, doc.Total.N)
		}
		for _, r := range doc.Sites.Refused {
			if r.Reason != "cohort has fewer than min_cohort=10 patients" || r.Rule != protocol.ReasonSmallCohort || r.Limit != "10" {
				t.Errorf("%s: site %s refused: %+v", where, r.Site, r)
			}
		}
	}
	// Men were never counted approximately: their exact count is answered, and exact.
	exact := count("--where", "sex = male")
	if exact.Approximate != nil || len(exact.Sites.Answered) == 0 {
		t.Errorf("exact count of men: approximate %+v, answered by %v", exact.Approximate, exact.Sites.Answered)
	}
	// inst1 is the only site with ten or more women, so the exact count of women is refused
	// everywhere: by inst1's guard, by the others' min_cohort.
	code, _, errOut := cli(t, "--hub", url, "count", "--study", "lung", "--where", "sex = female")
	if code == 0 || !strings.Contains(errOut, "inst1: overlap guard") || strings.Count(errOut, "overlap guard") != 1 {
		t.Errorf("exact count of women after the feasibility counts: exit %d\n%s", code, errOut)
	}
	code, out, errOut := cli(t, "--hub", url, "count", "--study", "lung", "--feasibility", "--group", "sex")
	if code != 0 || !strings.Contains(out, "lung: ≈") || !strings.Contains(out, "noise of up to ±3") || !strings.Contains(out, "<10") {
		t.Errorf("text output: exit %d\n%s%s", code, out, errOut)
	}
}
