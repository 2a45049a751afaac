package lungtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// Expected is R's survival results on lung.csv, one of the files
// analysis/testdata/lung_expected_bin0.json (exact times) and lung_expected_bin30.json (times
// coarsened to ceiling(time/30)·30 days before fitting), both written by
// analysis/testdata/gen_lung.R with R 4, survival and jsonlite. Every field of the files is
// here, so ReadExpected can refuse a key it does not know: a field whose tag is misspelt
// fails the read instead of staying zero.
type Expected struct {
	// BinDays is the bin width in days (0: exact times).
	BinDays int `json:"bin_days"`
	// Binning says how times were coarsened.
	Binning string `json:"binning"`
	// N is the number of patients (227: lung less the one without an institution).
	N int `json:"n"`

	// Overall is survfit(Surv(t, event) ~ 1) under the three interval types, and its
	// print table.
	Overall struct {
		KM       Survfit `json:"km"`        // conf.type = "log", R's default
		KMLogLog Survfit `json:"km_loglog"` // conf.type = "log-log"
		KMPlain  Survfit `json:"km_plain"`  // conf.type = "plain"
		Median   Medians `json:"median"`
	} `json:"overall"`

	// BySex is survfit and survdiff of Surv(t, event) ~ sex, female first.
	BySex struct {
		KM      Survfit `json:"km"`
		Median  Medians `json:"median"`
		LogRank LogRank `json:"logrank"`
		// LogRankSiteStrata is survdiff(Surv(t, event) ~ sex + strata(site)).
		LogRankSiteStrata LogRank `json:"logrank_site_strata"`
	} `json:"by_sex"`

	// ByECOG is Surv(t, event) ~ ecog, groups ecog0 to ecog3 (ecog3 is one patient, so its
	// median's limits are NA).
	ByECOG struct {
		Median  Medians `json:"median"`
		LogRank LogRank `json:"logrank"`
	} `json:"by_ecog"`

	// Cox is coxph(Surv(t, event) ~ sex + age) three ways.
	Cox CoxSexAge `json:"cox_sex_age"`
}

// Survfit is summary(survfit(...), censored = TRUE): one row per group and distinct time,
// groups in R's order. NA limits are NaN.
type Survfit struct {
	Group   []string `json:"group"`
	Time    Floats   `json:"time"`
	NRisk   []int    `json:"n_risk"`
	NEvent  []int    `json:"n_event"`
	NCensor []int    `json:"n_censor"`
	Surv    Floats   `json:"surv"`
	StdErr  Floats   `json:"std_err"` // of the survival, as summary.survfit prints it
	Lower   Floats   `json:"lower"`
	Upper   Floats   `json:"upper"`
}

// Medians is the table of print(survfit(...), rmean = 365), one row per group: the median
// with its 95% limits (NaN where R says NA) and the restricted mean to 365 days with its
// standard error.
type Medians struct {
	Group    []string `json:"group"`
	N        []int    `json:"n"`
	Events   []int    `json:"events"`
	Median   Floats   `json:"median"`
	LCL      Floats   `json:"lcl"`
	UCL      Floats   `json:"ucl"`
	RMean365 Floats   `json:"rmean_365"`
	RMeanSE  Floats   `json:"rmean_se"`
	Row      []string `json:"_row"` // R's row names ("sex=female", …)
}

// LogRank is a survdiff test: χ², its degrees of freedom (groups − 1) and
// pchisq(chisq, df, lower.tail = FALSE).
type LogRank struct {
	ChiSq float64 `json:"chisq"`
	DF    int     `json:"df"`
	P     float64 `json:"p"`
}

// CoxSexAge holds coxph(Surv(t, event) ~ sex + age) with Efron ties, with Breslow ties, and
// with Efron ties stratified by site (+ strata(site)).
type CoxSexAge struct {
	Efron           CoxTable `json:"efron"`
	Breslow         CoxTable `json:"breslow"`
	EfronSiteStrata CoxTable `json:"efron_site_strata"`
}

// Model returns the fit the JSON file names name ("efron", "breslow" or
// "efron_site_strata"), for tests that list cases by R's name; it panics on another name.
func (c *CoxSexAge) Model(name string) CoxTable {
	switch name {
	case "efron":
		return c.Efron
	case "breslow":
		return c.Breslow
	case "efron_site_strata":
		return c.EfronSiteStrata
	}
	panic(fmt.Sprintf("lungtest: no Cox model %q in the lung goldens", name))
}

// CoxTable is summary(coxph(...)), one row per term ("sexmale", "age"): the coefficient, its
// standard error, the hazard ratio with its 95% limits and the Wald p-value.
type CoxTable struct {
	Term  []string `json:"term"`
	Coef  Floats   `json:"coef"`
	SE    Floats   `json:"se"`
	HR    Floats   `json:"hr"`
	Lower Floats   `json:"lower"`
	Upper Floats   `json:"upper"`
	P     Floats   `json:"p"`
	Row   []string `json:"_row"` // R's row names, the terms again
}

// Floats is a numeric column of an R data frame as jsonlite writes it (dataframe =
// "columns", na = "null"): an array in which null stands for NA. null decodes as NaN, not
// as the 0 encoding/json would leave, so that an NA can never pass for a number.
type Floats []float64

// UnmarshalJSON decodes an array of numbers and nulls.
func (f *Floats) UnmarshalJSON(b []byte) error {
	var raw []*float64
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*f = make(Floats, len(raw))
	for i, p := range raw {
		(*f)[i] = math.NaN()
		if p != nil {
			(*f)[i] = *p
		}
	}
	return nil
}

// ExpectedPath returns the path of analysis/testdata/lung_expected_bin<binDays>.json.
func ExpectedPath(binDays int) string {
	return filepath.Join(filepath.Dir(Path()), fmt.Sprintf("lung_expected_bin%d.json", binDays))
}

// ReadExpected returns R's results on lung.csv with times in bins of binDays days: 0 (exact
// times, lung_expected_bin0.json) or 30 (lung_expected_bin30.json). It fails the test when
// the file is missing, holds a key Expected does not know, or is for another bin width.
func ReadExpected(tb testing.TB, binDays int) *Expected {
	tb.Helper()
	p := ExpectedPath(binDays)
	b, err := os.ReadFile(p)
	if err != nil {
		tb.Fatalf("%v (regenerate with Rscript gen_lung.R in analysis/testdata)", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var e Expected
	if err := dec.Decode(&e); err != nil {
		tb.Fatalf("%s: %v", p, err)
	}
	if e.BinDays != binDays {
		tb.Fatalf("%s: bin_days %d, want %d", p, e.BinDays, binDays)
	}
	return &e
}
