package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/synth"
)

// The cli section's study: every synthetic cancer (NSCLC, TNBC, mesothelioma, myeloma; a
// quarter of the patients each) in one study per site, as a comprehensive cancer centre's
// registry would hold them. Its variables are the ones the four share — cancer (4 levels), age,
// sex, ECOG, year of diagnosis — and a panel of 15 biomarker scores (standard normal, no
// effect on survival: the null markers of a screen). The models of the p-scaling series:
var cliModels = []cliModel{
	{name: "p1", covariates: []string{"age"}, columns: 1},
	{name: "p5", covariates: []string{"cancer", "age", "sex"}, columns: 5},
	{name: "p10", covariates: append([]string{"cancer", "age", "sex", "ecog", "dx_year"}, markers(3)...), columns: 10},
	{name: "p20", covariates: append([]string{"cancer", "age", "sex", "ecog", "dx_year"}, markers(13)...), columns: 20},
}

type cliModel struct {
	name       string
	covariates []string
	columns    int // design columns: cancer is 3 (treatment contrasts), sex 1
}

const (
	cliStudy   = "pancancer"
	cliMarkers = 15
)

var cancers = []synth.Study{synth.NSCLC, synth.TNBC, synth.MPM, synth.MM}

func markers(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("m%02d", i+1)
	}
	return out
}

// cliSiteShares splits a cancer's patients over the 10 sites: a few large academic centres
// and smaller hospitals (per mille, summing to 1000).
var cliSiteShares = []int{190, 160, 130, 110, 100, 90, 80, 60, 50, 30}

// buildPanCancer writes one SQLite site database per site under dir (as `oncofed-node import`
// would) holding the pan-cancer study of n patients, and the pooled columns R reads under
// dir/pooled. It returns the database paths.
func buildPanCancer(ctx context.Context, dir string, n int) ([]string, error) {
	sites := len(cliSiteShares)
	perSite := make([][]*synth.Cohort, sites)
	for k, study := range cancers {
		sizes := make([]int, sites)
		for i, s := range cliSiteShares {
			sizes[i] = max(1, n/len(cancers)*s/1000)
		}
		g, err := synth.New(synth.Spec{Study: study, SiteSizes: sizes, Seed: synth.DemoSeed + uint64(k)})
		if err != nil {
			return nil, err
		}
		for i := range g.Sites() {
			perSite[i] = append(perSite[i], g.Site(i))
		}
	}
	pooled := filepath.Join(dir, "pooled")
	if err := os.MkdirAll(pooled, 0o755); err != nil {
		return nil, err
	}
	cols := map[string]*os.File{}
	for _, c := range append([]string{"time", "event", "site", "cancer", "age", "sex", "ecog", "dx_year"}, markers(cliMarkers)...) {
		f, err := os.Create(filepath.Join(pooled, c+".f64"))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		cols[c] = f
	}
	var paths []string
	for i, cohorts := range perSite {
		st := panCancerSite(cohorts, uint64(i))
		if err := writePooled(cols, st, i); err != nil {
			return nil, err
		}
		path := filepath.Join(dir, fmt.Sprintf("site%02d.db", i))
		store, err := node.OpenSQLite(path)
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("hospital-%02d", i+1)
		_, err = store.ReplaceStudy(ctx, st)
		if err == nil {
			err = store.SetSiteName(ctx, name)
		}
		store.Close()
		if err != nil {
			return nil, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// panCancerSite joins one site's four cancer cohorts into the pan-cancer study.
func panCancerSite(cohorts []*synth.Cohort, seed uint64) *node.StudyData {
	ptr := func(x float64) *float64 { return &x }
	st := &node.StudyData{Name: cliStudy, DataCut: synth.DefaultDataCut.Format("2006-01-02"), StudyVersion: "1"}
	cancer := node.VariableData{Variable: protocol.Variable{Name: "cancer", Type: protocol.Categorical, Label: "cancer",
		Categories: []string{"nsclc", "tnbc", "mpm", "mm"}}}
	sex := node.VariableData{Variable: protocol.Variable{Name: "sex", Type: protocol.Categorical, Label: "sex", Categories: []string{"female", "male"}}}
	num := func(name, label string, min, max float64) node.VariableData {
		return node.VariableData{Variable: protocol.Variable{Name: name, Type: protocol.Numeric, Label: label, Min: ptr(min), Max: ptr(max)}}
	}
	age, ecog, year := num("age", "age at diagnosis", 18, 100), num("ecog", "ECOG performance status", 0, 5), num("dx_year", "year of diagnosis", 2015, 2030)
	marks := make([]node.VariableData, cliMarkers)
	for j := range marks {
		marks[j] = num(fmt.Sprintf("m%02d", j+1), "biomarker score (standardised)", -10, 10)
	}
	surv := node.EndpointData{Name: "OS"}
	rng := rand.New(rand.NewPCG(seed, 0x6d61726b657273))
	for k, c := range cohorts {
		sexCol, female := c.Column("sex").Codes, int8(-1)
		for l, lv := range c.Schema.Variables[c.Schema.Index("sex")].Levels {
			if lv == "female" {
				female = int8(l)
			}
		}
		for i := 0; i < c.Len(); i++ {
			st.IDs = append(st.IDs, fmt.Sprintf("%s-%s", cancers[k], c.ID(i)))
			cancer.Codes = append(cancer.Codes, int32(k))
			switch {
			case sexCol[i] < 0:
				sex.Codes = append(sex.Codes, -1)
			case sexCol[i] == female:
				sex.Codes = append(sex.Codes, 0)
			default:
				sex.Codes = append(sex.Codes, 1)
			}
			age.Numeric = append(age.Numeric, c.Column("age").Values[i])
			ecog.Numeric = append(ecog.Numeric, c.Column("ecog").Values[i])
			year.Numeric = append(year.Numeric, c.Column("dx_year").Values[i])
			for j := range marks {
				marks[j].Numeric = append(marks[j].Numeric, math.Max(-10, math.Min(10, rng.NormFloat64())))
			}
			surv.Time = append(surv.Time, c.OSDays[i])
			surv.Event = append(surv.Event, c.OSEvent[i])
		}
	}
	st.Variables = append([]node.VariableData{cancer, age, sex, ecog, year}, marks...)
	st.Endpoints = []node.EndpointData{surv}
	return st
}

// writePooled appends a site's patients to the pooled columns R reads (raw little-endian
// float64; NaN for a missing value).
func writePooled(cols map[string]*os.File, st *node.StudyData, site int) error {
	n := len(st.IDs)
	out := map[string][]float64{"time": st.Endpoints[0].Time, "site": make([]float64, n), "event": make([]float64, n)}
	for i := 0; i < n; i++ {
		out["site"][i] = float64(site)
		if st.Endpoints[0].Event[i] {
			out["event"][i] = 1
		}
	}
	for _, v := range st.Variables {
		if v.Type == protocol.Numeric {
			out[v.Name] = v.Numeric
			continue
		}
		x := make([]float64, n)
		for i, c := range v.Codes {
			x[i] = float64(c)
			if c < 0 {
				x[i] = math.NaN()
			}
		}
		out[v.Name] = x
	}
	for name, f := range cols {
		if err := binary.Write(f, binary.LittleEndian, out[name]); err != nil {
			return err
		}
	}
	return nil
}
