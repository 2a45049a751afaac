package report

import (
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/report/format"
)

// StudyLine names a study as a study picker lists it: its title and name, its patients as
// released and its sites — "Advanced NSCLC, first line (nsclc) — 7,800 patients, 6 sites".
// A study without a title is named alone; a sum with a suppressed site's count is a lower
// bound ("≥150 patients").
func StudyLine(st *app.Study) string {
	name := st.Name
	if st.Title != "" {
		name = st.Title + " (" + st.Name + ")"
	}
	n := format.Thousands(st.Patients)
	if st.PatientsAtLeast {
		n = "≥" + n
	}
	unit := "patients"
	if st.Patients == 1 && !st.PatientsAtLeast {
		unit = "patient"
	}
	return name + " — " + n + " " + unit + ", " + format.Plural(len(st.Sites), "site", "sites")
}
