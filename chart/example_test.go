package chart_test

import (
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/chart"
)

func ExampleFormatHR() {
	fmt.Println(chart.FormatHR(1.66807171208045, 1.20084358358151, 2.31709048096368))
	fmt.Println(chart.FormatMedianCI(14.0, 11.4, math.NaN()))
	fmt.Println(chart.FormatCount(3, 5, false))
	fmt.Println(chart.FormatCount(312, 5, true)) // a differentially private release
	// Output:
	// 1.67 (1.20–2.32)
	// 14.0 (11.4–NR)
	// <5
	// ≈312
}

// A Kaplan–Meier figure from pooled survival tables, written as a PNG for a slide.
func ExampleKMFigure() {
	arms := map[string]analysis.SurvivalTable{}
	for name, tt := range map[string][]float64{
		"control":      {90, 150, 210, 300, 330, 420, 510, 600, 720, 800},
		"experimental": {120, 240, 330, 420, 480, 610, 700, 760, 900, 1000},
	} {
		events := []bool{true, true, false, true, true, false, true, true, false, true}
		t, err := analysis.NewSurvivalTable(tt, events)
		if err != nil {
			log.Fatal(err)
		}
		arms[name] = t
	}
	fig := &chart.KMFigure{Title: "Overall survival", Footnote: "Illustrative data.", Style: chart.PresentationStyle()}
	for _, name := range []string{"control", "experimental"} {
		est, err := analysis.KaplanMeier(arms[name], analysis.KMOptions{})
		if err != nil {
			log.Fatal(err)
		}
		fig.Curves = append(fig.Curves, chart.CurveFromEstimate(name, est))
	}
	lr, err := analysis.LogRank([]analysis.SurvivalTable{arms["control"], arms["experimental"]})
	if err != nil {
		log.Fatal(err)
	}
	fig.LogRankP = &lr.P
	fmt.Println(fig.Ticks()) // the times, in days, to ask the sites for at-risk counts

	dir, _ := os.MkdirTemp("", "km")
	defer os.RemoveAll(dir)
	if err := chart.WriteFile(filepath.Join(dir, "km.png"), fig, 1600, 1000); err != nil {
		log.Fatal(err)
	}
	// Output:
	// [0 182.625 365.25 547.875 730.5 913.125 1095.75]
}
