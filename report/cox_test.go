package report

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
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
	if err := WriteCoxCSV(&b, r, rows); err != nil {
		t.Fatal(err)
	}
	wantCSV := "term,variable,level,reference,hr,lower,upper,p,coef,se,noise_sd,release\n" +
		"age,age,,,1.01005,1.006,1.014,1e-06,0.01,0.002,,exact\n" +
		"stage: IIIB (reference),stage,IIIB,IIIB,1,,,,0,,,exact\n" +
		"stage: IIIC vs IIIB,stage,IIIC,IIIB,1.6487,1.35,2,4e-07,0.5,0.1,,exact\n" +
		"stage: IVA vs IIIB,stage,IVA,IIIB,,,,,,,,exact\n"
	if b.String() != wantCSV {
		t.Errorf("CSV\n%s\nwant\n%s", b.String(), wantCSV)
	}

	// A fit on differentially private tables: each coefficient's noise SD, and every row says
	// the release is noisy, so the file cannot pass for an exact table once saved.
	r.Cox.NoiseSD = []float64{0.003, 0.2, nan}
	r.Provenance.Sites = []app.SiteProvenance{{Site: "a", Policy: protocol.PolicyEffects{DP: &protocol.DPEffects{Rho: 0.05}}}}
	b.Reset()
	if err := WriteCoxCSV(&b, r, CoxRows(r, Names{})); err != nil {
		t.Fatal(err)
	}
	wantCSV = "term,variable,level,reference,hr,lower,upper,p,coef,se,noise_sd,release\n" +
		"age,age,,,1.01005,1.006,1.014,1e-06,0.01,0.002,0.003,differentially private\n" +
		"stage: IIIB (reference),stage,IIIB,IIIB,1,,,,0,,,differentially private\n" +
		"stage: IIIC vs IIIB,stage,IIIC,IIIB,1.6487,1.35,2,4e-07,0.5,0.1,0.2,differentially private\n" +
		"stage: IVA vs IIIB,stage,IVA,IIIB,,,,,,,,differentially private\n"
	if b.String() != wantCSV {
		t.Errorf("dp CSV\n%s\nwant\n%s", b.String(), wantCSV)
	}
}
