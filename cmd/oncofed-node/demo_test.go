package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/synth"
)

// TestSynthCommandWritesImportableSites runs `oncofed-node synth` for a small mesothelioma
// federation and opens every site database it wrote.
func TestSynthCommandWritesImportableSites(t *testing.T) {
	dir := t.TempDir()
	if err := runSynth([]string{"--out", dir, "--study", "mpm", "--sites", "3", "--patients", "300", "--seed", "5"}); err != nil {
		t.Fatal(err)
	}
	var man synth.Manifest
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &man); err != nil {
		t.Fatal(err)
	}
	if len(man.Sites) != 3 {
		t.Fatalf("manifest lists %d sites, want 3", len(man.Sites))
	}
	total := 0
	for _, e := range man.Sites {
		store, err := node.OpenSQLite(filepath.Join(dir, e.DB))
		if err != nil {
			t.Fatal(err)
		}
		st, info, err := store.LoadStudy(context.Background(), "mpm")
		if err != nil {
			t.Fatalf("%s: %v", e.DB, err)
		}
		if st.Len() != e.Patients || info.DataCut != "2026-06-30" {
			t.Errorf("%s: %d patients, data cut %s; manifest %d, 2026-06-30", e.DB, st.Len(), info.DataCut, e.Patients)
		}
		if name, _ := store.SiteName(context.Background()); name != e.Site {
			t.Errorf("%s: site name %q, want %q", e.DB, name, e.Site)
		}
		total += st.Len()
		store.Close()
	}
	if total != 300 {
		t.Errorf("%d patients in all, want 300", total)
	}
}

// TestSynthCommandDemoDefaults: with no sizing flag the command writes the demo network with
// one policy file per hospital that the node accepts.
func TestSynthCommandDemoDefaults(t *testing.T) {
	dir := t.TempDir()
	if err := runSynth([]string{"--out", dir, "--study", "mpm", "--no-db"}); err != nil {
		t.Fatal(err)
	}
	for _, name := range synth.DemoFederation().SiteNames() {
		if _, err := node.LoadPolicy(filepath.Join(dir, name+".policy.json")); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "mpm", name+".csv")); err != nil {
			t.Error(err)
		}
	}
}

func TestSynthCommandBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--out", t.TempDir(), "--study", "glioma"},
		{"--out", t.TempDir(), "--sites", "5", "--patients", "3"},
		{"--out", t.TempDir(), "--data-cut", "June"},
	} {
		if err := runSynth(args); err == nil {
			t.Errorf("runSynth(%q) succeeded", args)
		}
	}
}
