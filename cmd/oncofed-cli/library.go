package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/cache"
	"github.com/oncofed/oncofed/internal/atomicfile"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/report"
)

// runLibrary is `library list|show ID|export ID --out FILE|pin ID|unpin ID|deck --out FILE.pdf`: the results stored in the result
// cache the desktop app's Library lists (its default path, or --cache), of every network.
// Nothing is dialled.
func runLibrary(ctx context.Context, c *common, args []string, out io.Writer) error {
	var study, kind, network, outPath, view, profile, times string
	var unit timeUnit
	fs := flag.NewFlagSet("library", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	c.register(fs)
	fs.StringVar(&study, "study", "", "list: only the results of study `NAME`")
	fs.StringVar(&kind, "kind", "", "list: only results of `KIND` (count, summary, km, cox)")
	fs.StringVar(&network, "network", "", "list: only the results of `NETWORK` (demo, or a hub URL as listed)")
	fs.StringVar(&outPath, "out", "", "export: write to `FILE`: .csv and .json as --format csv/json, .png/.svg/.pdf the result's figure; anything else JSON. deck: the PDF of every pinned result")
	fs.StringVar(&view, "view", "", "pin: how a model's slide shows it: `validation` (the forest of per-site C with the prediction interval) or patient (the predicted curve of --predict); default its forest of hazard ratios")
	fs.StringVar(&profile, "predict", "", "pin --view patient: the patient, `VAR=VALUE,...` (kept in this cache with the pin, never sent)")
	fs.StringVar(&times, "times", "365,730,1825", "pin --view patient: the landmark `DAYS`")
	fs.Var(&unit, "time-unit", "show, export: `UNIT` of a km result's times (days, months or years; figures default to how they were shown)")
	// Flags may come before, between and after the positional words.
	var words []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return &usageError{err.Error()}
		}
		if fs.NArg() == 0 {
			break
		}
		words, rest = append(words, fs.Arg(0)), fs.Args()[1:]
	}
	switch c.format {
	case "text", "json", "csv":
	default:
		return usagef("--format %q: want text, json or csv", c.format)
	}
	if len(words) == 0 {
		return usagef("library needs list, show ID, export ID --out FILE, pin ID, unpin ID or deck --out FILE.pdf")
	}
	sub, words := words[0], words[1:]
	wantID := func() (int64, error) {
		if len(words) != 1 {
			return 0, usagef("library %s needs one result ID (see library list)", sub)
		}
		id, err := strconv.ParseInt(words[0], 10, 64)
		if err != nil || id <= 0 {
			return 0, usagef("library %s: %q is not a result ID", sub, words[0])
		}
		return id, nil
	}
	db, _, err := openCache(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	switch sub {
	case "list":
		if len(words) > 0 {
			return usagef("library list: unexpected argument %q", words[0])
		}
		f := app.ResultFilter{Study: study, Network: network}
		if kind != "" {
			k, ok := kindOfCommand[kind]
			if !ok {
				return usagef("--kind %q: want one of %s", kind, strings.Join(slices.Sorted(maps.Keys(kindOfCommand)), ", "))
			}
			f.Kind = k
		}
		entries, err := db.Library(ctx, f)
		if err != nil {
			return err
		}
		return writeLibrary(out, c.format, entries)
	case "show":
		id, err := wantID()
		if err != nil {
			return err
		}
		r, err := openResult(ctx, db, id)
		if err != nil {
			return err
		}
		if c.format == "text" {
			fmt.Fprintln(out, cachedLine(r, time.Now()))
		}
		cat, _ := db.Catalog(ctx, r.Network) // the labels and units as last seen, if any
		return writeResult(out, c.format, r, unit, report.Names{From: cat.Study(r.Request.Study)})
	case "export":
		id, err := wantID()
		if err != nil {
			return err
		}
		if outPath == "" {
			return usagef("library export needs --out FILE")
		}
		r, err := openResult(ctx, db, id)
		if err != nil {
			return err
		}
		cat, _ := db.Catalog(ctx, r.Network) // the titles and labels as last seen, if any
		return exportResult(outPath, r, report.Names{From: cat.Study(r.Request.Study)}, unit)
	case "pin", "unpin":
		id, err := wantID()
		if err != nil {
			return err
		}
		var shown *app.Display
		if sub == "pin" && view != "" {
			if shown, err = modelView(ctx, db, id, view, profile, times); err != nil {
				return err
			}
		}
		if err := db.PinResult(ctx, id, sub == "pin", shown); err != nil {
			if app.ErrorCode(err) == app.ENotFound {
				return fmt.Errorf("%w: %v (see library list)", errNotCached, err)
			}
			return err
		}
		return nil
	case "deck":
		if len(words) > 0 {
			return usagef("library deck: unexpected argument %q (it takes every pinned result)", words[0])
		}
		if !strings.EqualFold(filepath.Ext(outPath), ".pdf") {
			return usagef("library deck needs --out FILE.pdf")
		}
		return writeDeck(ctx, db, outPath)
	}
	return usagef("library %q: want list, show ID, export ID --out FILE, pin ID, unpin ID or deck --out FILE.pdf", sub)
}

// writeDeck writes every pinned result, oldest pin first, a PDF page each, as the desktop's
// Export deck does: drawn as shown when pinned, named from the catalog last seen.
func writeDeck(ctx context.Context, db *cache.DB, path string) error {
	pinned, err := db.Results(ctx, app.ResultFilter{Pinned: true})
	if err != nil {
		return err
	}
	var rs []*app.Result
	var names []report.Names
	for i := len(pinned) - 1; i >= 0; i-- {
		r, err := openResult(ctx, db, pinned[i].ID)
		if err != nil {
			return err
		}
		cat, _ := db.Catalog(ctx, r.Network)
		rs, names = append(rs, r), append(names, report.Names{From: cat.Study(r.Request.Study)})
	}
	return atomicfile.Write(path, func(w io.Writer) error { return report.WriteDeck(w, rs, names, clock()) })
}

// openResult renders a stored result from its stored aggregates, checking its content hash
// (app.Service.Open; the service's network is not used to open by ID).
func openResult(ctx context.Context, db *cache.DB, id int64) (*app.Result, error) {
	svc := app.NewService(nil, db, app.NetworkInfo{ID: "library", Name: "library"})
	r, err := svc.Open(ctx, id)
	if app.ErrorCode(err) == app.ENotFound {
		return nil, fmt.Errorf("%w: %v (see library list)", errNotCached, err)
	}
	return r, err
}

// kindOfCommand maps the CLI's command names to the analysis kinds they store.
var kindOfCommand = map[string]protocol.Kind{
	"count": protocol.KindCount, "summary": protocol.KindSummary, "km": protocol.KindSurvival,
	"survival": protocol.KindSurvival, "cox": protocol.KindCox, "ipw": protocol.KindIPW, "screen": protocol.KindScreen,
}

// commandOf is the CLI command that computes results of kind k ("km" for survival).
func commandOf(k protocol.Kind) string {
	if k == protocol.KindSurvival {
		return "km"
	}
	return string(k)
}

// writeResult prints a stored result as the command that computed it prints a live one
// (km with its stored landmarks, log confidence intervals and RMST to the shortest follow-up).
func writeResult(w io.Writer, format string, r *app.Result, unit timeUnit, names report.Names) error {
	switch r.Request.Kind {
	case protocol.KindCount:
		return writeCount(w, format, r)
	case protocol.KindSummary:
		return writeSummary(w, format, r)
	case protocol.KindSurvival:
		doc, err := kmDocument(r, kmOptions{confType: analysis.ConfLog, landmarks: r.Request.Landmarks, unit: unit})
		if err != nil {
			return err
		}
		return writeKM(w, format, doc)
	case protocol.KindCox:
		spec := r.Request.Cox
		if spec == nil {
			return fmt.Errorf("result %d is a Cox model without its model", r.ID)
		}
		return writeCox(w, format, r, spec, coxStrataFlag(spec), names, modelExtras{loso: r.Cox.Validation})
	case protocol.KindIPW:
		if r.Request.IPW == nil || r.IPW == nil {
			return fmt.Errorf("result %d is a weighted comparison without its specification", r.ID)
		}
		return writeIPW(w, format, r)
	case protocol.KindScreen:
		if r.Screen == nil {
			return fmt.Errorf("result %d is a biomarker screen without its markers' fits", r.ID)
		}
		return writeScreen(w, format, r.Screen, "")
	}
	return fmt.Errorf("result %d is of kind %q, which this oncofed-cli cannot show", r.ID, r.Request.Kind)
}

// coxStrataFlag is the cox command's --strata that asks for spec: "" (none), "site" or the
// variable stratified by within sites.
func coxStrataFlag(spec *app.CoxSpec) string {
	switch {
	case spec.Form == protocol.CoxDPTables && spec.DPPooled:
		return "" // the pooled model fitted on the sites' DP tables
	case spec.Form == protocol.CoxDPTables:
		return "site" // fitted stratified by site on the sites' DP tables
	case spec.Form != protocol.CoxStratified:
		return ""
	case spec.Strata != "":
		return spec.Strata
	}
	return "site"
}

// exportResult writes r to path: its figure for .png, .svg and .pdf (as shown when pinned,
// in unit if given), CSV for .csv, JSON otherwise — what the live command writes with --out
// or --format.
func exportResult(path string, r *app.Result, names report.Names, unit timeUnit) error {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".png", ".svg", ".pdf":
		if err := drawFigure(r, names, unit, path); err != nil {
			return fmt.Errorf("--out %s: %w", path, err)
		}
		return nil
	case ".csv":
		return writeFile(path, r, "csv", names)
	default:
		return writeFile(path, r, "json", names)
	}
}

func writeFile(path string, r *app.Result, format string, names report.Names) error {
	return atomicfile.Write(path, func(w io.Writer) error { return writeResult(w, format, r, timeUnit{}, names) })
}

// libraryRow is one listed result in the JSON of library list.
type libraryRow struct {
	ID         int64     `json:"id"`
	Name       string    `json:"name"`
	Kind       string    `json:"kind"`
	Study      string    `json:"study"`
	Analysis   string    `json:"analysis"`
	Cohort     string    `json:"cohort"`
	GroupBy    string    `json:"group_by,omitempty"`
	Network    string    `json:"network"`
	ComputedAt time.Time `json:"computed_at"`
	Answered   int       `json:"sites_answered"`
	Expected   int       `json:"sites_expected"`
	Pinned     bool      `json:"pinned"`
}

func libraryRowOf(e cache.LibraryEntry) libraryRow {
	req := e.Request
	cohort := "all patients"
	if req.Cohort != nil {
		cohort = protocol.FormatFilter(req.Cohort)
	}
	if req.CohortName != "" {
		cohort = req.CohortName + ": " + cohort
	}
	return libraryRow{ID: e.ID, Name: e.Name, Kind: commandOf(e.Kind), Study: e.Study, Analysis: analysisText(req), Cohort: cohort,
		GroupBy: req.GroupBy, Network: e.Network, ComputedAt: e.RanAt, Answered: e.Answered, Expected: e.Expected, Pinned: e.Pinned}
}

// analysisText says what a request computes beyond its cohort: "os by sex",
// "age, ecog by sex", "os ~ age + sex (stratified by site)".
func analysisText(req app.Request) string {
	var s string
	switch req.Kind {
	case protocol.KindSummary:
		s = strings.Join(req.Variables, ", ")
	case protocol.KindSurvival:
		s = req.Endpoint
	case protocol.KindCox:
		s = req.Endpoint
		if req.Cox != nil {
			s += " ~ " + strings.Join(req.Cox.Covariates, " + ")
			switch st := coxStrataFlag(req.Cox); st {
			case "":
				s += " (pooled)"
				if req.Cox.Form == protocol.CoxDPTables {
					s = strings.TrimSuffix(s, ")") + ", differentially private)"
				}
			case "site":
				s += " (stratified by site)"
				if req.Cox.Form == protocol.CoxDPTables {
					s = strings.TrimSuffix(s, ")") + ", differentially private)"
				}
			default:
				s += " (stratified by site and " + st + ")"
			}
		}
	case protocol.KindIPW:
		s = req.Endpoint
		if req.IPW != nil {
			trt, level := req.IPW.TreatmentNames()
			s += fmt.Sprintf(" by %s=%s | %s (%s)", trt, level, strings.Join(req.IPW.Confounders, " + "), req.IPW.Estimand)
		}
	}
	if req.GroupBy != "" && req.Kind != protocol.KindCox && req.Kind != protocol.KindIPW {
		s = strings.TrimSpace(s + " by " + req.GroupBy)
	}
	if s == "" {
		s = "-"
	}
	return s
}

func writeLibrary(w io.Writer, format string, entries []cache.LibraryEntry) error {
	rows := make([]libraryRow, 0, len(entries))
	for _, e := range entries {
		rows = append(rows, libraryRowOf(e))
	}
	switch format {
	case "json":
		return writeJSON(w, rows)
	case "csv":
		recs := [][]string{{"id", "kind", "study", "analysis", "cohort", "network", "computed_at", "sites_answered", "sites_expected", "pinned", "name"}}
		for _, r := range rows {
			recs = append(recs, []string{strconv.FormatInt(r.ID, 10), r.Kind, r.Study, r.Analysis, r.Cohort, r.Network, r.ComputedAt.UTC().Format(time.RFC3339),
				strconv.Itoa(r.Answered), strconv.Itoa(r.Expected), strconv.FormatBool(r.Pinned), r.Name})
		}
		return writeCSV(w, recs)
	}
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "no results are cached (that match)")
		return err
	}
	t := table(w)
	fmt.Fprintln(t, "ID\tKIND\tSTUDY\tANALYSIS\tCOHORT\tNETWORK\tCOMPUTED\tSITES")
	for _, r := range rows {
		id := strconv.FormatInt(r.ID, 10)
		if r.Pinned {
			id += "*"
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d of %d\n", id, r.Kind, r.Study, r.Analysis, r.Cohort, r.Network,
			r.ComputedAt.Local().Format("2006-01-02 15:04"), r.Answered, r.Expected)
	}
	return t.Flush()
}
