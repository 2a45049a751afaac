package analysis

import (
	"fmt"
	"math"
	"slices"
)

// CovariateColumn is one covariate of a model, as a plain column over the patients: one of
// Numeric (NaN = missing), Categorical ("" = missing) or Codes (a negative code = missing).
//
// Codes is a categorical column as a site stores it: patient i's value is
// Dictionary[Codes[i]]. It builds the same design as the Categorical column of those strings,
// without a string comparison or map lookup per patient (a biomarker screen builds one design
// per marker per site); several codes may share one value (an indicator's "not l").
type CovariateColumn struct {
	Name        string
	Numeric     []float64
	Categorical []string
	Codes       []int32
	Dictionary  []string
}

// BuildDesign builds the n×p design matrix (row-major, complete cases only) of a Cox model
// from covariate columns, as R's model.matrix does with treatment contrasts:
//
//   - a numeric column is used as is, under its own name;
//   - a categorical column with levels L1, …, Lk becomes k−1 indicator columns named
//     Name+Lj for j ≥ 2 (R: "sexmale"); L1 is the reference. The levels are levels[Name] when
//     given (in that order; a value outside them is an error), else the distinct values of the
//     complete cases in sorted (byte) order, as R does for a character column.
//
// keep[i] reports whether patient i is a complete case (no covariate missing); x holds only
// those rows, in order. The number of patients left out is the number of false entries in
// keep (see IncompleteCases). A categorical column with fewer than two levels is an error, as in R
// ("contrasts can be applied only to factors with 2 or more levels"); a given level that no
// complete case has gives an all-zero column, which FitCox reports as not estimable.
func BuildDesign(cols []CovariateColumn, levels map[string][]string) (x []float64, p int, names []string, keep []bool, err error) {
	return BuildDesignInteractions(cols, levels, nil)
}

// Interaction names two covariates whose columns' products enter the design (R's A:B).
type Interaction struct{ A, B string }

// BuildDesignInteractions is BuildDesign with interaction columns after every main-effect
// column, as R's model.matrix orders them for a formula like treatment * marker + age: for each
// interaction, the product of every column of A with every column of B, A's columns varying
// fastest, named colA+":"+colB ("treatmentyes:tp53mut", "treatmentyes:tmb"). Both covariates
// must be among cols and differ.
func BuildDesignInteractions(cols []CovariateColumn, levels map[string][]string, inter []Interaction) (x []float64, p int, names []string, keep []bool, err error) {
	x, p, names, keep, widths, err := buildMainDesign(cols, levels)
	if err != nil || len(inter) == 0 {
		return x, p, names, keep, err
	}
	// Each covariate's block of columns in the main design.
	start := map[string][2]int{}
	j := 0
	for c, col := range cols {
		start[col.Name] = [2]int{j, j + widths[c]}
		j += widths[c]
	}
	var pairs [][2]int
	for _, in := range inter {
		a, okA := start[in.A]
		b, okB := start[in.B]
		if !okA || !okB || in.A == in.B {
			return nil, 0, nil, nil, fmt.Errorf("analysis: design: interaction %s:%s needs two different covariates of the model", in.A, in.B)
		}
		for jb := b[0]; jb < b[1]; jb++ {
			for ja := a[0]; ja < a[1]; ja++ {
				pairs = append(pairs, [2]int{ja, jb})
				names = append(names, names[ja]+":"+names[jb])
			}
		}
	}
	q := p + len(pairs)
	n := len(x) / max(p, 1)
	out := make([]float64, 0, n*q)
	for i := 0; i < n; i++ {
		row := x[i*p : (i+1)*p]
		out = append(out, row...)
		for _, pr := range pairs {
			out = append(out, row[pr[0]]*row[pr[1]])
		}
	}
	return out, q, names, keep, nil
}

// buildMainDesign is BuildDesign; widths[c] is the number of columns of cols[c].
func buildMainDesign(cols []CovariateColumn, levels map[string][]string) (x []float64, p int, names []string, keep []bool, widths []int, err error) {
	if len(cols) == 0 {
		return nil, 0, nil, nil, nil, fmt.Errorf("analysis: design: no covariates")
	}
	n := -1
	for c, col := range cols {
		kinds := 0
		for _, set := range []bool{col.Numeric != nil, col.Categorical != nil, col.Codes != nil} {
			if set {
				kinds++
			}
		}
		if kinds != 1 {
			return nil, 0, nil, nil, nil, fmt.Errorf("analysis: design: covariate %d (%q) must be either numeric or categorical", c, col.Name)
		}
		m := len(col.Numeric) + len(col.Categorical) + len(col.Codes)
		if n >= 0 && m != n {
			return nil, 0, nil, nil, nil, fmt.Errorf("analysis: design: covariate %q has %d values, %q has %d", col.Name, m, cols[0].Name, n)
		}
		n = m
	}
	if keep, err = CompleteCases(cols, n); err != nil {
		return nil, 0, nil, nil, nil, err
	}

	// Column layout: one per numeric covariate, k−1 per categorical one. levelIndex[c] maps
	// each level of categorical column c to its position among the levels (0 is the reference,
	// j ≥ 1 the block's j-th indicator column), codeLevel[c] each code of a coded column.
	levelIndex := make([]map[string]int, len(cols))
	codeLevel := make([][]int, len(cols))
	for c, col := range cols {
		widths = append(widths, 1)
		if col.Numeric != nil {
			names = append(names, col.Name)
			continue
		}
		lv, given := levels[col.Name]
		if !given {
			lv = distinctLevels(col, keep)
		}
		if len(lv) < 2 {
			return nil, 0, nil, nil, nil, fmt.Errorf("analysis: design: categorical covariate %q has %d level(s) among complete cases; contrasts need at least 2", col.Name, len(lv))
		}
		idx := make(map[string]int, len(lv))
		for j, l := range lv {
			if _, dup := idx[l]; dup {
				return nil, 0, nil, nil, nil, fmt.Errorf("analysis: design: covariate %q: level %q given twice", col.Name, l)
			}
			idx[l] = j
			if j > 0 {
				names = append(names, col.Name+l)
			}
		}
		levelIndex[c], codeLevel[c] = idx, codeLevels(col, idx)
		if err := checkLevels(col, idx, codeLevel[c], keep); err != nil {
			return nil, 0, nil, nil, nil, fmt.Errorf("analysis: design: covariate %q, %w %q", col.Name, err, lv)
		}
		widths[c] = len(lv) - 1
	}
	p = len(names)
	x = make([]float64, (n-IncompleteCases(keep))*p)
	// Column by column: the complete cases' values, or a 1 in the column of their level.
	j := 0
	for c, col := range cols {
		r := 0
		switch {
		case col.Numeric != nil:
			for i, v := range col.Numeric {
				if keep[i] {
					x[r*p+j] = v
					r++
				}
			}
		case col.Codes != nil:
			for i, code := range col.Codes {
				if keep[i] {
					if l := codeLevel[c][code]; l > 0 {
						x[r*p+j+l-1] = 1
					}
					r++
				}
			}
		default:
			for i, v := range col.Categorical {
				if keep[i] {
					if l := levelIndex[c][v]; l > 0 {
						x[r*p+j+l-1] = 1
					}
					r++
				}
			}
		}
		j += widths[c]
	}
	return x, p, names, keep, widths, nil
}

// CompleteCases returns keep[i]: whether patient i (of n) has every covariate of cols (of n
// values each), as BuildDesign keeps them; an infinite value or a code outside its dictionary
// is an error.
func CompleteCases(cols []CovariateColumn, n int) (keep []bool, err error) {
	keep = make([]bool, n)
	for i := range keep {
		keep[i] = true
	}
	for _, col := range cols {
		for i, v := range col.Numeric {
			if math.IsNaN(v) {
				keep[i] = false
			} else if math.IsInf(v, 0) {
				return nil, fmt.Errorf("analysis: design: covariate %q, patient %d: value %v is not finite", col.Name, i, v)
			}
		}
		for i, v := range col.Categorical {
			if v == "" {
				keep[i] = false
			}
		}
		for i, code := range col.Codes {
			if code < 0 {
				keep[i] = false
			} else if int(code) >= len(col.Dictionary) {
				return nil, fmt.Errorf("analysis: design: covariate %q, patient %d: code %d outside its dictionary of %d values", col.Name, i, code, len(col.Dictionary))
			}
		}
	}
	return keep, nil
}

// distinctLevels returns the distinct values of categorical column col among the complete
// cases, in sorted (byte) order, as R orders the levels of a character column.
func distinctLevels(col CovariateColumn, keep []bool) []string {
	var lv []string
	seen := map[string]bool{}
	add := func(v string) {
		if !seen[v] {
			seen[v] = true
			lv = append(lv, v)
		}
	}
	if col.Codes != nil {
		used := make([]bool, len(col.Dictionary))
		for i, code := range col.Codes {
			if keep[i] {
				used[code] = true
			}
		}
		for code, u := range used {
			if u {
				add(col.Dictionary[code])
			}
		}
	}
	for i, v := range col.Categorical {
		if keep[i] {
			add(v)
		}
	}
	slices.Sort(lv)
	return lv
}

// codeLevels maps each code of a coded categorical column to its value's position among the
// levels (idx), −1 for a value outside them; nil for a column of strings.
func codeLevels(col CovariateColumn, idx map[string]int) []int {
	if col.Codes == nil {
		return nil
	}
	pos := make([]int, len(col.Dictionary))
	for code, v := range col.Dictionary {
		j, ok := idx[v]
		if !ok {
			j = -1
		}
		pos[code] = j
	}
	return pos
}

// checkLevels checks that every complete case of categorical column col holds one of the
// levels (idx; codeLevel for a coded column) and names the first that does not.
func checkLevels(col CovariateColumn, idx map[string]int, codeLevel []int, keep []bool) error {
	for i, code := range col.Codes {
		if keep[i] && codeLevel[code] < 0 {
			return fmt.Errorf("patient %d: value %q is not one of the levels", i, col.Dictionary[code])
		}
	}
	for i, v := range col.Categorical {
		if _, ok := idx[v]; keep[i] && !ok {
			return fmt.Errorf("patient %d: value %q is not one of the levels", i, v)
		}
	}
	return nil
}

// IncompleteCases returns the number of false entries in keep: the patients BuildDesign left out for a
// missing covariate value.
func IncompleteCases(keep []bool) int {
	d := 0
	for _, k := range keep {
		if !k {
			d++
		}
	}
	return d
}
