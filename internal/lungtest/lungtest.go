// Package lungtest gives tests in every package the NCCTG lung data of
// analysis/testdata/lung.csv (R's survival::lung with one site per institution, written by
// analysis/testdata/gen_lung.R), read and split by site the same way everywhere, and R's
// results on it (ReadExpected) and on the meta-analysis cases (ReadMeta), decoded strictly.
//
// It is test support only: it imports testing and fails the calling test on any error.
package lungtest

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
)

// Path returns the path of analysis/testdata/lung.csv, found from this source file so that
// it works from any package's test directory.
func Path() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("lungtest: cannot locate the source file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "analysis", "testdata", "lung.csv")
}

// Read returns lung.csv's header and data rows (227 patients, one row each).
func Read(tb testing.TB) (header []string, rows [][]string) {
	tb.Helper()
	f, err := os.Open(Path())
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		tb.Fatalf("lung.csv: %v", err)
	}
	return recs[0], recs[1:]
}

// Column returns the index of the named column in header, failing the test when there is
// none.
func Column(tb testing.TB, header []string, name string) int {
	tb.Helper()
	i := slices.Index(header, name)
	if i < 0 {
		tb.Fatalf("lung.csv has no column %q", name)
	}
	return i
}

// BySite returns lung.csv's rows grouped by their site column, in file order within a site,
// and the header; with keepSite false the site column is dropped from the header and every
// row, as for a site's own export, which names no site.
func BySite(tb testing.TB, keepSite bool) (header []string, sites map[string][][]string) {
	tb.Helper()
	header, rows := Read(tb)
	col := Column(tb, header, "site")
	drop := func(r []string) []string {
		if keepSite {
			return r
		}
		return slices.Delete(slices.Clone(r), col, col+1)
	}
	sites = map[string][][]string{}
	for _, r := range rows {
		sites[r[col]] = append(sites[r[col]], drop(r))
	}
	return drop(header), sites
}

// WriteSites writes each site's rows of lung.csv, under the header, to dir/<site>.csv and
// returns the paths by site; keepSite is as for BySite.
func WriteSites(tb testing.TB, dir string, keepSite bool) map[string]string {
	tb.Helper()
	header, sites := BySite(tb, keepSite)
	paths := map[string]string{}
	for site, rows := range sites {
		p := filepath.Join(dir, site+".csv")
		f, err := os.Create(p)
		if err != nil {
			tb.Fatal(err)
		}
		w := csv.NewWriter(f)
		_ = w.Write(header)
		_ = w.WriteAll(rows) // WriteAll flushes; its error, like Write's, is w.Error()
		if err := w.Error(); err != nil {
			tb.Fatal(err)
		}
		if err := f.Close(); err != nil {
			tb.Fatal(err)
		}
		paths[site] = p
	}
	return paths
}

// Ranges are declared ranges (min, max) of lung.csv's numeric variables, as a study dictionary
// would give them (wider than the data: ages 39–82, Karnofsky 50–100, weight loss −24–68 kg).
// Protective sites cap a Cox model's β per the declared range and refuse a numeric covariate
// without one; tests set these on the loaded study until import reads them from a dictionary.
var Ranges = map[string][2]float64{"age": {18, 100}, "karno": {0, 100}, "wt.loss": {-50, 100}}
