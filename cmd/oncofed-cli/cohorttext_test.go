package main

import (
	"strings"
	"testing"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// TestKMTitleNamesCohort: the KM plot's title says the cohort in the --where syntax.
func TestKMTitleNamesCohort(t *testing.T) {
	f, err := protocol.ParseFilter(`sex = female and age>=60`)
	if err != nil {
		t.Fatal(err)
	}
	r := &app.Result{Request: app.Request{Study: "lung", Cohort: f}, KM: &app.KMResult{Endpoint: "os"}}
	if got, want := kmTitle(r), "lung: os where sex = female and age >= 60"; got != want {
		t.Errorf("title %q, want %q", got, want)
	}
	r.Request.Cohort = nil
	if got := kmTitle(r); got != "lung: os" {
		t.Errorf("title of the whole study %q", got)
	}
}

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
