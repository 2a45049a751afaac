package pg_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/oncofed/oncofed/internal/pgtest"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/node/omop"
	"github.com/oncofed/oncofed/node/omop/pg"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/synth"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// synthSpecs is a small federation of every study: two hospitals each.
var synthSpecs = []synth.Spec{
	{Study: synth.NSCLC, SiteSizes: []int{400, 150}, Seed: 7},
	{Study: synth.TNBC, SiteSizes: []int{300, 120}, Seed: 7},
	{Study: synth.MPM, SiteSizes: []int{200, 60}, Seed: 7},
	{Study: synth.MM, SiteSizes: []int{300, 80}, Seed: 7},
}

func generators(t testing.TB, specs []synth.Spec) []*synth.Generator {
	var gens []*synth.Generator
	for _, s := range specs {
		g, err := synth.New(s)
		if err != nil {
			t.Fatal(err)
		}
		gens = append(gens, g)
	}
	return gens
}

// writeSynthCDM writes every site of gens into its own schema of a fresh database and
// returns the database's URL.
func writeSynthCDM(t testing.TB, gens []*synth.Generator) string {
	ctx := context.Background()
	url := pgtest.Get(t).NewDatabase(t)
	cdm, err := pg.Open(ctx, url, "")
	if err != nil {
		t.Fatal(err)
	}
	defer cdm.Close(ctx)
	for i, s := range gens[0].Sites() {
		if err := pg.WriteSynthSite(ctx, cdm.Conn(), pg.SchemaName(s.Name), gens, i); err != nil {
			t.Fatalf("site %s: %v", s.Name, err)
		}
	}
	return url
}

// importCSV loads site i of g through the CSV path (the files and dictionary synth writes,
// as `oncofed-node import --csv` does).
func importCSV(t testing.TB, store node.Store, g *synth.Generator, i int) node.ImportReport {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "site.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := g.WriteCSV(&buf, i); err != nil {
		t.Fatal(err)
	}
	// The OMOP definitions declare PFS's competing causes and the registry's OS entry as the
	// CSV import does (--causes, --entry).
	if _, err := f.WriteString(buf.String()); err != nil {
		t.Fatal(err)
	}
	f.Close()
	dict, err := node.ReadDictionary(bytesReader(g.Schema().Dictionary()))
	if err != nil {
		t.Fatal(err)
	}
	is := g.ImportSpec(i)
	spec := node.ImportSpec{Study: is.Study, IDColumn: is.IDColumn, DataCut: is.DataCut.Format("2006-01-02"), Site: is.Site, Dictionary: dict,
		Causes: is.Causes, Entry: is.Entry}
	for _, e := range is.Endpoints {
		spec.Endpoints = append(spec.Endpoints, node.EndpointSpec{Name: e.Name, TimeColumn: e.TimeColumn, EventColumn: e.EventColumn})
	}
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	rep, err := node.ImportCSV(ctx, store, spec, in)
	if err != nil {
		t.Fatalf("CSV import: %v", err)
	}
	return rep
}

// TestSynthCSVAndOMOPAgree writes the same synthetic hospitals as CSV files and as OMOP CDM
// v5.4 schemas in a real PostgreSQL, imports each site both ways into SQLite stores, and
// requires identical studies (ids, columns, dictionary hash, title, data cut) and identical
// catalog, count, Table 1 (summary), survival (KM) and Cox replies.
func TestSynthCSVAndOMOPAgree(t *testing.T) {
	ctx := context.Background()
	gens := generators(t, synthSpecs)
	url := writeSynthCDM(t, gens)
	dir := t.TempDir()
	for i, s := range gens[0].Sites() {
		csvStore, err := node.OpenSQLite(filepath.Join(dir, s.Name+"-csv.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer csvStore.Close()
		omopStore, err := node.OpenSQLite(filepath.Join(dir, s.Name+"-omop.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer omopStore.Close()
		cdm, err := pg.Open(ctx, url, pg.SchemaName(s.Name))
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range gens {
			study := g.Spec().Name
			csvRep := importCSV(t, csvStore, g, i)
			def := omop.SynthDefinition(g)
			// The definition survives its JSON form (the file synth writes).
			js, _ := json.Marshal(def)
			def, err = omop.ReadDefinition(bytesReader(js))
			if err != nil {
				t.Fatalf("%s: %v", study, err)
			}
			rep, err := cdm.Import(ctx, omopStore, def, omop.Options{Site: s.Name})
			if err != nil {
				t.Fatalf("%s/%s: OMOP import: %v", study, s.Name, err)
			}
			if rep.Patients != csvRep.Patients || rep.DictionaryHash != csvRep.DictionaryHash || rep.Title != csvRep.Title || rep.DataCut != csvRep.DataCut {
				t.Errorf("%s/%s: OMOP %+v, CSV %+v", study, s.Name, rep.ImportReport, csvRep)
			}
			a, _, err := csvStore.LoadStudy(ctx, study)
			if err != nil {
				t.Fatal(err)
			}
			b, _, err := omopStore.LoadStudy(ctx, study)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(nanFree(a), nanFree(b)) {
				diffStudies(t, study+"/"+s.Name, a, b)
			}
		}
		cdm.Close(ctx)
		compareAnswers(t, s.Name, gens, csvStore, omopStore)
	}
}

// nanFree returns s with its missing numbers (NaN, which equals nothing) as -Inf, for
// reflect.DeepEqual.
func nanFree(s *node.StudyData) *node.StudyData {
	c := *s
	c.Variables = append([]node.VariableData(nil), s.Variables...)
	for j := range c.Variables {
		v := &c.Variables[j]
		if v.Numeric == nil {
			continue
		}
		v.Numeric = append([]float64(nil), v.Numeric...)
		for i, x := range v.Numeric {
			if math.IsNaN(x) {
				v.Numeric[i] = math.Inf(-1)
			}
		}
	}
	return &c
}

func diffStudies(t *testing.T, where string, a, b *node.StudyData) {
	t.Helper()
	if !reflect.DeepEqual(a.IDs, b.IDs) {
		t.Errorf("%s: ids differ: CSV %v…, OMOP %v…", where, a.IDs[:3], b.IDs[:3])
	}
	for k := range a.Endpoints {
		ea, eb := a.Endpoints[k], b.Endpoints[k]
		for i := range ea.Time {
			if ea.Time[i] != eb.Time[i] || ea.Event[i] != eb.Event[i] {
				t.Errorf("%s: %s of %s: CSV (%v, %v), OMOP (%v, %v)", where, ea.Name, a.IDs[i], ea.Time[i], ea.Event[i], eb.Time[i], eb.Event[i])
				break
			}
		}
	}
	for j := range a.Variables {
		if !reflect.DeepEqual(a.Variables[j], b.Variables[j]) {
			va, vb := a.Variables[j], b.Variables[j]
			for i := range a.IDs {
				if va.Missing(i) != vb.Missing(i) || (va.Codes != nil && va.Codes[i] != vb.Codes[i]) || (va.Numeric != nil && !va.Missing(i) && va.Numeric[i] != vb.Numeric[i]) {
					t.Errorf("%s: variable %s of %s differs: CSV %v/%v, OMOP %v/%v", where, va.Name, a.IDs[i], va.Codes, va.Numeric[i:i+1], vb.Codes, vb.Numeric[i:i+1])
					break
				}
			}
			t.Errorf("%s: variable %s differs (%+v vs %+v)", where, va.Name, va.Variable, vb.Variable)
		}
	}
	if a.Name != b.Name || a.DataCut != b.DataCut || a.StudyVersion != b.StudyVersion || a.Title != b.Title {
		t.Errorf("%s: headers differ", where)
	}
}

// compareAnswers asks both stores the same queries under the exact policy and requires the
// same replies (the answer parts; ids and timestamps aside).
func compareAnswers(t *testing.T, site string, gens []*synth.Generator, a, b node.Store) {
	ctx := context.Background()
	policy := node.ExactPolicy()
	ea, err := node.NewEngine(ctx, a, node.Config{InsecureOpen: true, Policy: &policy, Site: site})
	if err != nil {
		t.Fatal(err)
	}
	eb, err := node.NewEngine(ctx, b, node.Config{InsecureOpen: true, Policy: &policy, Site: site})
	if err != nil {
		t.Fatal(err)
	}
	queries := []protocol.Query{{Kind: protocol.KindCatalog}}
	for _, g := range gens {
		st := g.Spec().Name
		queries = append(queries,
			protocol.Query{Kind: protocol.KindCount, Study: st, GroupBy: "sex"},
			protocol.Query{Kind: protocol.KindSummary, Study: st, Variables: []string{"age", "sex", "ecog", "treatment"},
				Bins: []protocol.HistogramSpec{{Variable: "age", Edges: []float64{18, 50, 60, 70, 80, 100}}}},
			protocol.Query{Kind: protocol.KindSurvival, Study: st, Endpoint: "OS", GroupBy: "treatment"},
			protocol.Query{Kind: protocol.KindSurvival, Study: st, Endpoint: "PFS"},
			protocol.Query{Kind: protocol.KindCox, Study: st, Endpoint: "OS",
				Cox: &protocol.CoxRequest{Form: protocol.CoxStratified, Ties: "efron", Covariates: []string{"age", "ecog"}, Beta: []float64{0.01, 0.3}}},
		)
	}
	if gens[0].Spec().Study == synth.NSCLC {
		queries = append(queries, protocol.Query{Kind: protocol.KindSurvival, Study: gens[0].Spec().Name, Endpoint: "OS", GroupBy: "race"})
	}
	for n, q := range queries {
		q.Version, q.Analyst, q.ID = protocol.Version, "alice", "q"
		ra, rb := ea.Handle(ctx, q), eb.Handle(ctx, q)
		if ra.Error != nil {
			t.Fatalf("%s: query %d (%s %s): %v", site, n, q.Kind, q.Study, ra.Error)
		}
		ja, jb := answerJSON(ra), answerJSON(rb)
		if ja != jb {
			t.Errorf("%s: query %d (%s %s %s) differs:\nCSV  %s\nOMOP %s", site, n, q.Kind, q.Study, q.GroupBy, ja, jb)
		}
	}
}

// answerJSON is a reply as JSON.
func answerJSON(r protocol.Reply) string {
	b, _ := json.Marshal(r)
	return string(b)
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
