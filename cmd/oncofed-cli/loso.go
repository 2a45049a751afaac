package main

import (
	"fmt"
	"io"
	"math"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/report"
)

// losoJSON is the validation part of the model command's JSON (issue 20's layout):
// sites: [{site, n, events, harrell_c, harrell_se, uno_c, uno_se, calibration_slope,
// calibration_slope_se, coef, sat_out, and for the pooled model calibration: [{time, observed,
// predicted}], brier: [{time, value}]}], pooled: {harrell_c, lower, upper, prediction_lower,
// prediction_upper, calibration_slope, slope_lower, slope_upper, slope_prediction_lower,
// slope_prediction_upper, tau2_logit_c, i2}. Figures a site did not release are null.
func losoJSON(l *app.LOSOResult) map[string]any {
	sites := make([]map[string]any, 0, len(l.Sites))
	for _, s := range l.Sites {
		m := map[string]any{"site": s.Site}
		if s.SatOut != "" {
			m["sat_out"] = s.SatOut
		} else {
			m["n"], m["events"] = s.N, s.Events
			m["harrell_c"], m["harrell_se"] = num(s.HarrellC), num(s.HarrellSE)
			m["uno_c"], m["uno_se"] = num(s.UnoC), num(s.UnoSE)
			m["calibration_slope"], m["calibration_slope_se"] = num(s.CalibrationSlope), num(s.CalibrationSlopeSE)
			m["coef"] = nums(s.Coef)
			if n := s.Noise; n != nil {
				m["noise_sd"] = map[string]any{"harrell_c": num(n.HarrellC), "uno_c": num(n.UnoC), "calibration_slope": num(n.Slope)}
			}
			if len(s.Calibration) > 0 {
				var cal, brier []map[string]any
				for _, c := range s.Calibration {
					cal = append(cal, map[string]any{"time": c.Time, "observed": num(c.Observed), "predicted": num(c.Predicted)})
					brier = append(brier, map[string]any{"time": c.Time, "value": num(c.Brier)})
				}
				m["calibration"], m["brier"] = cal, brier
			}
		}
		sites = append(sites, m)
	}
	pooled := map[string]any{}
	if c := l.PooledC; c != nil {
		pooled["harrell_c"], pooled["lower"], pooled["upper"] = num(c.C), num(c.Lower), num(c.Upper)
		pooled["prediction_lower"], pooled["prediction_upper"] = num(c.PredictionLower), num(c.PredictionUpper)
		pooled["tau2_logit_c"], pooled["i2"], pooled["sites"] = num(c.Logit.Tau2), num(c.Logit.I2), len(c.Logit.Sites)
	}
	if s := l.PooledSlope; s != nil {
		pooled["calibration_slope"], pooled["slope_lower"], pooled["slope_upper"] = num(s.Estimate), num(s.Lower), num(s.Upper)
		pooled["slope_prediction_lower"], pooled["slope_prediction_upper"] = num(s.PredictionLower), num(s.PredictionUpper)
	}
	doc := map[string]any{"method": "leave one site out; C pooled on the logit scale, REML, 95% prediction interval (docs/validation.md)",
		"sites": sites, "pooled": pooled}
	if d := l.DP; d != nil {
		// Computed from the DP tables of the fit (docs/dp-validation.md): no query, no ρ.
		doc["method"] = "leave one site out on the differentially private tables the model was fitted on; C pooled on the logit scale with each site's SE and noise SD in quadrature, REML, 95% prediction interval (docs/dp-validation.md)"
		doc["dp"] = map[string]any{"release": "differentially private", "rho": d.Rho, "queries": d.Queries, "rho_spent": 0,
			"noise_releases": d.Releases, "pooled_c_noise_sd": num(d.PooledCNoiseSD), "note": report.DPValidationLine(l)}
	}
	return doc
}

// writeLOSOText prints the leave-one-site-out table under the model's terms.
func writeLOSOText(w io.Writer, l *app.LOSOResult) error {
	if l.DP != nil {
		fmt.Fprintln(w, "\nLeave-one-site-out validation on differentially private tables (each site's released tables evaluate the model fitted on the others' tables)")
	} else {
		fmt.Fprintln(w, "\nLeave-one-site-out validation (each site evaluates the model fitted on the others)")
	}
	t := table(w)
	head := "SITE\tN\tEVENTS\tHARRELL C (SE)\tUNO C\tCALIBRATION SLOPE (SE)"
	if l.DP != nil {
		head = "SITE\tN (NOISY)\tEVENTS (NOISY)\tHARRELL C (SE)\tC NOISE SD\tUNO C\tCALIBRATION SLOPE (SE)\tSLOPE NOISE SD"
	}
	fmt.Fprintln(t, head)
	var satOut []app.LOSOSite
	for _, s := range l.Sites {
		if s.SatOut != "" {
			fmt.Fprintf(t, "%s\tsat out (below)\n", s.Site)
			satOut = append(satOut, s)
			continue
		}
		if l.DP != nil {
			cn, sn := math.NaN(), math.NaN()
			if s.Noise != nil {
				cn, sn = s.Noise.HarrellC, s.Noise.Slope
			}
			fmt.Fprintf(t, "%s\t%d\t%d\t%s (%s)\t%s\t%s\t%s (%s)\t%s\n", s.Site, s.N, s.Events, pstr(num(s.HarrellC)), pstr(num(s.HarrellSE)), pstr(num(cn)),
				pstr(num(s.UnoC)), pstr(num(s.CalibrationSlope)), pstr(num(s.CalibrationSlopeSE)), pstr(num(sn)))
			continue
		}
		fmt.Fprintf(t, "%s\t%d\t%d\t%s (%s)\t%s\t%s (%s)\n", s.Site, s.N, s.Events, pstr(num(s.HarrellC)), pstr(num(s.HarrellSE)),
			pstr(num(s.UnoC)), pstr(num(s.CalibrationSlope)), pstr(num(s.CalibrationSlopeSE)))
	}
	if err := t.Flush(); err != nil {
		return err
	}
	for _, s := range satOut {
		fmt.Fprintf(w, "%s sat out: %s\n", s.Site, s.SatOut)
	}
	if err := writeCalibrationText(w, l); err != nil {
		return err
	}
	if c := l.PooledC; c != nil {
		fmt.Fprintf(w, "pooled C %s (95%% CI %s–%s; 95%% prediction interval %s–%s), I² %s%%\n", pstr(num(c.C)), pstr(num(c.Lower)),
			pstr(num(c.Upper)), pstr(num(c.PredictionLower)), pstr(num(c.PredictionUpper)), pstr(num(c.Logit.I2)))
	}
	if s := l.PooledSlope; s != nil {
		fmt.Fprintf(w, "pooled calibration slope %s (95%% prediction interval %s–%s)\n", pstr(num(s.Estimate)),
			pstr(num(s.PredictionLower)), pstr(num(s.PredictionUpper)))
	}
	if line := report.DPValidationLine(l); line != "" {
		fmt.Fprintln(w, line)
	}
	return nil
}

// writeCalibrationText prints calibration in the large and the Brier score at the landmarks
// (the pooled model's validation), one row per site and landmark.
func writeCalibrationText(w io.Writer, l *app.LOSOResult) error {
	has := false
	for _, s := range l.Sites {
		has = has || len(s.Calibration) > 0
	}
	if !has {
		return nil
	}
	fmt.Fprintln(w, "Calibration at landmarks (observed Kaplan–Meier, mean predicted survival, IPCW Brier score)")
	t := table(w)
	fmt.Fprintln(t, "SITE\tDAYS\tOBSERVED\tPREDICTED\tBRIER")
	for _, s := range l.Sites {
		for _, c := range s.Calibration {
			fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\n", s.Site, g(c.Time), pstr(num(c.Observed)), pstr(num(c.Predicted)), pstr(num(c.Brier)))
		}
	}
	return t.Flush()
}
