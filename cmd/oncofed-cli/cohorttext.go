package main

import (
	"fmt"
	"io"

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
