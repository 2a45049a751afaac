package node

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncofed/oncofed/internal/lungtest"
	"github.com/oncofed/oncofed/protocol"
)

// lungCSV is the NCCTG lung data as written by analysis/testdata/gen_lung.R.
const lungCSV = "../analysis/testdata/lung.csv"

var lungSpec = ImportSpec{Study: "lung", IDColumn: "id", DataCut: "2020-01-01",
	Endpoints:  []EndpointSpec{{Name: "OS", TimeColumn: "time", EventColumn: "event"}},
	Dictionary: lungDictionary()}

// lungDictionary is the lung study's committed dictionary (analysis/testdata), with the
// categories of lung.csv's site column.
func lungDictionary() Dictionary {
	f, err := os.Open(lungtest.DictionaryPath())
	if err != nil {
		panic(err)
	}
	defer f.Close()
	d, err := ReadDictionary(f)
	if err != nil {
		panic(err)
	}
	if err := d.AddCategories("site", lungtest.Sites); err != nil {
		panic(err)
	}
	return d
}

// fixedClock is an injectable clock for budget and audit tests.
type fixedClock struct{ t time.Time }

func (c *fixedClock) now() time.Time { return c.t }

func openStore(t testing.TB, path string) *SQLiteStore {
	t.Helper()
	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// importFile imports a CSV file into a new database in dir.
func importFile(t testing.TB, dbPath, csvPath string, spec ImportSpec) *SQLiteStore {
	t.Helper()
	s := openStore(t, dbPath)
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := ImportCSV(context.Background(), s, spec, f); err != nil {
		t.Fatalf("import %s: %v", csvPath, err)
	}
	return s
}

// splitLung writes lung.csv split by its site column into one CSV per site in dir and
// returns the site names and file paths, sorted by site.
func splitLung(t testing.TB, dir string) (sites, paths []string) {
	t.Helper()
	bySite := lungtest.WriteSites(t, dir, true)
	sites = slices.Sorted(maps.Keys(bySite))
	for _, s := range sites {
		paths = append(paths, bySite[s])
	}
	return sites, paths
}

// lungSites imports every lung site into its own database and returns an engine per site.
func lungSites(t testing.TB, policy protocol.Policy) []*Engine {
	t.Helper()
	dir := t.TempDir()
	sites, paths := splitLung(t, dir)
	var engines []*Engine
	for k, s := range sites {
		store := importFile(t, filepath.Join(dir, s+".db"), paths[k], lungSpec)
		e, err := NewEngine(context.Background(), store, Config{InsecureOpen: true, Policy: &policy})
		if err != nil {
			t.Fatal(err)
		}
		if e.Site() != s {
			t.Fatalf("site name %q, want %q from the database file name", e.Site(), s)
		}
		engines = append(engines, e)
	}
	return engines
}

// lungEngine imports the whole lung file into one database.
func lungEngine(t testing.TB, policy protocol.Policy, clock *fixedClock) (*Engine, *SQLiteStore) {
	t.Helper()
	store := importFile(t, filepath.Join(t.TempDir(), "lung.db"), lungCSV, lungSpec)
	cfg := Config{InsecureOpen: true, Policy: &policy}
	if clock != nil {
		cfg.Now = clock.now
	}
	e, err := NewEngine(context.Background(), store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e, store
}

func query(kind protocol.Kind) protocol.Query {
	return protocol.Query{Version: protocol.Version, Kind: kind, ID: "q", Analyst: "alice", Study: "lung"}
}

func mustOK(t testing.TB, r protocol.Reply) protocol.Reply {
	t.Helper()
	if r.Error != nil {
		t.Fatalf("query refused: %v", r.Error)
	}
	return r
}

func wantCode(t testing.TB, r protocol.Reply, code string) {
	t.Helper()
	if r.Error == nil {
		b, _ := json.Marshal(r)
		t.Fatalf("query answered, want refusal %s: %s", code, b)
	}
	if r.Error.Code != code {
		t.Fatalf("refused with %v, want code %s", r.Error, code)
	}
	if r.Count != nil || r.Summary != nil || r.Survival != nil || r.Cox != nil || r.Catalog != nil {
		t.Fatalf("refusal carries a payload")
	}
}

func eq(v, value string) *protocol.Filter {
	return &protocol.Filter{Op: protocol.OpEq, Var: v, Value: value}
}
func and(args ...*protocol.Filter) *protocol.Filter {
	return &protocol.Filter{Op: protocol.OpAnd, Args: args}
}
func rng(v string, lo, hi *float64) *protocol.Filter {
	return &protocol.Filter{Op: protocol.OpRange, Var: v, Min: lo, Max: hi}
}
func fp(x float64) *float64 { return &x }

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(strings.TrimLeft(content, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// declare is a dictionary declaring the categories of each VAR=a,b,c (as --categories does).
func declare(specs ...string) Dictionary {
	var d Dictionary
	for _, s := range specs {
		name, cats, err := ParseCategories(s)
		if err != nil {
			panic(err)
		}
		if err := d.AddCategories(name, cats); err != nil {
			panic(err)
		}
	}
	return d
}

// declareRanges sets the declared range (protocol.Variable.Min/Max) of the named numeric
// variables of a study on the engine's loaded study data, for tests that build a study
// without a dictionary file.
func declareRanges(t testing.TB, e *Engine, study string, ranges map[string][2]float64) {
	t.Helper()
	ls, err := e.study(context.Background(), study)
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range ranges {
		if v := ls.vars[name]; v != nil && v.Type == protocol.Numeric {
			v.Min, v.Max = fp(r[0]), fp(r[1])
		}
	}
}
