package node

import (
	"github.com/oncofed/oncofed/protocol"
)

// The design of a Cox request beyond its covariates' own columns: indicator covariates (one
// column for one level against every other, the treated arm of a predictive screen) and
// interaction columns (treatment × marker). Every rule of modelsafe.go applies to them as to
// any column: an interaction column is an indicator-like block whose patients (treated and
// marker-positive) need min_cell patients and events; its β cap is the product of its
// factors' widths.

// indicatorReference is the reference level of an indicator covariate at level l.
func indicatorReference(l string) string { return "not " + l }

// coxLevels returns the levels of the request's categorical covariates as the design uses
// them: an indicator's [not l, l], the request's own order, else the dictionary's.
func coxLevels(ls *loadedStudy, req *protocol.CoxRequest) map[string][]string {
	levels := map[string][]string{}
	for name, lv := range req.Levels {
		levels[name] = lv
	}
	for name, l := range req.Indicators {
		levels[name] = []string{indicatorReference(l), l}
	}
	for _, name := range req.Covariates {
		if v := ls.vars[name]; v.Type == protocol.Categorical {
			if _, ok := levels[name]; !ok {
				levels[name] = v.Categories
			}
		}
	}
	return levels
}

// coxColumnsOf returns, for each covariate of req, the range [from, to) of its columns.
func coxColumnsOf(ls *loadedStudy, req *protocol.CoxRequest, levels map[string][]string) map[string][2]int {
	out := map[string][2]int{}
	j := 0
	for _, b := range designBlocks(ls, req.Covariates, levels) {
		out[b.Covariate] = [2]int{j, j + b.Columns}
		j += b.Columns
	}
	return out
}

// interactionPairs returns the (column of A, column of B) pairs of req's interactions in
// design order (analysis.BuildDesignInteractions's).
func interactionPairs(ls *loadedStudy, req *protocol.CoxRequest, levels map[string][]string) (pairs [][2]int, blocks []designBlock) {
	cols := coxColumnsOf(ls, req, levels)
	for _, in := range req.Interactions {
		a, b := cols[in.A], cols[in.B]
		n := 0
		for jb := b[0]; jb < b[1]; jb++ {
			for ja := a[0]; ja < a[1]; ja++ {
				pairs = append(pairs, [2]int{ja, jb})
				n++
			}
		}
		blocks = append(blocks, designBlock{Covariate: in.A + ":" + in.B, Columns: n, Reference: "outside the interaction"})
	}
	return pairs, blocks
}

// coxDesignNames is designNames with the interaction columns.
func coxDesignNames(ls *loadedStudy, req *protocol.CoxRequest) []string {
	levels := coxLevels(ls, req)
	names := designNames(ls, req.Covariates, levels)
	pairs, _ := interactionPairs(ls, req, levels)
	for _, pr := range pairs {
		names = append(names, names[pr[0]]+":"+names[pr[1]])
	}
	return names
}

// coxDesignBlocks is designBlocks with one indicator-like block per interaction.
func coxDesignBlocks(ls *loadedStudy, req *protocol.CoxRequest, levels map[string][]string) []designBlock {
	_, inter := interactionPairs(ls, req, levels)
	return append(designBlocks(ls, req.Covariates, levels), inter...)
}

// coxBetaLimits is modelBetaLimits with the interaction columns: |β_ab|·w_a·w_b ≤
// max_cox_log_hr, i.e. limit_a·limit_b / max_cox_log_hr.
func (e *Engine) coxBetaLimits(ls *loadedStudy, req *protocol.CoxRequest) ([]float64, error) {
	levels := coxLevels(ls, req)
	limits, err := e.modelBetaLimits(ls, req.Covariates, levels)
	if err != nil || limits == nil {
		return limits, err
	}
	pairs, _ := interactionPairs(ls, req, levels)
	for _, pr := range pairs {
		limits = append(limits, limits[pr[0]]*limits[pr[1]]/e.policy.MaxCoxLogHR)
	}
	return limits, nil
}
