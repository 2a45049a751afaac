package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/oncofed/oncofed/node"
)

func init() {
	register("import", "load a CSV file into a study of the node database (replaces it atomically)", runImport)
}

func runImport(args []string) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	db := fs.String("db", "", "node database `PATH` (created if missing)")
	study := fs.String("study", "", "study `NAME`")
	csvPath := fs.String("csv", "", "CSV file `PATH` with a header line")
	id := fs.String("id", "", "patient id `COLUMN`")
	site := fs.String("site", "", "site `NAME` the network sees (default: the database file's base name)")
	cut := fs.String("data-cut", "", "data-cut date `YYYY-MM-DD` (default: today)")
	dict := fs.String("dictionary", "", "optional data dictionary CSV `PATH` with header name,label,unit")
	var eps stringList
	fs.Var(&eps, "endpoint", "endpoint `NAME=TIMECOL:EVENTCOL` (repeatable; time in days, event 0/1)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *db == "" || *study == "" || *csvPath == "" || *id == "" || len(eps) == 0 {
		fs.Usage()
		return errors.New("--db, --study, --csv, --id and at least one --endpoint are required")
	}
	spec := node.ImportSpec{Study: *study, IDColumn: *id, DataCut: *cut, Site: *site}
	for _, e := range eps {
		es, err := node.ParseEndpointSpec(e)
		if err != nil {
			return err
		}
		spec.Endpoints = append(spec.Endpoints, es)
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
	fmt.Printf("imported study %q: %d patients, data cut %s (version %d)\n", rep.Study, rep.Patients, rep.DataCut, rep.Version)
	for _, v := range rep.Variables {
		if len(v.Categories) > 0 {
			fmt.Printf("  %-20s %-12s %v\n", v.Name, v.Type, v.Categories)
		} else {
			fmt.Printf("  %-20s %s\n", v.Name, v.Type)
		}
	}
	for _, e := range rep.Endpoints {
		fmt.Printf("  endpoint %-11s %d events, %d censored\n", e.Name, e.Events, e.Censored)
	}
	return nil
}
