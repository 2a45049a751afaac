package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestLegacyCacheShowsAsBefore: a cache written before results were kept compact (schema 3,
// app/testdata/legacy-cache-v3.db) is migrated when it is opened, and `library show` then
// prints every result exactly as the Oncofed that stored it printed it (the goldens in
// app/testdata/legacy-cache-v3/ were written by that version from the same file): counts,
// Table 1, Kaplan–Meier curves and tests, and three Cox fits — stratified by site, pooled with
// Efron ties and pooled with Breslow ties on a filtered cohort — to the last bit of every
// number. Only the freshness of the result (cached, its age) may differ.
func TestLegacyCacheShowsAsBefore(t *testing.T) {
	src, err := os.ReadFile("../../app/testdata/legacy-cache-v3.db")
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "cache.db")
	if err := os.WriteFile(db, src, 0o600); err != nil {
		t.Fatal(err)
	}
	for id := 1; id <= 6; id++ {
		want, err := os.ReadFile(filepath.Join("../../app/testdata/legacy-cache-v3", "result-"+strconv.Itoa(id)+".json"))
		if err != nil {
			t.Fatal(err)
		}
		code, out, errOut := cli(t, "--offline", "--cache", db, "library", "show", strconv.Itoa(id), "--format", "json")
		if code != exitOK {
			t.Fatalf("show %d: exit %d: %s", id, code, errOut)
		}
		if withoutWhen(out) != withoutWhen(string(want)) {
			t.Errorf("show %d after the migration:\n%s\nbefore:\n%s", id, out, want)
		}
	}
}
