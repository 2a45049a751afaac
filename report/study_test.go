package report

import (
	"testing"

	"github.com/oncofed/oncofed/app"
)

func TestStudyLine(t *testing.T) {
	for _, c := range []struct {
		st   app.Study
		want string
	}{
		{app.Study{Name: "nsclc", Title: "Advanced NSCLC, first line", Patients: 7800, Sites: []string{"a", "b", "c", "d", "e", "f"}},
			"Advanced NSCLC, first line (nsclc) — 7,800 patients, 6 sites"},
		{app.Study{Name: "lung", Patients: 150, PatientsAtLeast: true, Sites: []string{"a"}},
			"lung — ≥150 patients, 1 site"},
		{app.Study{Name: "x", Title: "X", Patients: 1, Sites: []string{"a"}}, "X (x) — 1 patient, 1 site"},
	} {
		if got := StudyLine(&c.st); got != c.want {
			t.Errorf("StudyLine(%+v) = %q, want %q", c.st, got, c.want)
		}
	}
}
