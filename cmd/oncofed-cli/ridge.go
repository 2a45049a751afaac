package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/cache"
)

// ridgeFlags turns the model command's --penalty, --theta and --theta-grid into the model's
// penalty (nil without --penalty).
func ridgeFlags(penalty, theta, grid, strata string, scale bool) (*app.RidgeSpec, error) {
	switch penalty {
	case "":
		if grid != "" || scale {
			return nil, usagef("--theta-grid and --ridge-scale need --penalty ridge")
		}
		return nil, nil
	case "ridge":
	default:
		return nil, usagef("--penalty: %q is not a penalty (want ridge)", penalty)
	}
	spec := &app.RidgeSpec{Scale: scale}
	if theta == "loso" {
		if strata != "site" && strata != "none" && strata != "" {
			return nil, usagef("--theta loso fits the model stratified by site or the pooled one (--strata site or none), not strata within sites")
		}
		spec.Choose = app.ChooseLOSO
		g, err := parseFloats("--theta-grid", grid)
		if err != nil {
			return nil, err
		}
		spec.Grid = g
		return spec, nil
	}
	if grid != "" {
		return nil, usagef("--theta-grid is the grid of --theta loso; --theta %s fixes θ", theta)
	}
	v, err := strconv.ParseFloat(theta, 64)
	if err != nil {
		return nil, usagef("--theta: %q is neither a number nor loso", theta)
	}
	spec.Theta = v
	return spec, nil
}

// ridgeJSON is the penalty part of the model command's JSON: {kind: "ridge", theta, scale,
// column_var (with scale), penalty (θ/2 Σβ̂²), df (R's effective degrees of freedom), chosen_by, and for a
// leave-one-site-out choice curve: [{theta, heldout_loglik, sites: [{site, loglik}]}] and
// sat_out: [{site, reason}]}. The terms' se is R's se(coef) (inverse penalized information),
// se2 R's se2.
func ridgeJSON(r *app.Result) map[string]any {
	spec, fit := app.FittedPenalty(r), r.Cox.Fit
	doc := map[string]any{"kind": "ridge", "theta": spec.Theta, "scale": spec.Scale, "penalty": num(fit.Penalty), "df": num(fit.DFEffective)}
	if spec.Scale {
		doc["column_var"] = nums(r.Cox.RidgeScale) // the weights: each column's variance over the cohort
	}
	c := r.Cox.RidgeChoice
	if c == nil {
		return doc
	}
	doc["chosen_by"] = "leave one site out: the largest summed partial log-likelihood of each held-out site at the model fitted on the others"
	curve := make([]map[string]any, 0, len(c.Points))
	for _, pt := range c.Points {
		sites := make([]map[string]any, len(pt.Sites))
		for i, s := range pt.Sites {
			sites[i] = map[string]any{"site": s, "loglik": num(pt.HeldOut[i])}
		}
		curve = append(curve, map[string]any{"theta": pt.Theta, "heldout_loglik": num(pt.Total), "sites": sites})
	}
	doc["curve"] = curve
	out := make([]map[string]any, 0, len(c.SatOut))
	for _, p := range c.SatOut {
		out = append(out, map[string]any{"site": p.Site, "reason": p.Message})
	}
	doc["sat_out"] = out
	return doc
}

// writeRidgeText prints the penalty under the model's terms: θ, the effective degrees of
// freedom, se2, and the leave-one-site-out curve when θ was chosen.
func writeRidgeText(w io.Writer, r *app.Result) error {
	spec, fit := app.FittedPenalty(r), r.Cox.Fit
	fmt.Fprintf(w, "%s: penalty θ/2 Σβ² = %s, effective df %s (SE is R's se(coef), from the penalized information; se2: %s)\n",
		spec, r4(fit.Penalty), r4(fit.DFEffective), se2Text(fit))
	c := r.Cox.RidgeChoice
	if c == nil {
		return nil
	}
	fmt.Fprintf(w, "Choice of θ, leaving one site out (%d sites; summed partial log-likelihood of each held-out site)\n", len(c.Points[0].Sites))
	t := table(w)
	fmt.Fprintln(t, "THETA\tHELD-OUT LOGLIK\t")
	for i, pt := range c.Points {
		mark := ""
		if i == c.Best {
			mark = "← chosen"
		}
		fmt.Fprintf(t, "%s\t%s\t%s\n", g(pt.Theta), r4(pt.Total), mark)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	for _, p := range c.SatOut {
		fmt.Fprintf(w, "left out of the choice: %s: %s\n", p.Site, p.Message)
	}
	return nil
}

func se2Text(fit *analysis.CoxFit) string {
	parts := make([]string, len(fit.SE2))
	for j, v := range fit.SE2 {
		parts[j] = fit.Terms[j] + " " + pstr(num(v))
	}
	return strings.Join(parts, ", ")
}

// modelView is the display `library pin --view` pins a model with: its validation, or the
// predicted curve of one patient (checked now: the model must predict for that profile).
func modelView(ctx context.Context, db *cache.DB, id int64, view, profile, times string) (*app.Display, error) {
	r, err := openResult(ctx, db, id)
	if err != nil {
		return nil, err
	}
	if r.Cox == nil {
		return nil, usagef("--view applies to a model; result %d is a %s result", id, r.Request.Kind)
	}
	d := &app.Display{View: view}
	switch view {
	case app.ViewValidation:
		if r.Cox.Validation == nil {
			return nil, usagef("--view validation: result %d was not validated (model --validate loso)", id)
		}
	case app.ViewPatient:
		if d.Profile, err = app.ParseProfile(profile); err != nil {
			return nil, usagef("--predict: %s", app.ErrorMessage(err))
		}
		if d.Times, err = parseFloats("--times", times); err != nil {
			return nil, err
		}
		if _, err := app.Predict(r, d.Profile, d.Times); err != nil {
			return nil, usagef("--view patient: %s", app.ErrorMessage(err))
		}
	default:
		return nil, usagef("--view %q: want validation or patient", view)
	}
	return d, nil
}
