package lungtest

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

// TestReadExpected: decoded values equal the numbers written in the JSON files (copied from
// analysis/testdata/lung_expected_bin0.json and lung_expected_bin30.json as text), in every
// section, so a wrong tag or type fails; R's NA decodes as NaN, not 0; every column of a
// table has the table's length.
func TestReadExpected(t *testing.T) {
	e := ReadExpected(t, 0)
	for _, c := range []struct {
		what      string
		got, want float64
	}{
		{"n", float64(e.N), 227},
		{"overall km time[0]", e.Overall.KM.Time[0], 5},
		{"overall km n_risk[0]", float64(e.Overall.KM.NRisk[0]), 227},
		{"overall km n_event[1]", float64(e.Overall.KM.NEvent[1]), 3},
		{"overall km surv[0]", e.Overall.KM.Surv[0], 0.995594713656388},
		{"overall km std_err[0]", e.Overall.KM.StdErr[0], 0.00439557235969935},
		{"overall km lower[0]", e.Overall.KM.Lower[0], 0.987016717582918},
		{"overall km upper[1]", e.Overall.KM.Upper[1], 0.999644407614945},
		{"overall km_loglog lower[0]", e.Overall.KMLogLog.Lower[0], 0.969143507674294},
		{"overall km_plain upper[184]", e.Overall.KMPlain.Upper[184], 0.0958032652387039},
		{"overall median", e.Overall.Median.Median[0], 310},
		{"overall median lcl", e.Overall.Median.LCL[0], 284},
		{"overall median ucl", e.Overall.Median.UCL[0], 363},
		{"overall rmean_365", e.Overall.Median.RMean365[0], 262.959900643608},
		{"overall rmean_se", e.Overall.Median.RMeanSE[0], 7.83040052974284},
		{"by sex km n_censor[204]", float64(e.BySex.KM.NCensor[204]), 1},
		{"by sex km std_err[204]", e.BySex.KM.StdErr[204], 0.0218516950462498},
		{"by sex median male", e.BySex.Median.Median[1], 269},
		{"by sex n male", float64(e.BySex.Median.N[1]), 137},
		{"by sex events female", float64(e.BySex.Median.Events[0]), 53},
		{"by sex log-rank chisq", e.BySex.LogRank.ChiSq, 10.2056556937204},
		{"by sex log-rank df", float64(e.BySex.LogRank.DF), 1},
		{"by sex log-rank p", e.BySex.LogRank.P, 0.00140010602785315},
		{"by sex site-strata chisq", e.BySex.LogRankSiteStrata.ChiSq, 8.52446736332318},
		{"by sex site-strata p", e.BySex.LogRankSiteStrata.P, 0.00350403287006079},
		{"by ecog median ecog3", e.ByECOG.Median.Median[3], 118},
		{"by ecog log-rank chisq", e.ByECOG.LogRank.ChiSq, 21.8562661071199},
		{"by ecog log-rank df", float64(e.ByECOG.LogRank.DF), 3},
		{"efron coef sexmale", e.Cox.Efron.Coef[0], 0.511668295866378},
		{"efron se age", e.Cox.Efron.SE[1], 0.00923266443657081},
		{"efron hr sexmale", e.Cox.Efron.HR[0], 1.66807171208045},
		{"efron lower sexmale", e.Cox.Efron.Lower[0], 1.20084358358151},
		{"efron upper sexmale", e.Cox.Efron.Upper[0], 2.31709048096368},
		{"efron p age", e.Cox.Efron.P[1], 0.0650496700758008},
		{"breslow coef sexmale", e.Cox.Model("breslow").Coef[0], 0.510996587050148},
		{"efron_site_strata coef sexmale", e.Cox.Model("efron_site_strata").Coef[0], 0.492351518651615},
	} {
		if c.got != c.want {
			t.Errorf("bin 0 %s = %v, file %v", c.what, c.got, c.want)
		}
	}
	if e.BySex.KM.Group[0] != "female" || e.BySex.Median.Row[1] != "sex=male" || !slices.Equal(e.Cox.Efron.Term, []string{"sexmale", "age"}) ||
		!slices.Equal(e.Cox.EfronSiteStrata.Row, []string{"sexmale", "age"}) || e.Binning == "" {
		t.Errorf("bin 0 strings: group %q, row %q, terms %v, rows %v, binning %q",
			e.BySex.KM.Group[0], e.BySex.Median.Row[1], e.Cox.Efron.Term, e.Cox.EfronSiteStrata.Row, e.Binning)
	}
	// ecog3 is one patient: its median's limits are NA (null in the file).
	if m := e.ByECOG.Median; !math.IsNaN(m.LCL[3]) || !math.IsNaN(m.UCL[3]) || m.LCL[2] != 156 {
		t.Errorf("ecog limits lcl %v ucl %v, want NaN for ecog3 and lcl 156 for ecog2", m.LCL, m.UCL)
	}
	for _, k := range []struct {
		what string
		km   Survfit
		rows int
	}{{"overall km", e.Overall.KM, 185}, {"overall km_loglog", e.Overall.KMLogLog, 185}, {"overall km_plain", e.Overall.KMPlain, 185}, {"by sex km", e.BySex.KM, 205}} {
		for _, n := range []int{len(k.km.Group), len(k.km.Time), len(k.km.NRisk), len(k.km.NEvent), len(k.km.NCensor),
			len(k.km.Surv), len(k.km.StdErr), len(k.km.Lower), len(k.km.Upper)} {
			if n != k.rows {
				t.Errorf("%s: a column of %d rows, want %d", k.what, n, k.rows)
			}
		}
	}

	e30 := ReadExpected(t, 30)
	if e30.BinDays != 30 || e30.Overall.KM.Time[1] != 60 || e30.Overall.KM.NEvent[0] != 10 || e30.Overall.Median.Median[0] != 330 ||
		e30.Cox.EfronSiteStrata.Coef[0] != 0.487614118380673 || e30.BySex.LogRank.ChiSq != 11.029424643761 {
		t.Errorf("bin 30: bin_days %d, time[1] %v, n_event[0] %d, median %v, stratified coef %v, log-rank %v",
			e30.BinDays, e30.Overall.KM.Time[1], e30.Overall.KM.NEvent[0], e30.Overall.Median.Median[0],
			e30.Cox.EfronSiteStrata.Coef[0], e30.BySex.LogRank.ChiSq)
	}
}

// TestFloatsNA: null is NaN, numbers are kept, and a non-array is an error.
func TestFloatsNA(t *testing.T) {
	var f Floats
	if err := json.Unmarshal([]byte(`[1.5, null, 0]`), &f); err != nil {
		t.Fatal(err)
	}
	if len(f) != 3 || f[0] != 1.5 || !math.IsNaN(f[1]) || f[2] != 0 {
		t.Errorf("decoded %v, want [1.5 NaN 0]", f)
	}
	if err := json.Unmarshal([]byte(`{"a": 1}`), &f); err == nil {
		t.Error("an object decoded without error")
	}
}

// TestCoxModelPanics: a name not in the file is a programmer's mistake.
func TestCoxModelPanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.HasPrefix(fmt.Sprint(r), "lungtest: ") {
			t.Errorf("recovered %v, want a lungtest: panic", r)
		}
	}()
	var c CoxSexAge
	c.Model("exact")
}
