package node

import (
	"errors"
	"math"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/protocol"
)

// validateModel answers the validate form of a Cox query (leave one site out): the model the
// client fitted on the other sites, given by β over the same design, is evaluated on this
// site's complete cases, and only aggregates leave: Harrell's and Uno's C with their standard
// errors, the calibration slope and calibration in the large at the requested landmarks. The
// patients' linear predictors and the pair counts stay here.
//
// The query went through every rule of a model release before this (modelsafe.go: each design
// column min_cell patients and events, β within the declared cap, no patient singled out by
// the weight spread), and its times through the survival tables' policy. On top of them, under
// a protective policy, a site sits out (refused_by_policy, the client names it) unless it has
// min_cell events and min_cell comparable pairs: a C over fewer is a statement about a
// handful of patients' order of death. The counts that decide it are the reply's N and Events,
// released anyway, and the pairs, which at least as many events as min_cell imply in all but
// degenerate cohorts (every event at one time).
func (e *Engine) validateModel(prep *coxPrepared, beta []float64, ties analysis.Ties, req *protocol.CoxRequest) (*protocol.CoxValidation, error) {
	protective := !IsExact(e.policy)
	minCell := max(e.policy.MinCell, 1)
	if protective && prep.events < minCell {
		return nil, errorf(protocol.CodeRefusedByPolicy, "the site sits out this validation: fewer than min_cell=%d events among its complete cases", minCell)
	}
	v, err := prep.strata[0].Validate(beta, ties, req.Landmarks, req.BaselineCumHaz)
	if errors.Is(err, analysis.ErrNoComparablePairs) {
		return nil, errorf(protocol.CodeRefusedByPolicy, "the site sits out this validation: no comparable pair of patients")
	}
	if err != nil {
		return nil, errorf(protocol.CodeInvalid, "validate: %s", trimPrefix(err.Error()))
	}
	if pairs := v.Harrell.Concordant + v.Harrell.Discordant + v.Harrell.TiedX; protective && pairs < float64(minCell) {
		return nil, errorf(protocol.CodeRefusedByPolicy, "the site sits out this validation: fewer than min_cell=%d comparable pairs", minCell)
	}
	out := &protocol.CoxValidation{HarrellC: v.Harrell.C, HarrellSE: v.Harrell.SE, UnoC: v.Uno.C, UnoSE: v.Uno.SE}
	if !math.IsNaN(v.Slope) && !math.IsInf(v.Slope, 0) && !math.IsNaN(v.SlopeSE) && !math.IsInf(v.SlopeSE, 0) {
		out.CalibrationSlope, out.CalibrationSlopeSE = &v.Slope, &v.SlopeSE
	}
	for _, c := range v.Calibration {
		pt := protocol.CalibrationAt{Time: c.Time, Observed: c.Observed, Predicted: c.Predicted}
		if !math.IsNaN(c.Brier) && !math.IsInf(c.Brier, 0) {
			pt.Brier = &c.Brier
		}
		out.Calibration = append(out.Calibration, pt)
	}
	return out, nil
}

// lpHistogram answers the lp_histogram form: the distribution of x'β over the site's complete
// cases on the grid of the requested width, anchored at 0, each bin merged with its neighbours
// until it holds min_cell patients (1 under an exact policy), the extreme bins open
// (analysis.BinLinearPredictors). Only counts leave; never a patient's lp, nor where the most
// extreme patients lie. The query passed the rules of every model release before this (β
// cap, design columns, weight spread) and allow_pooled_cox.
func (e *Engine) lpHistogram(prep *coxPrepared, beta []float64, width float64) (*protocol.LPHistogram, error) {
	minCell := 1
	if !IsExact(e.policy) {
		minCell = max(e.policy.MinCell, 1)
	}
	lp, err := prep.strata[0].LinearPredictors(beta)
	if err != nil {
		return nil, errorf(protocol.CodeInvalid, "lp_histogram: %s", trimPrefix(err.Error()))
	}
	h, err := analysis.BinLinearPredictors(lp, width, minCell)
	if err != nil {
		return nil, errorf(protocol.CodeInvalid, "lp_histogram: %s", trimPrefix(err.Error()))
	}
	return &protocol.LPHistogram{Cuts: h.Cuts, Counts: h.Counts}, nil
}
