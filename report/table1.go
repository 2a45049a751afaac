package report

import (
	"io"
	"slices"
	"strings"
	"time"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// Table1 is a Table 1 as people read it, from the table analysis builds: an ungrouped cohort
// has one value column, "All patients" (not an empty group's column beside an identical
// "Overall"); and the SMD column exists only when there are two groups or more to compare
// (SMD reports whether it does). The desktop's table and exports and the CLI show this.
func Table1(tb analysis.Table1) (out analysis.Table1, smd bool) {
	out = tb
	if len(tb.Columns) == 2 && tb.Columns[0] == "" {
		out.Columns = []string{"All patients"}
		out.Notes = make([]string, len(tb.Notes))
		for i, n := range tb.Notes { // the notes name the column as shown
			out.Notes[i] = strings.Replace(n, " ("+tb.Columns[1]+"): ", " (All patients): ", 1)
		}
		out.N = slices.Clone(tb.N[1:])
		out.Rows = make([]analysis.Table1Row, len(tb.Rows))
		for i, r := range tb.Rows {
			out.Rows[i] = analysis.Table1Row{Label: r.Label, Cells: slices.Clone(r.Cells[1:])}
		}
		out.Variables = make([]analysis.Table1Variable, len(tb.Variables))
		for i, v := range tb.Variables {
			v.Numerics, v.Categorical = tail(v.Numerics), tail(v.Categorical)
			out.Variables[i] = v
		}
		return out, false
	}
	return out, len(tb.Columns) >= 3 // two groups and the overall column
}

func tail[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s[1:])
}

// Table1Title names a Table 1 in words for a document: "Table 1. Patient characteristics —
// nsclc: age >= 60, by sex".
func Table1Title(req app.Request) string {
	s := "Table 1. Patient characteristics — " + req.Study + ": " + CohortText(req.Cohort)
	if req.GroupBy != "" {
		s += ", by " + req.GroupBy
	}
	return s
}

// CohortText is a cohort in the filter syntax the CLI takes, or "all patients".
func CohortText(f *protocol.Filter) string {
	if f == nil {
		return "all patients"
	}
	return protocol.FormatFilter(f)
}

// Table1 export formats (WriteTable1).
const (
	Table1CSV      = "csv"
	Table1Markdown = "markdown"
	Table1Docx     = "docx"
)

// WriteTable1 writes a Table 1 of r — tb, its pooled table or its per-site one — in format:
// CSV with the release kind as its last column (ReleaseColumn), Markdown followed by the
// privacy and provenance line, or a Word document with a title and that line. Both front ends
// export through it.
func WriteTable1(w io.Writer, r *app.Result, tb analysis.Table1, format string, now time.Time) error {
	tb, smd := Table1(tb)
	switch format {
	case Table1Docx:
		return WriteTable1Docx(w, Table1Title(r.Request), tb, smd, PrivacyLine(r, now))
	case Table1Markdown:
		if err := tb.WriteMarkdown(w); err != nil {
			return err
		}
		_, err := io.WriteString(w, "\n"+PrivacyLine(r, now)+"\n")
		return err
	}
	return WriteCSV(w, WithRelease(tb.Records(), ReleaseKind(r)))
}
