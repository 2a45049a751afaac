package analysis

import (
	"errors"
	"fmt"
	"math"
)

// CalibrationSlope fits a Cox model of the outcome on the linear predictor lp of a model fitted
// elsewhere, at the site that holds the patients: coxph(Surv(time, status) ~ lp, ties = ties).
// A slope of 1 means the model's relative risks hold at the site; below 1, the model's risks
// are too extreme there (overfitting); above 1, too timid (Van Houwelingen 2000, Stat Med
// 19:3401). It returns the slope and its standard error; the fit is R's (FitCox).
func CalibrationSlope(time []float64, event []bool, lp []float64, ties Ties) (slope, se float64, err error) {
	st, err := NewCoxStratum(time, event, lp, 1)
	if err != nil {
		return math.NaN(), math.NaN(), fmt.Errorf("analysis: calibration slope: %w", err)
	}
	fit, err := FitCox(func(beta []float64) (CoxContribution, error) {
		return st.Contribution(beta, ties)
	}, 1, CoxOptions{Terms: []string{"lp"}})
	if err != nil {
		return math.NaN(), math.NaN(), fmt.Errorf("analysis: calibration slope: %w", err)
	}
	if len(fit.NotEstimable) > 0 {
		return math.NaN(), math.NaN(), errors.New("analysis: calibration slope: the linear predictor is constant at the site")
	}
	return fit.Coef[0], fit.SE[0], nil
}

// CalibrationPoint is calibration in the large at one landmark time: the site's observed
// Kaplan–Meier survival against the mean of the survival the model predicts for its patients.
type CalibrationPoint struct {
	Time      float64
	Observed  float64 // Kaplan–Meier Ŝ(t) at the site
	Predicted float64 // (1/n) Σ_i exp(−H₀(t) exp(lp_i))
	Brier     float64 // the IPCW Brier score of the predictions at t (BrierScore)
}

// CalibrationInTheLarge compares, at each landmark t, the site's Kaplan–Meier Ŝ(t) (R's
// summary(survfit(...), times = t, extend = TRUE)) with the mean predicted survival
// (1/n) Σ_i exp(−H₀(t) exp(lp_i)), where baselineCumHaz[k] is the model's cumulative baseline
// hazard H₀ at landmarks[k] for lp = 0 (the uncentred lp = x'β, R's basehaz(fit, centered =
// FALSE)). The mean equals the mean over the patients of R's survfit(fit, newdata = site).
// Landmarks must be increasing and the cumulative hazards finite and non-negative.
func CalibrationInTheLarge(time []float64, event []bool, lp, landmarks, baselineCumHaz []float64) ([]CalibrationPoint, error) {
	if len(landmarks) != len(baselineCumHaz) {
		panic(fmt.Sprintf("analysis: CalibrationInTheLarge: %d landmarks, %d cumulative hazards", len(landmarks), len(baselineCumHaz)))
	}
	if len(lp) != len(time) {
		panic(fmt.Sprintf("analysis: CalibrationInTheLarge: %d times, %d linear predictors", len(time), len(lp)))
	}
	for k, h := range baselineCumHaz {
		if math.IsNaN(h) || math.IsInf(h, 0) || h < 0 {
			return nil, fmt.Errorf("analysis: calibration: cumulative baseline hazard %v at landmark %v is not finite and non-negative", h, landmarks[k])
		}
		if k > 0 && !(landmarks[k] > landmarks[k-1]) {
			return nil, fmt.Errorf("analysis: calibration: landmarks must increase (%v after %v)", landmarks[k], landmarks[k-1])
		}
	}
	table, err := NewSurvivalTable(time, event)
	if err != nil {
		return nil, fmt.Errorf("analysis: calibration: %w", err)
	}
	km, err := KaplanMeier(table, KMOptions{})
	if err != nil {
		return nil, fmt.Errorf("analysis: calibration: %w", err)
	}
	obs, err := km.At(landmarks)
	if err != nil {
		return nil, fmt.Errorf("analysis: calibration: %w", err)
	}
	risk := make([]float64, len(lp))
	for i, x := range lp {
		risk[i] = math.Exp(x)
	}
	brier, err := BrierScore(time, event, lp, landmarks, baselineCumHaz)
	if err != nil {
		return nil, err
	}
	out := make([]CalibrationPoint, len(landmarks))
	for k, t := range landmarks {
		var s float64
		for _, r := range risk {
			s += math.Exp(-baselineCumHaz[k] * r)
		}
		out[k] = CalibrationPoint{Time: t, Observed: obs[k].Surv, Predicted: s / float64(len(risk)), Brier: brier[k]}
	}
	return out, nil
}

// SiteValidation is what a site releases about a model it did not help fit (internal–external
// validation, leave one site out): aggregates over its own patients only.
type SiteValidation struct {
	N, Events   int
	Harrell     Concordance
	Uno         Concordance
	Slope       float64 // calibration slope (NaN when it cannot be fitted; SlopeErr says why)
	SlopeSE     float64
	SlopeErr    string
	Calibration []CalibrationPoint // empty without landmarks
}

// ValidateAtSite evaluates a model's linear predictor lp at the site that holds the patients:
// Harrell's and Uno's C with their standard errors, the calibration slope (ties as the model's
// fit) and, when landmarks are given with the model's cumulative baseline hazard at them,
// calibration in the large. A site without a comparable pair returns ErrNoComparablePairs.
func ValidateAtSite(time []float64, event []bool, lp []float64, ties Ties, landmarks, baselineCumHaz []float64) (SiteValidation, error) {
	var v SiteValidation
	var err error
	if v.Harrell, err = HarrellC(time, event, lp); err != nil {
		return v, err
	}
	if v.Uno, err = UnoC(time, event, lp); err != nil {
		return v, err
	}
	v.N, v.Events = v.Harrell.N, v.Harrell.Events
	if v.Slope, v.SlopeSE, err = CalibrationSlope(time, event, lp, ties); err != nil {
		v.SlopeErr = err.Error()
	}
	if len(landmarks) > 0 {
		if v.Calibration, err = CalibrationInTheLarge(time, event, lp, landmarks, baselineCumHaz); err != nil {
			return v, err
		}
	}
	return v, nil
}

// Validate evaluates, at a site, a model fitted elsewhere on this stratum's patients: the
// linear predictor lp_i = x_i'β of each patient, then ValidateAtSite. The node calls it with
// the β the client broadcasts; only the returned aggregates leave the site.
func (s *CoxStratum) Validate(beta []float64, ties Ties, landmarks, baselineCumHaz []float64) (SiteValidation, error) {
	lp, err := s.LinearPredictors(beta)
	if err != nil {
		return SiteValidation{}, err
	}
	return ValidateAtSite(s.time, s.event, lp, ties, landmarks, baselineCumHaz)
}

// LinearPredictors returns lp_i = x_i'β of the stratum's patients (uncentred), in the
// stratum's order. They stay at the site: the node releases aggregates of them only.
func (s *CoxStratum) LinearPredictors(beta []float64) ([]float64, error) {
	if err := checkBeta("CoxStratum.LinearPredictors", beta, s.p); err != nil {
		return nil, err
	}
	lp := make([]float64, len(s.time))
	x := s.design()
	for i := range lp {
		for j, b := range beta {
			lp[i] += x[i*s.p+j] * b
		}
	}
	return lp, nil
}

// StrataEvaluator is the CoxEvaluator of a model stratified by the given strata (each its own
// baseline hazard: R's coxph(... + strata(s))): the sum of their contributions at β. A
// leave-one-site-out fit is StrataEvaluator of every site's stratum but the held-out one's.
func StrataEvaluator(strata []*CoxStratum, ties Ties) CoxEvaluator {
	return func(beta []float64) (CoxContribution, error) {
		var sum CoxContribution
		for _, st := range strata {
			c, err := st.Contribution(beta, ties)
			if err != nil {
				return CoxContribution{}, err
			}
			sum.Add(c)
		}
		return sum, nil
	}
}
