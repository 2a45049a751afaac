package main

import (
	"strings"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// --merge answers a grouping a rare level made sites refuse: KM by ECOG (one patient has
// ECOG 3) is refused by every site; with ECOG 2 and 3 merged sites answer, with the merged
// group named. Malformed merges are usage errors.
func TestMergeLevels(t *testing.T) {
	url := startLung(t, protocol.Policy{MinCohort: 2, MinCell: 1})
	args := []string{"--hub", url, "km", "--study", "lung", "--endpoint", "os", "--group", "ecog", "--landmarks", "365"}
	// ECOG 3 is one patient: every site refuses, those without it too (an empty group is
	// answered like a small one); the sites with the same reason are named together.
	code, _, errOut := cli(t, args...)
	if code == exitOK || !strings.Contains(errOut, `inst1, inst12, inst13, inst16, inst21, inst22, inst3, inst32: group ecog="ecog3" has fewer than min_cohort`) {
		t.Fatalf("km by ecog: exit %d %s", code, errOut)
	}
	code, merged, errOut := cli(t, append(args, "--merge", "ecog2-3=ecog2,ecog3")...)
	if code != exitOK {
		t.Fatalf("km by ecog, 2 and 3 merged: exit %d %s", code, errOut)
	}
	if !strings.Contains(merged, "ecog2-3") || strings.Contains(merged, "\necog3") {
		t.Errorf("merged output lacks the merged group:\n%s", merged)
	}
	if strings.Contains(merged, `ecog="ecog3"`) || !strings.Contains(merged, " of 18 sites") {
		t.Errorf("merged output:\n%s", merged)
	}
	for merge, want := range map[string]string{
		"x=ecog2,ecog9":     "not a level",
		"ecog0=ecog2,ecog3": "named like another level",
		"x":                 "not NAME=LEVEL",
		"x=ecog3":           "2 to 256 levels",
	} {
		if code, _, errOut := cli(t, append(args, "--merge", merge)...); code != exitUsage || !strings.Contains(errOut, want) {
			t.Errorf("--merge %s: exit %d %q, want usage error %q", merge, code, errOut, want)
		}
	}
	if code, _, errOut := cli(t, "--hub", url, "count", "--study", "lung", "--merge", "x=ecog2,ecog3"); code != exitUsage || !strings.Contains(errOut, "give --group") {
		t.Errorf("--merge without --group: exit %d %q", code, errOut)
	}
}
