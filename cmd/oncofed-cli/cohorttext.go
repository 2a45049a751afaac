package main

import (
	"fmt"
	"io"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// writeCohortLine prints, under a text header, the cohort in the syntax --where takes (the
// line the desktop shows under its filters): "cohort: age >= 60 and sex = female". Nothing
// for every patient of the study.
func writeCohortLine(w io.Writer, f *protocol.Filter) {
	if f != nil {
		fmt.Fprintf(w, "cohort: %s\n", protocol.FormatFilter(f))
	}
}

// kmTitle is the title of a KM plot: study, endpoint and the cohort,
// "lung: OS where sex = female and age >= 60".
func kmTitle(r *app.Result) string {
	title := fmt.Sprintf("%s: %s", r.Request.Study, r.KM.Endpoint)
	if r.Request.Cohort != nil {
		title += " where " + protocol.FormatFilter(r.Request.Cohort)
	}
	return title
}
