package report

import (
	"testing"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

func TestKMTitle(t *testing.T) {
	f, err := protocol.ParseFilter(`sex = female and age>=60`)
	if err != nil {
		t.Fatal(err)
	}
	r := &app.Result{Request: app.Request{Study: "lung", Cohort: f, GroupBy: "ecog"}, KM: &app.KMResult{Endpoint: "os"}}
	if got, want := KMTitle(r, Names{}), "Overall survival by ecog — lung: sex = female and age >= 60"; got != want {
		t.Errorf("by code: %q, want %q", got, want)
	}
	st := &app.Study{Name: "lung", Title: "NCCTG advanced lung cancer",
		Variables: []app.Variable{{Name: "ecog", Label: "ECOG performance status"}},
		Endpoints: []app.Endpoint{{Name: "os", Label: "Overall survival"}}}
	r.Request.Cohort = nil
	if got, want := KMTitle(r, Names{st}), "Overall survival by ECOG performance status — NCCTG advanced lung cancer: all patients"; got != want {
		t.Errorf("in words: %q, want %q", got, want)
	}
}
