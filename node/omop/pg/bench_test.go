package pg_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/oncofed/oncofed/internal/pgtest"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/node/omop"
	"github.com/oncofed/oncofed/node/omop/pg"
	"github.com/oncofed/oncofed/synth"
)

// benchHospital is one synthetic NSCLC hospital written once per benchmark process as CSV
// (in memory) and as an OMOP CDM schema.
var benchHospital struct {
	once sync.Once
	gen  *synth.Generator
	csv  []byte
	url  string
	err  error
}

func benchPatients() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_OMOP_PATIENTS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// BenchmarkImport1M times the import of one hospital of 1,000,000 NSCLC patients
// (BENCH_OMOP_PATIENTS overrides the size) into a fresh SQLite site store: from its CSV file,
// and as a snapshot of its OMOP CDM on a local PostgreSQL (make bench puts both in
// bench/RESULTS.md side by side). Both stores hold the same study (TestSynthCSVAndOMOPAgree).
func BenchmarkImport1M(b *testing.B) {
	h := &benchHospital
	h.once.Do(func() {
		cl := pgtest.Get(b)
		g, err := synth.New(synth.Spec{Study: synth.NSCLC, SiteSizes: []int{benchPatients()}, Seed: 11})
		if err != nil {
			h.err = err
			return
		}
		h.gen = g
		var buf bytes.Buffer
		if h.err = g.WriteCSV(&buf, 0); h.err != nil {
			return
		}
		h.csv = buf.Bytes()
		cl.Exec(b, "postgres", "CREATE DATABASE bench_import")
		h.url = cl.URL(pgtest.Superuser, pgtest.SuperuserPassword, "bench_import")
		cdm, err := pg.Open(context.Background(), h.url, "")
		if err != nil {
			h.err = err
			return
		}
		defer cdm.Close(context.Background())
		h.err = pg.WriteSynthSite(context.Background(), cdm.Conn(), "site", []*synth.Generator{g}, 0)
	})
	if h.err != nil {
		b.Fatal(h.err)
	}
	ctx := context.Background()
	n := float64(h.gen.Sites()[0].Patients)
	b.Run("csv", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			store := newBenchStore(b, i)
			importCSVBytes(b, store, h.gen, h.csv)
			store.Close()
		}
		b.ReportMetric(n*float64(b.N)/b.Elapsed().Seconds(), "patients/s")
	})
	b.Run("omop", func(b *testing.B) {
		def := omop.SynthDefinition(h.gen)
		for i := 0; b.Loop(); i++ {
			store := newBenchStore(b, i)
			cdm, err := pg.Open(ctx, h.url, "site")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := cdm.Import(ctx, store, def, omop.Options{}); err != nil {
				b.Fatal(err)
			}
			cdm.Close(ctx)
			store.Close()
		}
		b.ReportMetric(n*float64(b.N)/b.Elapsed().Seconds(), "patients/s")
	})
}

func newBenchStore(b *testing.B, i int) *node.SQLiteStore {
	store, err := node.OpenSQLite(filepath.Join(b.TempDir(), "site"+strconv.Itoa(i)+".db"))
	if err != nil {
		b.Fatal(err)
	}
	return store
}

func importCSVBytes(b *testing.B, store node.Store, g *synth.Generator, csv []byte) {
	dict, err := node.ReadDictionary(bytes.NewReader(g.Schema().Dictionary()))
	if err != nil {
		b.Fatal(err)
	}
	is := g.ImportSpec(0)
	spec := node.ImportSpec{Study: is.Study, IDColumn: is.IDColumn, DataCut: is.DataCut.Format("2006-01-02"), Dictionary: dict}
	for _, e := range is.Endpoints {
		spec.Endpoints = append(spec.Endpoints, node.EndpointSpec{Name: e.Name, TimeColumn: e.TimeColumn, EventColumn: e.EventColumn})
	}
	if _, err := node.ImportCSV(context.Background(), store, spec, bytes.NewReader(csv)); err != nil {
		b.Fatal(err)
	}
}
