package report

import (
	"encoding/csv"
	"io"

	"github.com/oncofed/oncofed/app"
)

// ReleaseColumn is the last column of every result exported as CSV, by both front ends: what
// kind of release each row's numbers come from — "exact", "coarsened" or "differentially
// private" (app.ReleaseSummary.Kind). A table saved and opened elsewhere, or concatenated with
// another, keeps saying whether its counts and estimates are noisy; the privacy line, which a
// figure, a Word table or the text output carries, has no place in a CSV file.
const ReleaseColumn = "release"

// ReleaseKind is the kind of release r is made of.
func ReleaseKind(r *app.Result) string { return r.Provenance.Release().Kind }

// WithRelease appends ReleaseColumn to recs: its title to the header (the first record) and
// kind to every other record. It returns recs.
func WithRelease(recs [][]string, kind string) [][]string {
	for i := range recs {
		if i == 0 {
			recs[i] = append(recs[i], ReleaseColumn)
		} else {
			recs[i] = append(recs[i], kind)
		}
	}
	return recs
}

// WriteCSV writes recs as CSV (RFC 4180): every table both front ends export goes through it.
func WriteCSV(w io.Writer, recs [][]string) error {
	cw := csv.NewWriter(w)
	if err := cw.WriteAll(recs); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}
