package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/oncofed/oncofed/network/demo"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/node/omop"
	"github.com/oncofed/oncofed/node/omop/pg"
	"github.com/oncofed/oncofed/synth"
)

func init() {
	register("synth", "write synthetic hospitals (CSV per site, manifest, import script) and their site databases", runSynth)
}

// runSynth writes a synthetic federation: with no sizing flags the demo network the app
// starts on (six hospitals, four studies, the demo policies); with --sites/--patients a
// federation of that size for the chosen studies.
func runSynth(args []string) error {
	fs := flag.NewFlagSet("synth", flag.ContinueOnError)
	out := fs.String("out", "", "output `DIR` (created if missing)")
	study := fs.String("study", "all", "study: nsclc, tnbc, mpm, mm or all")
	sites := fs.Int("sites", 0, "number of hospitals `N` (default: the demo network's 6)")
	patients := fs.Int("patients", 0, "patients per study `N`, the total over all sites (default: the demo network's sizes)")
	seed := fs.Uint64("seed", synth.DemoSeed, "random `SEED`: the same seed gives the same files")
	cut := fs.String("data-cut", "", "data-cut date `YYYY-MM-DD` (default "+synth.DefaultDataCut.Format("2006-01-02")+")")
	noDB := fs.Bool("no-db", false, "write the CSV files and import script only, not the site databases")
	markers := fs.Bool("markers", false, "add each cancer's candidate biomarkers (≥40, for the biomarker screen)")
	omopURL := fs.String("omop", "", "also write each hospital as an OMOP CDM v5.4 schema (named after the site) in the PostgreSQL database at `URL`, with a study definition per study and import-omop.sh")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: oncofed-node synth --out DIR [--study nsclc|tnbc|mpm|mm|all] [--sites N] [--patients N] [--seed S] [--markers]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("--out is required and there are no positional arguments")
	}
	var dataCut time.Time
	if *cut != "" {
		t, err := time.Parse("2006-01-02", *cut)
		if err != nil {
			return fmt.Errorf("--data-cut %q is not a date YYYY-MM-DD", *cut)
		}
		dataCut = t
	}
	specs, policies, err := synthSpecs(*study, *sites, *patients, *seed, dataCut)
	if err != nil {
		return err
	}
	for i := range specs {
		specs[i].Markers = *markers
	}
	start := time.Now()
	man, err := synth.WriteFiles(*out, specs...)
	if err != nil {
		return err
	}
	for site, p := range policies {
		js, _ := json.MarshalIndent(p, "", "  ")
		if err := os.WriteFile(filepath.Join(*out, site+".policy.json"), append(js, '\n'), 0o644); err != nil {
			return err
		}
	}
	total := 0
	for _, e := range man.Sites {
		total += e.Patients
	}
	fmt.Printf("wrote %d site files (%d patients) to %s in %v: manifest.json, import.sh\n", len(man.Sites), total, *out, time.Since(start).Round(time.Millisecond))
	if *omopURL != "" {
		if err := writeOMOP(context.Background(), *out, *omopURL, specs); err != nil {
			return fmt.Errorf("--omop: %w", err)
		}
	}
	if *noDB {
		fmt.Printf("import them with: sh %s\n", filepath.Join(*out, "import.sh"))
		return nil
	}
	return importManifest(context.Background(), *out, man)
}

// synthSpecs turns the flags into specs; the demo's policies come back when no sizing flag
// was given.
func synthSpecs(study string, sites, patients int, seed uint64, dataCut time.Time) ([]synth.Spec, map[string]synth.SitePolicy, error) {
	var studies []synth.Study
	if study == "all" || study == "" {
		studies = synth.Studies
	} else {
		s, err := synth.ParseStudy(study)
		if err != nil {
			return nil, nil, err
		}
		studies = []synth.Study{s}
	}
	if sites < 0 || patients < 0 {
		return nil, nil, errors.New("--sites and --patients must be positive")
	}
	var specs []synth.Spec
	if sites == 0 && patients == 0 {
		fed := synth.DemoFederation()
		for _, spec := range fed.Studies {
			for _, s := range studies {
				if spec.Study == s {
					spec.Seed, spec.DataCut = seed, dataCut
					specs = append(specs, spec)
				}
			}
		}
		return specs, fed.Policies, nil
	}
	if sites == 0 {
		sites = 6
	}
	if patients == 0 {
		patients = 1000 * sites
	}
	if patients < sites {
		return nil, nil, fmt.Errorf("--patients %d cannot fill %d sites", patients, sites)
	}
	for _, s := range studies {
		specs = append(specs, synth.Spec{Study: s, Sites: sites, Patients: patients, Seed: seed, DataCut: dataCut})
	}
	return specs, nil, nil
}

// writeOMOP writes every hospital of specs as an OMOP CDM schema of the database at dbURL, the
// study definitions that read them back (<study>/omop-definition.json) and import-omop.sh.
func writeOMOP(ctx context.Context, dir, dbURL string, specs []synth.Spec) error {
	var gens []*synth.Generator
	var script strings.Builder
	script.WriteString("#!/bin/sh\n# Snapshots the synthetic hospitals' OMOP CDMs into one SQLite database per hospital.\n" +
		"# OMOP_URL is the CDM database's URL (the password in PGPASSWORD or ~/.pgpass).\nset -e\ncd \"$(dirname \"$0\")\"\n" +
		": \"${OMOP_URL:?set OMOP_URL to the CDM database URL}\"\n")
	for _, spec := range specs {
		g, err := synth.New(spec)
		if err != nil {
			return err
		}
		gens = append(gens, g)
		js, err := json.MarshalIndent(omop.SynthDefinition(g), "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, g.Spec().Name, "omop-definition.json"), append(js, '\n'), 0o644); err != nil {
			return err
		}
	}
	cdm, err := pg.Open(ctx, dbURL, "")
	if err != nil {
		return err
	}
	defer cdm.Close(ctx)
	start := time.Now()
	for i, s := range gens[0].Sites() {
		for _, g := range gens[1:] {
			if g.Sites()[i].Name != s.Name {
				return fmt.Errorf("site %d is %s in one study and %s in another: give every study the same sites", i, s.Name, g.Sites()[i].Name)
			}
		}
		schema := pg.SchemaName(s.Name)
		if err := pg.WriteSynthSite(ctx, cdm.Conn(), schema, gens, i); err != nil {
			return fmt.Errorf("site %s: %w", s.Name, err)
		}
		for _, g := range gens {
			def := filepath.Join(g.Spec().Name, "omop-definition.json")
			script.WriteString("oncofed-node import --db " + s.Name + ".db --omop \"$OMOP_URL\" --schema " + schema +
				" --definition " + def + " --site " + s.Name + "\n")
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "import-omop.sh"), []byte(script.String()), 0o755); err != nil {
		return err
	}
	fmt.Printf("wrote %d hospitals as OMOP CDM v5.4 schemas of %s in %v: <study>/omop-definition.json, import-omop.sh\n",
		len(gens[0].Sites()), pg.Redact(dbURL), time.Since(start).Round(time.Millisecond))
	return nil
}

// importManifest loads every written CSV into its site database with the node importer.
func importManifest(ctx context.Context, dir string, man *synth.Manifest) error {
	dbs := map[string]bool{}
	for _, e := range man.Sites {
		if err := importOne(ctx, filepath.Join(dir, e.DB), filepath.Join(dir, e.CSV), demo.NodeImportSpec(e.ImportSpec)); err != nil {
			return fmt.Errorf("site %s, study %s: %w", e.Site, e.Study, err)
		}
		dbs[e.DB] = true
	}
	fmt.Printf("imported into %d site databases:", len(dbs))
	for _, e := range man.Sites {
		if dbs[e.DB] {
			fmt.Printf(" %s", filepath.Join(dir, e.DB))
			delete(dbs, e.DB)
		}
	}
	fmt.Println()
	return nil
}

func importOne(ctx context.Context, dbPath, csvPath string, spec node.ImportSpec) error {
	f, err := os.Open(csvPath)
	if err != nil {
		return err
	}
	defer f.Close()
	store, err := node.OpenSQLite(dbPath)
	if err != nil {
		return err
	}
	defer store.Close()
	_, err = node.ImportCSV(ctx, store, spec, f)
	return err
}
