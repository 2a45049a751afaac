//go:build ignore

// Writes screen_nsclc.csv, the synthetic case of screen_goldens.R: NSCLC with candidate
// markers (synth.Spec.Markers), four sites, the columns the screen golden uses.
// Run from the repository root: go run analysis/testdata/r/gen_screen_nsclc.go
package main

import (
	"encoding/csv"
	"log"
	"os"
	"strconv"

	"github.com/oncofed/oncofed/synth"
)

func main() {
	g, err := synth.New(synth.Spec{Study: synth.NSCLC, SiteSizes: []int{900, 600, 400, 300}, Seed: 15, Markers: true})
	if err != nil {
		log.Fatal(err)
	}
	keep := []string{"age", "treatment", "tp53", "stk11", "keap1", "smarca4", "kras", "tmb", "tmb_high", "pdl1_tps",
		"met_ex14", "nf1", "lrp1b", "score_ifng", "score_cd8"}
	f, err := os.Create("analysis/testdata/r/screen_nsclc.csv")
	if err != nil {
		log.Fatal(err)
	}
	w := csv.NewWriter(f)
	w.Write(append([]string{"site", "time", "event"}, keep...))
	for i := range g.Sites() {
		c := g.Site(i)
		for k := 0; k < c.Len(); k++ {
			ev := "0"
			if c.OSEvent[k] {
				ev = "1"
			}
			row := []string{c.Site.Name, strconv.FormatFloat(c.OSDays[k], 'f', -1, 64), ev}
			for _, name := range keep {
				col := c.Column(name)
				switch {
				case col.Codes != nil:
					row = append(row, c.Level(name, k))
				default:
					v := col.Values[k]
					if v != v {
						row = append(row, "")
					} else {
						row = append(row, strconv.FormatFloat(v, 'f', -1, 64))
					}
				}
			}
			w.Write(row)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		log.Fatal(err)
	}
	f.Close()
}
