package node

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// screenBenchMarkers is the number of candidate markers of BenchmarkScreenSite's study.
const screenBenchMarkers = 20

// screenBenchStudy is benchStudy with screenBenchMarkers binary markers (mk00, mk01, …), the
// odd ones missing for 1 patient in 40, as a panel not run everywhere.
func screenBenchStudy(n int) *StudyData {
	st := benchStudy(n)
	r := rand.New(rand.NewPCG(3, 4))
	for m := 0; m < screenBenchMarkers; m++ {
		v := VariableData{Variable: protocol.Variable{Name: fmt.Sprintf("mk%02d", m), Type: protocol.Categorical, Categories: []string{"neg", "pos"}},
			Codes: make([]int32, n)}
		for i := range v.Codes {
			v.Codes[i] = int32(b2i(r.Float64() < 0.1+0.02*float64(m)))
			if m%2 == 1 && r.IntN(40) == 0 {
				v.Codes[i] = -1
			}
		}
		st.Variables = append(st.Variables, v)
	}
	return st
}

// BenchmarkScreenSite: one site of 100,000 patients answering a screen of screenBenchMarkers
// models (marker + age) in each form: "first" is a screen's first round (every model's design
// prepared: the engine's Cox cache emptied before each), "round" a later round (designs
// cached), as a pooled screen asks its phase 1 (pooled_sums).
func BenchmarkScreenSite(b *testing.B) {
	pol := DefaultPolicy()
	pol.DailyQueryBudget, pol.OverlapGuard = 0, false // the same models asked again and again
	benchScreenSite(b, pol)
}

// BenchmarkScreenSiteExact is BenchmarkScreenSite at a trusted site (ExactPolicy: no
// design-column or weight-spread rule, exact times), as the sites of make bench's 1M screen.
func BenchmarkScreenSiteExact(b *testing.B) {
	benchScreenSite(b, ExactPolicy())
}

func benchScreenSite(b *testing.B, pol protocol.Policy) {
	ctx := context.Background()
	store := openStore(b, filepath.Join(b.TempDir(), "screen.db"))
	if _, err := store.ReplaceStudy(ctx, screenBenchStudy(100_000)); err != nil {
		b.Fatal(err)
	}
	pol.AllowPooledCox = true
	e, err := NewEngine(ctx, store, Config{InsecureOpen: true, Policy: &pol})
	if err != nil {
		b.Fatal(err)
	}
	declareRanges(b, e, "big", map[string][2]float64{"age": {18, 100}})
	for _, form := range []protocol.CoxForm{protocol.CoxStratified, protocol.CoxPooledSums} {
		var models []protocol.CoxRequest
		for m := 0; m < screenBenchMarkers; m++ {
			mr := protocol.CoxRequest{Form: form, Ties: "efron", Covariates: []string{fmt.Sprintf("mk%02d", m), "age"}, Beta: []float64{0.1, 0.01}}
			if form == protocol.CoxPooledSums {
				mr.Origin = map[string]float64{"age": 59}
			}
			models = append(models, mr)
		}
		q := protocol.Query{Version: protocol.Version, Kind: protocol.KindScreen, ID: "s", Analyst: "bench", Study: "big", Endpoint: "OS",
			Screen: &protocol.ScreenRequest{Models: models}}
		for k, m := range mustOK(b, e.Handle(ctx, q)).Screen.Models {
			if m.Error != nil {
				b.Fatalf("model %d: %v", k, m.Error)
			}
		}
		b.Run(string(form)+"/first", func(b *testing.B) {
			for b.Loop() {
				e.coxMu.Lock()
				e.coxCache, e.coxCacheUsed = nil, 0
				e.coxMu.Unlock()
				e.Handle(ctx, q)
			}
		})
		b.Run(string(form)+"/round", func(b *testing.B) {
			for b.Loop() {
				e.Handle(ctx, q)
			}
		})
	}
}
