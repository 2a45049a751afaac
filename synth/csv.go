package synth

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ImportSpec says how the node importer loads one site's CSV: the study, the site's name on
// the network, the id column, the endpoints (OS=os_days:os_event, PFS=pfs_days:pfs_event)
// and the data cut. It mirrors `oncofed-node import`.
type ImportSpec struct {
	Study     string     `json:"study"`
	Site      string     `json:"site"`
	IDColumn  string     `json:"id_column"`
	Endpoints []Endpoint `json:"endpoints"`
	DataCut   time.Time  `json:"data_cut"`
	// Dictionary is the path of the study's dictionary file (Schema.Dictionary), relative to
	// the manifest, when WriteFiles wrote one.
	Dictionary string `json:"dictionary,omitempty"`
	// Causes gives endpoints competing causes, by endpoint (labels in code order), as
	// `oncofed-node import --causes` does.
	Causes map[string][]string `json:"causes,omitempty"`
	// Markers says the site's columns include the study's candidate markers (Spec.Markers):
	// its dictionary is SchemaWithMarkers's.
	Markers bool `json:"markers,omitempty"`
	// Entry gives endpoints an entry column (delayed entry), as `oncofed-node import --entry`
	// does: OS=os_entry_days at a registry site (Site.Registry).
	Entry map[string]string `json:"entry,omitempty"`
}

// EntryColumn is the CSV column of a registry site's OS entry days.
const EntryColumn = "os_entry_days"

// Header returns the CSV header of site i: Schema.Header(), and EntryColumn at a registry.
func (g *Generator) Header(site int) []string {
	h := g.schema.Header()
	if g.sites[site].Registry {
		h = append(h, EntryColumn)
	}
	return h
}

// Args returns the arguments of `oncofed-node import` (after the subcommand) that load
// csvPath into the site database dbPath.
func (s ImportSpec) Args(dbPath, csvPath string) []string {
	a := []string{"--db", dbPath, "--study", s.Study, "--csv", csvPath, "--id", s.IDColumn}
	for _, e := range s.Endpoints {
		a = append(a, "--endpoint", e.Flag())
	}
	if s.Dictionary != "" {
		a = append(a, "--dictionary", s.Dictionary)
	}
	for _, e := range s.Endpoints {
		if labels := s.Causes[e.Name]; len(labels) > 0 {
			a = append(a, "--causes", CausesFlag(e.Name, labels))
		}
		if col := s.Entry[e.Name]; col != "" {
			a = append(a, "--entry", e.Name+"="+col)
		}
	}
	return append(a, "--site", s.Site, "--data-cut", s.DataCut.Format("2006-01-02"))
}

// ImportSpec returns the import spec of site i.
func (g *Generator) ImportSpec(site int) ImportSpec {
	is := ImportSpec{
		Study:     g.spec.Name,
		Site:      g.sites[site].Name,
		IDColumn:  IDColumn,
		Endpoints: append([]Endpoint(nil), Endpoints...),
		DataCut:   g.spec.DataCut,
		Markers:   g.spec.Markers,
	}
	if g.model.pfsCauses != nil {
		is.Causes = map[string][]string{"PFS": append([]string(nil), g.model.pfsCauses...)}
	}
	if g.sites[site].Registry {
		is.Entry = map[string]string{"OS": EntryColumn}
	}
	return is
}

// CausesFlag is the value of `oncofed-node import --causes` for an endpoint's causes:
// NAME=1:label,2:label,…
func CausesFlag(endpoint string, labels []string) string {
	parts := make([]string, len(labels))
	for i, l := range labels {
		parts[i] = strconv.Itoa(i+1) + ":" + l
	}
	return endpoint + "=" + strings.Join(parts, ",")
}

// csvChunk is the number of rows generated per block while writing CSV.
const csvChunk = 4096

// WriteCSV writes every patient of site i to w as CSV with the header Schema.Header():
// id, the variables (an empty cell is missing), os_days, os_event, pfs_days, pfs_event.
// Rows are generated in blocks, so a site of any size streams in constant memory.
func (g *Generator) WriteCSV(w io.Writer, site int) error {
	if site < 0 || site >= len(g.sites) {
		panic(fmt.Sprintf("synth: site %d out of range [0,%d)", site, len(g.sites)))
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	if _, err := bw.WriteString(strings.Join(g.Header(site), ",") + "\n"); err != nil {
		return err
	}
	total := g.sites[site].Patients
	sg := g.siteGen(site)
	c := g.newCohort(site, min(csvChunk, total))
	var b []byte
	for off := 0; off < total; off += csvChunk {
		k := min(csvChunk, total-off)
		c.Offset = off
		c.resize(k)
		sg.fill(c, k)
		for i := 0; i < k; i++ {
			b = c.appendRow(b[:0], i)
			if _, err := bw.Write(b); err != nil {
				return err
			}
		}
	}
	return bw.Flush()
}

func (c *Cohort) appendRow(b []byte, i int) []byte {
	b = c.appendID(b, i)
	for j, v := range c.Schema.Variables {
		b = append(b, ',')
		col := c.Columns[j]
		if v.Categorical() {
			if code := col.Codes[i]; code >= 0 {
				b = append(b, v.Levels[code]...)
			}
		} else if x := col.Values[i]; !math.IsNaN(x) {
			b = strconv.AppendFloat(b, x, 'f', -1, 64)
		}
	}
	b = append(b, ',')
	b = strconv.AppendFloat(b, c.OSDays[i], 'f', -1, 64)
	b = append(b, ',', flag(c.OSEvent[i]), ',')
	b = strconv.AppendFloat(b, c.PFSDays[i], 'f', -1, 64)
	if c.PFSCause != nil {
		b = append(b, ',', '0'+byte(c.PFSCause[i]))
	} else {
		b = append(b, ',', flag(c.PFSEvent[i]))
	}
	if c.OSEntryDays != nil {
		b = append(b, ',')
		b = strconv.AppendFloat(b, c.OSEntryDays[i], 'f', -1, 64)
	}
	return append(b, '\n')
}

func flag(b bool) byte {
	if b {
		return '1'
	}
	return '0'
}

// ManifestEntry describes one written site file.
type ManifestEntry struct {
	ImportSpec
	CSV      string   `json:"csv"` // path relative to the manifest
	DB       string   `json:"db"`  // suggested site database, relative to the manifest
	Patients int      `json:"patients"`
	Kind     SiteKind `json:"kind"`
	// Command is the full import command line, run from the manifest's directory.
	Command string `json:"command"`
}

// Manifest lists what WriteFiles wrote.
type Manifest struct {
	Seed  uint64          `json:"seed"`
	Sites []ManifestEntry `json:"sites"`
}

// WriteFiles writes one CSV per site and study into dir (<study>/<site>.csv), the study's
// dictionary (<study>/dictionary.json), a
// manifest.json and an import.sh with the `oncofed-node import` command for each file.
// Each site's database is <site>.db, shared by every study the site holds.
func WriteFiles(dir string, specs ...Spec) (*Manifest, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	man := &Manifest{}
	var script strings.Builder
	script.WriteString("#!/bin/sh\n# Imports the synthetic sites into one SQLite database per hospital.\nset -e\ncd \"$(dirname \"$0\")\"\n")
	for _, spec := range specs {
		g, err := New(spec)
		if err != nil {
			return nil, err
		}
		man.Seed = g.spec.Seed
		if err := os.MkdirAll(filepath.Join(dir, g.spec.Name), 0o755); err != nil {
			return nil, err
		}
		dict := filepath.Join(g.spec.Name, "dictionary.json")
		if err := os.WriteFile(filepath.Join(dir, dict), g.schema.Dictionary(), 0o644); err != nil {
			return nil, err
		}
		for i, s := range g.sites {
			rel := filepath.Join(g.spec.Name, s.Name+".csv")
			if err := writeFile(filepath.Join(dir, rel), func(w io.Writer) error { return g.WriteCSV(w, i) }); err != nil {
				return nil, fmt.Errorf("synth: site %s: %w", s.Name, err)
			}
			is := g.ImportSpec(i)
			is.Dictionary = dict
			db := s.Name + ".db"
			cmd := "oncofed-node import " + shellJoin(is.Args(db, rel))
			man.Sites = append(man.Sites, ManifestEntry{ImportSpec: is, CSV: rel, DB: db, Patients: s.Patients, Kind: s.Kind, Command: cmd})
			script.WriteString(cmd + "\n")
		}
	}
	js, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), append(js, '\n'), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "import.sh"), []byte(script.String()), 0o755); err != nil {
		return nil, err
	}
	return man, nil
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " \t'\"$`\\<>|&;*?()") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}
