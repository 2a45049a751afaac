package main

import (
	"fmt"
	"io"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/report"
)

// zphFlag is --zph: alone it asks cox.zph's default transform (km), --zph=identity or
// --zph=rank another.
type zphFlag struct{ transform string }

func (f *zphFlag) String() string   { return f.transform }
func (f *zphFlag) IsBoolFlag() bool { return true }
func (f *zphFlag) Set(s string) error {
	switch s {
	case "true":
		f.transform = app.ZPHTransformDefault
	case "false":
		f.transform = ""
	case "km", "identity", "rank":
		f.transform = s
	default:
		return fmt.Errorf("%q is not a transform (km, identity or rank)", s)
	}
	return nil
}

// zphJSON is the cox command's "zph": {transform, rows: [{term, chisq, df, p}]} or
// {transform, error}.
func zphJSON(z *app.ZPHResult) map[string]any {
	doc := map[string]any{"transform": z.Transform}
	if z.Error != "" {
		doc["error"] = z.Error
		return doc
	}
	var rows []map[string]any
	for _, r := range z.Rows {
		rows = append(rows, map[string]any{"term": r.Term, "chisq": num(r.ChiSq), "df": r.DF, "p": num(r.P)})
	}
	doc["rows"] = rows
	return doc
}

// writeZPHText prints the proportional-hazards table under the hazard ratios.
func writeZPHText(w io.Writer, z *app.ZPHResult, names report.Names) error {
	fmt.Fprintln(w)
	if z.Error != "" {
		fmt.Fprintf(w, "proportional hazards (%s): not checked: %s\n", z.Transform, z.Error)
		return nil
	}
	fmt.Fprintln(w, report.ZPHCaption(z))
	t := table(w)
	fmt.Fprintln(t, "TERM\tCHISQ\tDF\tP")
	for _, r := range report.ZPHRows(z, names) {
		fmt.Fprintf(t, "%s\t%s\t%d\t%s\n", r.Label, r4(r.ChiSq), r.DF, pValue(num(r.P)))
	}
	return t.Flush()
}

// levelCountsJSON is the cox command's "level_counts": {covariate: {level: {n, events}}} and
// "missing": {covariate: why}.
func levelCountsJSON(lc *app.LevelCounts) map[string]any {
	by := map[string]any{}
	for v, levels := range lc.ByLevel {
		m := map[string]any{}
		for l, c := range levels {
			m[l] = map[string]int{"n": c.N, "events": c.Events}
		}
		by[v] = m
	}
	return map[string]any{"by_level": by, "missing": lc.Missing}
}
