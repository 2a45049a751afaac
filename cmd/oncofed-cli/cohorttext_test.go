package main

import (
	"strings"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// TestTextHeadersNameCohort: the text output of km and count says the cohort, in the syntax
// --where took, normalised; without --where it says none.
func TestTextHeadersNameCohort(t *testing.T) {
	url := startLung(t, protocol.Policy{MinCohort: 5})
	for _, cmd := range []string{"km", "count"} {
		args := []string{"--hub", url, cmd, "--study", "lung", "--where", "sex=female AND age>=60"}
		if cmd == "km" {
			args = append(args, "--endpoint", "os")
		}
		code, out, errOut := cli(t, args...)
		if code != 0 || !strings.Contains(out, "cohort: sex = female and age >= 60\n") {
			t.Errorf("%s: exit %d\n%s%s", cmd, code, out, errOut)
		}
	}
	code, out, _ := cli(t, "--hub", url, "count", "--study", "lung")
	if code != 0 || strings.Contains(out, "cohort:") {
		t.Errorf("count of the whole study: exit %d\n%s", code, out)
	}
}
