package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/node/omop"
	"github.com/oncofed/oncofed/node/omop/pg"
)

func init() {
	register("import", "load a CSV file, or a study of an OMOP CDM (--omop), into the node database (replaces it atomically)", runImport)
}

func runImport(args []string) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	db := fs.String("db", "", "node database `PATH` (created if missing)")
	study := fs.String("study", "", "study `NAME`")
	csvPath := fs.String("csv", "", "CSV file `PATH` with a header line")
	id := fs.String("id", "", "patient id `COLUMN`")
	site := fs.String("site", "", "site `NAME` the network sees (default: the database file's base name)")
	cut := fs.String("data-cut", "", "data-cut date `YYYY-MM-DD` (default: today)")
	dict := fs.String("dictionary", "", "the study's data dictionary `PATH`: JSON with version, variables (type, label, unit, categories, min, max) and endpoints; or an old name,label,unit CSV (labels only)")
	version := fs.String("study-version", "", "the study's declared `VERSION` (or \"version\" in the dictionary); the dictionary can change only with a new one")
	title := fs.String("title", "", "the study's `TITLE` in words, as analysts see it (or \"title\" in the dictionary)")
	omopURL := fs.String("omop", "", "snapshot the study from the OMOP CDM at `URL` (postgres://user@host/db; a read-only role; the password from PGPASSWORD or ~/.pgpass rather than the URL) instead of a CSV file")
	definition := fs.String("definition", "", "with --omop: the study definition `FILE` (JSON: cohort, endpoints, variables, dictionary; docs/omop.md)")
	schema := fs.String("schema", "", "with --omop: the CDM's `SCHEMA` (default: the URL's search_path, else the server's)")
	var eps, cats, causes, entries stringList
	fs.Var(&eps, "endpoint", "endpoint `NAME=TIMECOL:EVENTCOL` (repeatable; time in days, event 0/1)")
	fs.Var(&cats, "categories", "declare a categorical variable's categories in the study's order, `VAR=a,b,c` (repeatable); every column with non-numeric values needs them, here or in the dictionary")
	fs.Var(&causes, "causes", "competing causes of an endpoint, `NAME=1:label,2:label,...` (repeatable): its event column is then 0 for censored and the cause's code for an event")
	fs.Var(&entries, "entry", "delayed entry of an endpoint, `NAME=COLUMN` (repeatable): the column holds the day each patient entered observation (0: from the start); risk sets hold entry < t ≤ exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *omopURL != "" || *definition != "" {
		if *csvPath != "" || *id != "" || len(eps) > 0 || *dict != "" || len(cats) > 0 || *version != "" || *title != "" || *study != "" || len(causes) > 0 || len(entries) > 0 {
			return errors.New("--omop takes the study, endpoints, dictionary, version and title from --definition: no --csv, --id, --endpoint, --dictionary, --categories, --study-version, --title, --study, --causes or --entry")
		}
		if *db == "" || *omopURL == "" || *definition == "" {
			fs.Usage()
			return errors.New("--db, --omop and --definition are required")
		}
		return importOMOP(*db, *omopURL, *schema, *definition, omop.Options{Site: *site, DataCut: *cut})
	}
	if *db == "" || *study == "" || *csvPath == "" || *id == "" || len(eps) == 0 {
		fs.Usage()
		return errors.New("--db, --study, --csv, --id and at least one --endpoint are required")
	}
	spec := node.ImportSpec{Study: *study, IDColumn: *id, DataCut: *cut, Site: *site, StudyVersion: *version, Title: *title}
	for _, e := range eps {
		es, err := node.ParseEndpointSpec(e)
		if err != nil {
			return err
		}
		spec.Endpoints = append(spec.Endpoints, es)
	}
	for _, c := range causes {
		name, labels, err := node.ParseCausesSpec(c)
		if err != nil {
			return err
		}
		if spec.Causes == nil {
			spec.Causes = map[string][]string{}
		}
		if _, dup := spec.Causes[name]; dup {
			return fmt.Errorf("--causes given twice for %s", name)
		}
		spec.Causes[name] = labels
	}
	for _, e := range entries {
		name, col, err := node.ParseEntrySpec(e)
		if err != nil {
			return err
		}
		if spec.Entry == nil {
			spec.Entry = map[string]string{}
		}
		if _, dup := spec.Entry[name]; dup {
			return fmt.Errorf("--entry given twice for %s", name)
		}
		spec.Entry[name] = col
	}
	if *dict != "" {
		df, err := os.Open(*dict)
		if err != nil {
			return err
		}
		spec.Dictionary, err = node.ReadDictionary(df)
		df.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", *dict, err)
		}
	}
	for _, c := range cats {
		name, list, err := node.ParseCategories(c)
		if err != nil {
			return err
		}
		if err := spec.Dictionary.AddCategories(name, list); err != nil {
			return fmt.Errorf("--categories %s: %w", c, err)
		}
	}
	f, err := os.Open(*csvPath)
	if err != nil {
		return err
	}
	defer f.Close()
	store, err := node.OpenSQLite(*db)
	if err != nil {
		return err
	}
	defer store.Close()
	rep, err := node.ImportCSV(context.Background(), store, spec, f)
	if err != nil {
		return fmt.Errorf("%s: %w (nothing was changed)", *csvPath, err)
	}
	printImport(rep)
	return nil
}

// printImport says what an import stored.
func printImport(rep node.ImportReport) {
	sv := rep.StudyVersion
	if sv == "" {
		sv = "(none declared)"
	}
	if rep.Title != "" {
		fmt.Printf("imported study %q (%s): %d patients, data cut %s (load %d)\n", rep.Study, rep.Title, rep.Patients, rep.DataCut, rep.Version)
	} else {
		fmt.Printf("imported study %q: %d patients, data cut %s (load %d)\n", rep.Study, rep.Patients, rep.DataCut, rep.Version)
	}
	fmt.Printf("  study version %s, dictionary %s\n", sv, rep.DictionaryHash)
	for _, v := range rep.Variables {
		switch {
		case len(v.Categories) > 0:
			fmt.Printf("  %-20s %-12s %v\n", v.Name, v.Type, v.Categories)
		case v.Min != nil || v.Max != nil:
			lo, hi := "", ""
			if v.Min != nil {
				lo = fmt.Sprint(*v.Min)
			}
			if v.Max != nil {
				hi = fmt.Sprint(*v.Max)
			}
			fmt.Printf("  %-20s %-12s [%s, %s]\n", v.Name, v.Type, lo, hi)
		default:
			fmt.Printf("  %-20s %s\n", v.Name, v.Type)
		}
	}
	for _, e := range rep.Endpoints {
		fmt.Printf("  endpoint %-11s %d events, %d censored\n", e.Name, e.Events, e.Censored)
		for c, label := range e.Causes {
			fmt.Printf("    cause %d %-20s %d events\n", c+1, label, e.ByCause[c])
		}
		if e.Delayed > 0 {
			fmt.Printf("    %d patients entered observation late (delayed entry)\n", e.Delayed)
		}
	}
}

// importOMOP snapshots the study of a definition file from an OMOP CDM into the node database.
func importOMOP(dbPath, dbURL, schema, defPath string, opt omop.Options) error {
	ctx := context.Background()
	f, err := os.Open(defPath)
	if err != nil {
		return err
	}
	def, err := omop.ReadDefinition(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", defPath, err)
	}
	cdm, err := pg.Open(ctx, dbURL, schema)
	if err != nil {
		return err
	}
	defer cdm.Close(ctx)
	store, err := node.OpenSQLite(dbPath)
	if err != nil {
		return err
	}
	defer store.Close()
	start := time.Now()
	rep, err := cdm.Import(ctx, store, def, opt)
	if err != nil {
		return fmt.Errorf("%s (%s): %w (nothing was changed)", pg.Redact(dbURL), defPath, err)
	}
	printImport(rep.ImportReport)
	fmt.Printf("  read from %s in %v:\n", pg.Redact(dbURL), time.Since(start).Round(time.Millisecond))
	for _, r := range rep.Rows {
		fmt.Printf("  %-22s %9d rows  (%s)\n", r.Table, r.Rows, r.Use)
	}
	return nil
}
