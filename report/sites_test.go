package report

import (
	"testing"

	"github.com/oncofed/oncofed/app"
)

func TestSitesDiffer(t *testing.T) {
	res := func(answered []string, refused ...app.SiteProblem) *app.Result {
		return &app.Result{Provenance: app.Provenance{Expected: []string{"a", "b", "c", "d"}, Answered: answered,
			Refused: refused, Missing: []string{"d"}}}
	}
	km := res([]string{"c", "a", "b"})
	t1 := res([]string{"a", "c"}, app.SiteProblem{Site: "b", Message: "group x below its minimum of 10 patients"})
	got := SitesDiffer(Part{"Table 1", t1}, Part{"the Kaplan–Meier curves", km})
	want := "Not the same sites: Table 1 is from 2 of 4 sites, the Kaplan–Meier curves from 3; " +
		"b is in the Kaplan–Meier curves only (Table 1: refused: group x below its minimum of 10 patients)."
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if s := SitesDiffer(Part{"Table 1", res([]string{"b", "a"})}, Part{"KM", res([]string{"a", "b"})}); s != "" {
		t.Errorf("same sites in another order: %q", s)
	}
	if s := SitesDiffer(Part{"Table 1", t1}, Part{"KM", nil}); s != "" {
		t.Errorf("one part only: %q", s)
	}
}
