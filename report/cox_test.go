package report

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
)

func TestTermLabel(t *testing.T) {
	req := app.Request{Cox: &app.CoxSpec{Covariates: []string{"sex", "stage", "age", "ecog"},
		Levels: map[string][]string{"sex": {"female", "male"}, "stage": {"IIIB", "IIIC", "IVA"}}}}
	names := Names{From: &app.Study{Variables: []app.Variable{{Name: "age", Unit: "years"}}}}
	for term, want := range map[string]string{
		"sexmale":   "sex: male vs female",
		"stageIVA":  "stage: IVA vs IIIB",
		"age":       "age, per year",
		"ecog":      "ecog",
		"sexfemale": "sexfemale", // the reference level is no column
	} {
		if got := TermLabel(req, term, names); got != want {
			t.Errorf("TermLabel(%q) = %q, want %q", term, got, want)
		}
	}
	if got := TermLabel(req, "age", Names{}); got != "age" {
		t.Errorf("without a dictionary: %q", got)
	}
}

// The HR table has each categorical covariate's reference level above its contrasts, and its
// CSV the estimates at full precision, empty where there are none.
func TestCoxRowsAndCSV(t *testing.T) {
	nan := math.NaN()
	r := &app.Result{Request: app.Request{Cox: &app.CoxSpec{Covariates: []string{"age", "stage"},
		Levels: map[string][]string{"stage": {"IIIB", "IIIC", "IVA"}}}},
		Cox: &app.CoxResult{Fit: &analysis.CoxFit{Terms: []string{"age", "stageIIIC", "stageIVA"},
			Coef: []float64{0.01, 0.5, nan}, SE: []float64{0.002, 0.1, nan}, HR: []float64{1.01005, 1.6487, nan},
			Lower: []float64{1.006, 1.35, nan}, Upper: []float64{1.014, 2.0, nan}, P: []float64{1e-6, 4e-7, nan}}}}
	rows := CoxRows(r, Names{})
	var labels []string
	for _, row := range rows {
		labels = append(labels, row.Label)
	}
	want := "age|stage: IIIB (reference)|stage: IIIC vs IIIB|stage: IVA vs IIIB"
	if got := strings.Join(labels, "|"); got != want {
		t.Fatalf("rows %s, want %s", got, want)
	}
	if !rows[1].Reference || rows[1].HR != 1 || rows[3].Estimable {
		t.Errorf("reference %+v, non-estimable %+v", rows[1], rows[3])
	}
	var b bytes.Buffer
	if err := WriteCoxCSV(&b, rows); err != nil {
		t.Fatal(err)
	}
	wantCSV := "term,variable,level,reference,hr,lower,upper,p,coef,se\n" +
		"age,age,,,1.01005,1.006,1.014,1e-06,0.01,0.002\n" +
		"stage: IIIB (reference),stage,IIIB,IIIB,1,,,,0,\n" +
		"stage: IIIC vs IIIB,stage,IIIC,IIIB,1.6487,1.35,2,4e-07,0.5,0.1\n" +
		"stage: IVA vs IIIB,stage,IVA,IIIB,,,,,,\n"
	if b.String() != wantCSV {
		t.Errorf("CSV\n%s\nwant\n%s", b.String(), wantCSV)
	}
}
