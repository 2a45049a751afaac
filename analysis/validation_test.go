package analysis

import (
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
)

// validationGoldens is testdata/validation_goldens.json (validation_goldens.R).
type validationGoldens struct {
	Concordance []struct {
		Name   string       `json:"name"`
		Time   goldenFloats `json:"time"`
		Event  goldenFloats `json:"event"`
		LP     goldenFloats `json:"lp"`
		concordanceGolden
	} `json:"concordance"`
	LOSO struct {
		Data struct {
			Site  []string     `json:"site"`
			Time  goldenFloats `json:"time"`
			Event goldenFloats `json:"event"`
			Age   goldenFloats `json:"age"`
			Male  goldenFloats `json:"male"`
			Ecog  goldenFloats `json:"ecogn"`
		} `json:"data"`
		Sites []struct {
			Site               string       `json:"site"`
			N                  int          `json:"n"`
			Events             int          `json:"events"`
			TrainCoef          goldenFloats `json:"train_coef"`
			LP                 goldenFloats `json:"lp"`
			CalibrationSlope   float64      `json:"calibration_slope"`
			CalibrationSlopeSE float64      `json:"calibration_slope_se"`
			Landmarks          goldenFloats `json:"landmarks"`
			BaselineCumHaz     goldenFloats `json:"baseline_cumhaz"`
			ObservedKM         goldenFloats `json:"observed_km"`
			MeanPredicted      goldenFloats `json:"mean_predicted"`
			concordanceGolden
		} `json:"sites"`
	} `json:"loso"`
	Pooled []struct {
		Name            string       `json:"name"`
		YI              goldenFloats `json:"yi"`
		SEI             goldenFloats `json:"sei"`
		Logit           bool         `json:"logit"`
		Estimate        float64      `json:"estimate"`
		SE              float64      `json:"se"`
		Tau2            float64      `json:"tau2"`
		I2              float64      `json:"I2"`
		Q               float64      `json:"Q"`
		Pred            float64      `json:"pred"`
		Lower           float64      `json:"lower"`
		Upper           float64      `json:"upper"`
		PredictionLower float64      `json:"prediction_lower"`
		PredictionUpper float64      `json:"prediction_upper"`
		DefaultTau2     float64      `json:"default_threshold_tau2"`
	} `json:"pooled"`
}

type concordanceGolden struct {
	HarrellC   float64 `json:"harrell_c"`
	HarrellSE  float64 `json:"harrell_se"`
	Concordant float64 `json:"concordant"`
	Discordant float64 `json:"discordant"`
	TiedX      float64 `json:"tied_x"`
	TiedY      float64 `json:"tied_y"`
	TiedXY     float64 `json:"tied_xy"`
	UnoC       float64 `json:"uno_c"`
	UnoSE      float64 `json:"uno_se"`
}

// validationTol is the bar (1e-6) on every validation figure.
const validationTol = 1e-6

func checkClose(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if !scalar.EqualWithinAbsOrRel(got, want, tol, tol) {
		t.Errorf("%s = %.12g, R %.12g", what, got, want)
	}
}

func flags(v goldenFloats) []bool {
	out := make([]bool, len(v))
	for i, x := range v {
		out[i] = x == 1
	}
	return out
}

// checkConcordance compares HarrellC and UnoC with R's concordance(..., reverse = TRUE).
func checkConcordance(t *testing.T, name string, time, lp []float64, event []bool, want concordanceGolden) {
	t.Helper()
	h, err := HarrellC(time, event, lp)
	if err != nil {
		t.Fatalf("%s: HarrellC: %v", name, err)
	}
	checkClose(t, name+" Harrell C", h.C, want.HarrellC, 1e-12)
	checkClose(t, name+" Harrell SE", h.SE, want.HarrellSE, 1e-9)
	for _, c := range []struct {
		what      string
		got, want float64
	}{{"concordant", h.Concordant, want.Concordant}, {"discordant", h.Discordant, want.Discordant},
		{"tied.x", h.TiedX, want.TiedX}, {"tied.y", h.TiedY, want.TiedY}, {"tied.xy", h.TiedXY, want.TiedXY}} {
		if c.got != c.want {
			t.Errorf("%s %s = %v, R %v", name, c.what, c.got, c.want)
		}
	}
	u, err := UnoC(time, event, lp)
	if err != nil {
		t.Fatalf("%s: UnoC: %v", name, err)
	}
	checkClose(t, name+" Uno C", u.C, want.UnoC, 1e-12)
	checkClose(t, name+" Uno SE", u.SE, want.UnoSE, 1e-9)
}

func TestConcordanceGoldens(t *testing.T) {
	var g validationGoldens
	loadGolden(t, "validation_goldens.json", &g)
	if len(g.Concordance) == 0 || len(g.LOSO.Sites) == 0 {
		t.Fatal("golden has no cases")
	}
	for _, c := range g.Concordance {
		checkConcordance(t, c.Name, c.Time, c.LP, flags(c.Event), c.concordanceGolden)
	}
	for _, s := range g.LOSO.Sites {
		var time, lp []float64
		var event []bool
		d := g.LOSO.Data
		for i, site := range d.Site {
			if site == s.Site {
				time = append(time, d.Time[i])
				event = append(event, d.Event[i] == 1)
			}
		}
		lp = s.LP
		checkConcordance(t, s.Site, time, lp, event, s.concordanceGolden)
	}
}

func TestConcordanceNoPairs(t *testing.T) {
	if _, err := HarrellC([]float64{5, 7}, []bool{false, false}, []float64{1, 2}); err != ErrNoComparablePairs {
		t.Errorf("all censored: err = %v, want ErrNoComparablePairs", err)
	}
	if _, err := HarrellC([]float64{5, 5}, []bool{true, true}, []float64{1, 2}); err != ErrNoComparablePairs {
		t.Errorf("two deaths at one time: err = %v, want ErrNoComparablePairs", err)
	}
	if _, err := HarrellC([]float64{5, -1}, []bool{true, true}, []float64{1, 2}); err == nil {
		t.Error("negative time accepted")
	}
}
