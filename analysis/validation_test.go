package analysis

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
)

// validationGoldens is testdata/validation_goldens.json (validation_goldens.R).
type validationGoldens struct {
	Concordance []struct {
		Name  string       `json:"name"`
		Time  goldenFloats `json:"time"`
		Event goldenFloats `json:"event"`
		LP    goldenFloats `json:"lp"`
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
			Brier              goldenFloats `json:"brier"`
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

// TestLeaveOneSiteOutGoldens follows the leave-one-site-out shape on lung split by institution:
// the model is fitted (FitCox) on all sites but one, and the held-out site evaluates it
// (ValidateAtSite); the per-site C and slopes are then pooled (PoolConcordance,
// MetaAnalyzeREML). Every figure against R to the 1e-6.
func TestLeaveOneSiteOutGoldens(t *testing.T) {
	var g validationGoldens
	loadGolden(t, "validation_goldens.json", &g)
	d := g.LOSO.Data
	var cs, slopes []SiteEstimate
	for _, s := range g.LOSO.Sites {
		var trTime, teTime, trX, teX []float64
		var trEvent, teEvent []bool
		for i, site := range d.Site {
			x := []float64{d.Age[i], d.Male[i], d.Ecog[i]}
			if site == s.Site {
				teTime, teEvent, teX = append(teTime, d.Time[i]), append(teEvent, d.Event[i] == 1), append(teX, x...)
			} else {
				trTime, trEvent, trX = append(trTime, d.Time[i]), append(trEvent, d.Event[i] == 1), append(trX, x...)
			}
		}
		st, err := NewCoxStratum(trTime, trEvent, trX, 3)
		if err != nil {
			t.Fatal(err)
		}
		fit, err := FitCox(func(b []float64) (CoxContribution, error) { return st.Contribution(b, Efron) }, 3, CoxOptions{})
		if err != nil {
			t.Fatalf("%s: training fit: %v", s.Site, err)
		}
		for j := range fit.Coef {
			checkClose(t, s.Site+" training coef", fit.Coef[j], s.TrainCoef[j], validationTol)
		}
		// The held-out site evaluates the broadcast β on its own patients.
		lp := make([]float64, len(teTime))
		for i := range lp {
			for j := range 3 {
				lp[i] += teX[i*3+j] * fit.Coef[j]
			}
		}
		if len(lp) != s.N {
			t.Fatalf("%s: %d held-out patients, R %d", s.Site, len(lp), s.N)
		}
		v, err := ValidateAtSite(teTime, teEvent, lp, Efron, s.Landmarks, s.BaselineCumHaz)
		if err != nil {
			t.Fatalf("%s: %v", s.Site, err)
		}
		if v.N != s.N || v.Events != s.Events {
			t.Errorf("%s: n, events = %d, %d; R %d, %d", s.Site, v.N, v.Events, s.N, s.Events)
		}
		checkClose(t, s.Site+" Harrell C", v.Harrell.C, s.HarrellC, validationTol)
		checkClose(t, s.Site+" Harrell SE", v.Harrell.SE, s.HarrellSE, validationTol)
		checkClose(t, s.Site+" Uno C", v.Uno.C, s.UnoC, validationTol)
		checkClose(t, s.Site+" Uno SE", v.Uno.SE, s.UnoSE, validationTol)
		checkClose(t, s.Site+" calibration slope", v.Slope, s.CalibrationSlope, validationTol)
		checkClose(t, s.Site+" calibration slope SE", v.SlopeSE, s.CalibrationSlopeSE, validationTol)
		if len(v.Calibration) != len(s.Landmarks) {
			t.Fatalf("%s: %d calibration points, want %d", s.Site, len(v.Calibration), len(s.Landmarks))
		}
		for k, c := range v.Calibration {
			checkClose(t, s.Site+" observed KM", c.Observed, s.ObservedKM[k], 1e-12)
			checkClose(t, s.Site+" mean predicted", c.Predicted, s.MeanPredicted[k], validationTol)
			checkClose(t, s.Site+" Brier", c.Brier, s.Brier[k], validationTol)
		}
		// R's own lp (the same β to 15 digits) gives the same slope to 1e-9.
		slope, _, err := CalibrationSlope(teTime, teEvent, s.LP, Efron)
		if err != nil {
			t.Fatal(err)
		}
		checkClose(t, s.Site+" calibration slope (R's lp)", slope, s.CalibrationSlope, 1e-9)
		cs = append(cs, SiteEstimate{s.Site, s.HarrellC, s.HarrellSE})
		slopes = append(slopes, SiteEstimate{s.Site, s.CalibrationSlope, s.CalibrationSlopeSE})
	}
	for _, p := range g.Pooled {
		switch p.Name {
		case "lung_loso_harrell_c":
			pc, err := PoolConcordance(cs, 0.95)
			if err != nil {
				t.Fatal(err)
			}
			checkClose(t, "pooled C", pc.C, p.Pred, validationTol)
			checkClose(t, "pooled C lower", pc.Lower, p.Lower, validationTol)
			checkClose(t, "pooled C upper", pc.Upper, p.Upper, validationTol)
			checkClose(t, "pooled C prediction lower", pc.PredictionLower, p.PredictionLower, validationTol)
			checkClose(t, "pooled C prediction upper", pc.PredictionUpper, p.PredictionUpper, validationTol)
			checkClose(t, "pooled C tau2 (logit)", pc.Logit.Tau2, p.Tau2, validationTol)
			checkClose(t, "pooled C I2", pc.Logit.I2, p.I2, validationTol)
		case "lung_loso_slope":
			re, err := MetaAnalyzeREML(slopes, 0.95)
			if err != nil {
				t.Fatal(err)
			}
			checkClose(t, "pooled slope", re.Estimate, p.Pred, validationTol)
			checkClose(t, "pooled slope prediction lower", re.PredictionLower, p.PredictionLower, validationTol)
		}
	}
}

func TestMetaAnalyzeREMLGoldens(t *testing.T) {
	var g validationGoldens
	loadGolden(t, "validation_goldens.json", &g)
	for _, p := range g.Pooled {
		sites := make([]SiteEstimate, len(p.YI))
		for i := range p.YI {
			sites[i] = SiteEstimate{Site: string(rune('a' + i)), Estimate: p.YI[i], SE: p.SEI[i]}
		}
		re, err := MetaAnalyzeREML(sites, 0.95)
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		const tol = 1e-9 // against metafor at threshold 1e-12
		checkClose(t, p.Name+" mu", re.Estimate, p.Estimate, tol)
		checkClose(t, p.Name+" se", re.SE, p.SE, tol)
		checkClose(t, p.Name+" tau2", re.Tau2, p.Tau2, tol)
		checkClose(t, p.Name+" I2", re.I2, p.I2, tol)
		checkClose(t, p.Name+" Q", re.Q, p.Q, tol)
		if !p.Logit {
			checkClose(t, p.Name+" ci.lb", re.Lower, p.Lower, tol)
			checkClose(t, p.Name+" ci.ub", re.Upper, p.Upper, tol)
			checkClose(t, p.Name+" pi.lb", re.PredictionLower, p.PredictionLower, tol)
			checkClose(t, p.Name+" pi.ub", re.PredictionUpper, p.PredictionUpper, tol)
		}
		// metafor's default stopping rule (a τ² step below 1e-5) lands within 1e-5 of the optimum.
		if math.Abs(re.Tau2-p.DefaultTau2) > 1e-5 {
			t.Errorf("%s: tau2 %v is %v from metafor's default-threshold %v", p.Name, re.Tau2, re.Tau2-p.DefaultTau2, p.DefaultTau2)
		}
	}
}
