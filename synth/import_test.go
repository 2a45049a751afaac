package synth_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/synth"
)

// TestCSVImportsIntoNode writes every site of every study to a real CSV file and loads it
// with the node's importer into a real SQLite database: the import must succeed, type each
// variable as the schema says (numeric vs categorical with the schema's levels), keep every
// patient, and hold the same endpoint columns as the generator's column API.
func TestCSVImportsIntoNode(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	man, err := synth.WriteFiles(dir,
		synth.Spec{Study: synth.NSCLC, SiteSizes: []int{400, 150}, Seed: 6},
		synth.Spec{Study: synth.TNBC, SiteSizes: []int{300, 120}, Seed: 6},
		synth.Spec{Study: synth.MPM, SiteSizes: []int{200, 60}, Seed: 6},
		synth.Spec{Study: synth.MM, SiteSizes: []int{300, 80}, Seed: 6},
	)
	if err != nil {
		t.Fatal(err)
	}
	if len(man.Sites) != 8 {
		t.Fatalf("manifest lists %d site files, want 8", len(man.Sites))
	}
	for _, e := range man.Sites {
		study, _ := synth.ParseStudy(e.Study)
		schema, _ := synth.SchemaOf(study)
		store, err := node.OpenSQLite(filepath.Join(dir, e.DB))
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(filepath.Join(dir, e.CSV))
		if err != nil {
			t.Fatal(err)
		}
		df, err := os.Open(filepath.Join(dir, e.Dictionary))
		if err != nil {
			t.Fatal(err)
		}
		dict, err := node.ReadDictionary(df)
		df.Close()
		if err != nil {
			t.Fatalf("%s: dictionary: %v", e.Study, err)
		}
		spec := node.ImportSpec{Study: e.Study, IDColumn: e.IDColumn, DataCut: e.DataCut.Format("2006-01-02"), Site: e.Site, Dictionary: dict,
			Causes: e.Causes}
		for _, ep := range e.Endpoints {
			spec.Endpoints = append(spec.Endpoints, node.EndpointSpec{Name: ep.Name, TimeColumn: ep.TimeColumn, EventColumn: ep.EventColumn})
		}
		rep, err := node.ImportCSV(ctx, store, spec, f)
		f.Close()
		if err != nil {
			t.Fatalf("%s/%s: import: %v", e.Study, e.Site, err)
		}
		if rep.Patients != e.Patients {
			t.Errorf("%s/%s: imported %d patients, manifest says %d", e.Study, e.Site, rep.Patients, e.Patients)
		}
		st, _, err := store.LoadStudy(ctx, e.Study)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range schema.Variables {
			got := st.Variable(v.Name)
			if got == nil {
				t.Errorf("%s: variable %s not imported", e.Study, v.Name)
				continue
			}
			if v.Categorical() != (got.Type != protocol.Numeric) {
				t.Errorf("%s.%s: imported as %v", e.Study, v.Name, got.Type)
			}
			if v.Categorical() && !slices.Equal(got.Categories, v.Levels) {
				// Declared by the dictionary, in the schema's order, whatever the site holds.
				t.Errorf("%s.%s: categories %v, want the schema's %v", e.Study, v.Name, got.Categories, v.Levels)
			}
			if !v.Categorical() && (got.Min == nil || *got.Min != *v.Min || got.Max == nil || *got.Max != *v.Max) {
				t.Errorf("%s.%s: range %v..%v, want the schema's %v..%v", e.Study, v.Name, got.Min, got.Max, *v.Min, *v.Max)
			}
		}
		// Endpoints equal the generator's columns (same rows in the same order as IDs).
		g, _ := synth.New(synth.Spec{Study: study, SiteSizes: sizesFor(man, e.Study), Seed: 6})
		var c *synth.Cohort
		for i, s := range g.Sites() {
			if s.Name == e.Site {
				c = g.Site(i)
			}
		}
		want := sortedByID(c)
		for k, name := range []string{"OS", "PFS"} {
			ep := st.Endpoint(name)
			if ep == nil {
				t.Fatalf("%s: endpoint %s not imported", e.Study, name)
			}
			got := make([]row, len(st.IDs))
			for i, id := range st.IDs {
				got[i] = row{id, ep.Time[i], ep.Event[i]}
			}
			sort.Slice(got, func(a, b int) bool { return got[a].id < got[b].id })
			for i := range got {
				w := want[k][i]
				if got[i] != w {
					t.Fatalf("%s/%s %s: row %d = %+v, want %+v", e.Study, e.Site, name, i, got[i], w)
				}
			}
		}
		store.Close()
	}
	if _, err := os.Stat(filepath.Join(dir, "import.sh")); err != nil {
		t.Error(err)
	}
}

type row struct {
	id    string
	time  float64
	event bool
}

func sortedByID(c *synth.Cohort) [2][]row {
	var out [2][]row
	for i := 0; i < c.Len(); i++ {
		out[0] = append(out[0], row{c.ID(i), c.OSDays[i], c.OSEvent[i]})
		out[1] = append(out[1], row{c.ID(i), c.PFSDays[i], c.PFSEvent[i]})
	}
	for k := range out {
		sort.Slice(out[k], func(a, b int) bool { return out[k][a].id < out[k][b].id })
	}
	return out
}

func sizesFor(m *synth.Manifest, study string) []int {
	var s []int
	for _, e := range m.Sites {
		if e.Study == study {
			s = append(s, e.Patients)
		}
	}
	return s
}
