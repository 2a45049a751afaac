package lungtest

import (
	"encoding/csv"
	"os"
	"slices"
	"testing"
)

// TestBySite: every data row lands at exactly one site, in file order, with or without the
// site column; 227 patients at 18 institutions (R: nrow(subset(lung, !is.na(inst))),
// length(unique(lung$inst))).
func TestBySite(t *testing.T) {
	header, rows := Read(t)
	if len(rows) != 227 {
		t.Fatalf("%d rows, want 227", len(rows))
	}
	site := Column(t, header, "site")
	for _, keep := range []bool{true, false} {
		h, sites := BySite(t, keep)
		if len(sites) != 18 {
			t.Fatalf("keepSite %v: %d sites, want 18", keep, len(sites))
		}
		if got := slices.Contains(h, "site"); got != keep {
			t.Errorf("keepSite %v: header %v", keep, h)
		}
		next := map[string]int{}
		for _, r := range rows {
			s := r[site]
			got := sites[s][next[s]]
			next[s]++
			want := r
			if !keep {
				want = append(append([]string(nil), r[:site]...), r[site+1:]...)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("keepSite %v: site %s row %d is %v, want %v", keep, s, next[s]-1, got, want)
			}
		}
		for s, rs := range sites {
			if next[s] != len(rs) {
				t.Errorf("keepSite %v: site %s has %d rows, lung.csv %d", keep, s, len(rs), next[s])
			}
		}
	}
}

// TestWriteSites: the files read back as the header and rows BySite gives.
func TestWriteSites(t *testing.T) {
	header, sites := BySite(t, false)
	paths := WriteSites(t, t.TempDir(), false)
	if len(paths) != len(sites) {
		t.Fatalf("%d files for %d sites", len(paths), len(sites))
	}
	for s, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(recs[0], header) || len(recs)-1 != len(sites[s]) {
			t.Fatalf("%s: header %v, %d rows; want %v, %d", s, recs[0], len(recs)-1, header, len(sites[s]))
		}
		for i, r := range recs[1:] {
			if !slices.Equal(r, sites[s][i]) {
				t.Fatalf("%s row %d: %v, want %v", s, i, r, sites[s][i])
			}
		}
	}
}
