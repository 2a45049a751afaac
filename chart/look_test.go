package chart

import (
	"os"
	"path/filepath"
	"testing"
)

// TestLook writes every golden figure as PNG, SVG and PDF, and a three-page deck, to the
// directory in CHART_LOOK, for looking at them with a viewer.
func TestLook(t *testing.T) {
	dir := os.Getenv("CHART_LOOK")
	if dir == "" {
		t.Skip("set CHART_LOOK=dir to write the figures for looking at")
	}
	dark := lungFigure(t)
	dark.Style = PublicationStyle().Dark()
	for name, f := range map[string]Figure{"km_four_800x500": fourGroupFigure(), "km_lung_dark": dark} {
		if err := WriteFile(filepath.Join(dir, name+".png"), f, 800, 500); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range goldenFigures(t) {
		for _, ext := range []string{".png", ".svg", ".pdf"} {
			if err := WriteFile(filepath.Join(dir, g.name+ext), g.fig, g.w, g.h); err != nil {
				t.Fatal(err)
			}
		}
	}
}
