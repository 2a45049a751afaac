package chart

import (
	"math"
	"os"
	"strconv"
	"testing"
)

var nan = math.NaN()

func TestLook(t *testing.T) {
	dir := os.Getenv("CHART_LOOK")
	if dir == "" {
		t.Skip("set CHART_LOOK=dir to write figures for looking at")
	}
	f := lungFigure(t)
	for _, sz := range [][2]int{{1600, 1000}, {800, 500}} {
		if err := WriteFile(dir+"/km_"+itoa(sz[0])+".png", f, sz[0], sz[1]); err != nil {
			t.Fatal(err)
		}
	}
	p := *f
	p.Style = PresentationStyle()
	if err := WriteFile(dir+"/km_pres.png", &p, 1600, 1000); err != nil {
		t.Fatal(err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
