package node

import (
	"github.com/oncofed/oncofed/analysis"
)

// A screen model's design is a function of its covariates' codes (designKeys): a marker's
// level, the treatment arm, a categorical adjuster's level, an age's number among the frame's
// ages. Where a model has few such keys, its design is built once per key — one row per key,
// from the first patient holding it — and the stratum indexes it by each patient's key
// (analysis.NewCoxStratumRows) instead of a per-patient n×p matrix being built, centred over
// n rows and checked against the keys; the design-column rule tallies its patients and events
// per key (checkKeyedDesignColumns). The per-patient design is still made where it is read
// patient by patient: a request stratified within the site, Fine–Gray, a covariate with too
// many values to key (keyedDesignFor), and, on demand inside the stratum, validation, the
// linear-predictor histogram and zph.

// keyedDesign is a model's design as one row per key: the kept row k (time order) has design
// row rowOf[k] of rows (m×p row-major).
type keyedDesign struct {
	rowOf []int32
	rows  []float64
}

// keyedDesignFor builds the keyed design of the covariate columns cols (over the frame's
// rows) with levels and interactions inter, or returns nil when the design is better (or
// only) built per patient: a covariate that cannot be keyed, more keys than one kept row in
// maxDistinctShare, or anything BuildDesignInteractions would refuse (the per-patient build
// then gives its error). keep is the frame's complete cases, kept how many.
func (fr *cohortFrame) keyedDesignFor(ls *loadedStudy, to *timeOrdered, cols []analysis.CovariateColumn,
	levels map[string][]string, inter []analysis.Interaction) (kd *keyedDesign, p int, names []string, keep []bool, kept int) {
	keep, err := analysis.CompleteCases(cols, len(fr.rows))
	if err != nil {
		return nil, 0, nil, nil, 0
	}
	for _, k := range keep {
		if k {
			kept++
		}
	}
	keys, nkeys := fr.designKeys(ls, to, cols, keep, kept)
	if keys == nil {
		return nil, 0, nil, nil, 0
	}
	// Each key's row among the rows, in order of first occurrence, +1 (0: not seen yet), and
	// the frame row it is built from.
	first := make([]int32, nkeys)
	var from []int
	limit := max(1, kept/maxDistinctShare)
	k := 0
	for r, in := range keep {
		if !in {
			continue
		}
		key := keys[k]
		if first[key] == 0 {
			if len(from) == limit {
				return nil, 0, nil, nil, 0
			}
			from = append(from, r)
			first[key] = int32(len(from))
		}
		keys[k] = first[key] - 1 // keys becomes rowOf: keys[k] is read before it is written
		k++
	}
	keyCols := make([]analysis.CovariateColumn, len(cols))
	for c, col := range cols {
		keyCols[c] = analysis.CovariateColumn{Name: col.Name, Dictionary: col.Dictionary}
		if col.Codes != nil {
			keyCols[c].Codes = make([]int32, len(from))
			for j, r := range from {
				keyCols[c].Codes[j] = col.Codes[r]
			}
		} else {
			keyCols[c].Numeric = make([]float64, len(from))
			for j, r := range from {
				keyCols[c].Numeric[j] = col.Numeric[r]
			}
		}
	}
	rows, p, names, _, err := analysis.BuildDesignInteractions(keyCols, levels, inter)
	if err != nil {
		return nil, 0, nil, nil, 0
	}
	return &keyedDesign{rowOf: keys, rows: rows}, p, names, keep, kept
}
