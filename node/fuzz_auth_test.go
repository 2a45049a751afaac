package node

import (
	"strings"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// FuzzParseAnalysts: any analysts file is refused with its line number or yields a list in
// which every key maps to one name of at most MaxNameLen bytes, no name twice.
func FuzzParseAnalysts(f *testing.F) {
	k1, k2 := pubText(testKey(1)), pubText(testKey(2))
	f.Add("alice " + k1 + "\nbob " + k2 + "\n")
	f.Add("# comment\n\nalice\t" + k1 + "  \n")
	f.Add("alice " + k1 + "\nalice " + k2 + "\n")
	f.Add("alice " + k1[:20] + "\n")
	f.Add("\x00 \xff\n")
	f.Fuzz(func(t *testing.T, data string) {
		a, err := ParseAnalysts(strings.NewReader(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "node: analysts") {
				t.Fatalf("error %q without the package prefix", err)
			}
			return
		}
		names := map[string]bool{}
		for key, k := range a.byKey {
			if names[k.name] || k.name == "" || len(k.name) > protocol.MaxNameLen || strings.ContainsAny(k.name, " \t\n") {
				t.Fatalf("name %q accepted", k.name)
			}
			names[k.name] = true
			if protocol.EncodePublicKey(k.pub) != key {
				t.Fatalf("key %q stored under %q", protocol.EncodePublicKey(k.pub), key)
			}
		}
		if a.Len() == 0 {
			t.Fatal("empty list accepted")
		}
	})
}

// FuzzParsePolicy: any policy file is refused or yields a policy with no negative or
// non-finite value; absent fields never weaken the safe defaults except in an exact policy.
func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{`{}`, `{"min_cell":3}`, `{"min_cohort":0,"min_cell":0,"bin_days":0,"overlap_guard":false}`,
		`{"bin_days":1e309}`, `{"min_cel":3}`, `{"daily_query_budget":-1}`, `[]`, `{"bin_days":-0}`,
		`{"feasibility_rounding":0}`, `{"feasibility_noise":5,"feasibility_budget":0}`, `{"feasibility_cost":0.1}`, `{"feasibility_cost":1e-300}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePolicy(data)
		if err != nil {
			return
		}
		if p.MinCohort < 0 || p.MinCell < 0 || !(p.BinDays >= 0) || p.BinDays > 1e308 || p.DailyQueryBudget < 0 || p.EventsPerCoxCovariate < 0 ||
			p.FeasibilityRounding < 1 || p.FeasibilityRounding > maxFeasibilityNoise || p.FeasibilityNoise < 0 || p.FeasibilityNoise > maxFeasibilityNoise || p.FeasibilityBudget < 0 ||
			!(p.FeasibilityCost > 0 && p.FeasibilityCost <= 1) {
			t.Fatalf("policy %+v accepted from %q", p, data)
		}
	})
}
