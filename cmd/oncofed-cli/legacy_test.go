package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
)

// TestLegacyCacheShowsAsBefore: a cache written before results were kept compact (schema 3,
// app/testdata/legacy-cache-v3.db) is migrated when it is opened, and `library show` then
// prints every result exactly as the Oncofed that stored it printed it (the goldens in
// app/testdata/legacy-cache-v3/ were written by that version from the same file): counts,
// Table 1, Kaplan–Meier curves and tests, and three Cox fits — stratified by site, pooled with
// Efron ties and pooled with Breslow ties on a filtered cohort — to the last bit of every
// number but one: the log-likelihood of a model refitted at the migration (a legacy result keeps
// the sites' replies, not its fit) may differ by rounding, since a tied time's Efron terms take
// their logarithms one per batch (analysis.efronTerms); it must agree to 1e-13. Only the
// freshness of the result (cached, its age) may differ besides.
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
		if !sameShown(t, out, string(want)) {
			t.Errorf("show %d after the migration:\n%s\nbefore:\n%s", id, out, want)
		}
	}
}

// sameShown reports whether two JSON outputs are equal, every number bit for bit except those
// of "loglik", which may differ by rounding (within 1e-13 of each other), and the result's
// freshness left out (withoutWhen: "cached", "age", the privacy line's "computed …").
func sameShown(t *testing.T, got, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("output: %v", err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("golden: %v", err)
	}
	var same func(g, w any, loglik bool) bool
	same = func(g, w any, loglik bool) bool {
		switch w := w.(type) {
		case map[string]any:
			gm, ok := g.(map[string]any)
			if !ok || len(gm) != len(w) {
				return false
			}
			for k, v := range w {
				if k == "cached" || k == "age" {
					continue
				}
				if !same(gm[k], v, k == "loglik") {
					return false
				}
			}
			return true
		case []any:
			ga, ok := g.([]any)
			if !ok || len(ga) != len(w) {
				return false
			}
			for i := range w {
				if !same(ga[i], w[i], loglik) {
					return false
				}
			}
			return true
		case float64:
			gf, ok := g.(float64)
			return ok && (gf == w || loglik && math.Abs(gf-w) <= 1e-13*math.Abs(w))
		case string:
			gs, ok := g.(string)
			return ok && withoutWhen(gs) == withoutWhen(w)
		default:
			return reflect.DeepEqual(g, w)
		}
	}
	return same(g, w, false)
}
