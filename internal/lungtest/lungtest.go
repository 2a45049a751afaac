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

// DictionaryPath returns the path of analysis/testdata/lung_dictionary.json, the study's
// declared dictionary (node.ReadDictionary) for a site's own export of lung.csv, without the
// site column; a file with the site column also declares its categories (Sites).
func DictionaryPath() string {
	return filepath.Join(filepath.Dir(Path()), "lung_dictionary.json")
}

// Sites are the categories of lung.csv's site column in R's (sorted) order.
var Sites = []string{"inst1", "inst10", "inst11", "inst12", "inst13", "inst15", "inst16", "inst2", "inst21",
	"inst22", "inst26", "inst3", "inst32", "inst33", "inst4", "inst5", "inst6", "inst7"}

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
