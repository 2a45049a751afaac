package main

import (
	"fmt"
	"io"

	"github.com/oncofed/oncofed/app"
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
	return map[string]any{"method": "leave one site out; C pooled on the logit scale, REML, 95% prediction interval (docs/validation.md)",
		"sites": sites, "pooled": pooled}
}

// writeLOSOText prints the leave-one-site-out table under the model's terms.
func writeLOSOText(w io.Writer, l *app.LOSOResult) error {
	fmt.Fprintln(w, "\nLeave-one-site-out validation (each site evaluates the model fitted on the others)")
	t := table(w)
	fmt.Fprintln(t, "SITE\tN\tEVENTS\tHARRELL C (SE)\tUNO C\tCALIBRATION SLOPE (SE)")
	for _, s := range l.Sites {
		if s.SatOut != "" {
			fmt.Fprintf(t, "%s\tsat out: %s\t\t\t\t\n", s.Site, s.SatOut)
			continue
		}
		fmt.Fprintf(t, "%s\t%d\t%d\t%s (%s)\t%s\t%s (%s)\n", s.Site, s.N, s.Events, pstr(num(s.HarrellC)), pstr(num(s.HarrellSE)),
			pstr(num(s.UnoC)), pstr(num(s.CalibrationSlope)), pstr(num(s.CalibrationSlopeSE)))
	}
	if err := t.Flush(); err != nil {
		return err
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
