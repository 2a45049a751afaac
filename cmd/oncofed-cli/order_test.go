package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// --group-order puts the groups in the analyst's order in the text and JSON output (the
// numbers of each group unchanged), merged groups included; an unknown or repeated group, or
// an order without --group, is a usage error naming it.
func TestGroupOrder(t *testing.T) {
	url := startLung(t, protocol.Policy{MinCohort: 2, MinCell: 1})
	args := []string{"--hub", url, "--format", "json", "km", "--study", "lung", "--endpoint", "os", "--group", "ecog", "--merge", "ecog2-3=ecog2,ecog3", "--landmarks", "365"}
	groups := func(extra ...string) ([]string, map[string]string) {
		t.Helper()
		code, out, errOut := cli(t, append(args, extra...)...)
		if code != exitOK {
			t.Fatalf("km %v: exit %d %s", extra, code, errOut)
		}
		var doc struct {
			Groups []json.RawMessage `json:"groups"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("km %v: %v\n%s", extra, err, out)
		}
		var names []string
		raw := map[string]string{}
		for _, g := range doc.Groups {
			var head struct {
				Group string `json:"name"`
			}
			if err := json.Unmarshal(g, &head); err != nil {
				t.Fatal(err)
			}
			names = append(names, head.Group)
			raw[head.Group] = string(g)
		}
		return names, raw
	}
	declared, before := groups()
	if strings.Join(declared, ",") != "ecog0,ecog1,ecog2-3" {
		t.Fatalf("declared order: %v", declared)
	}
	ordered, after := groups("--group-order", "ecog2-3, ecog0")
	if strings.Join(ordered, ",") != "ecog2-3,ecog0,ecog1" {
		t.Errorf("--group-order ecog2-3,ecog0: groups %v, want ecog2-3,ecog0,ecog1", ordered)
	}
	for g, doc := range before {
		if after[g] != doc {
			t.Errorf("group %s changed with the order:\n%s\n%s", g, doc, after[g])
		}
	}
	for order, want := range map[string]string{
		"ecog3":       `"ecog3" is not a group (the groups are ecog0, ecog1, ecog2-3)`,
		"ecog1,ecog1": `"ecog1" is listed twice`,
	} {
		if code, _, errOut := cli(t, append(args, "--group-order", order)...); code != exitUsage || !strings.Contains(errOut, want) {
			t.Errorf("--group-order %s: exit %d %q, want usage error %q", order, code, errOut, want)
		}
	}
	if code, _, errOut := cli(t, "--hub", url, "km", "--study", "lung", "--endpoint", "os", "--group-order", "ecog1"); code != exitUsage || !strings.Contains(errOut, "give --group") {
		t.Errorf("--group-order without --group: exit %d %q", code, errOut)
	}
}
