package app_test

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/cache"
	"github.com/oncofed/oncofed/protocol"
)

// bitEqual compares two values deeply, floats by their bits (so NaN equals NaN, 0 ≠ −0).
func bitEqual(a, b reflect.Value, path string) error {
	if a.Kind() != b.Kind() || a.Type() != b.Type() {
		return fmt.Errorf("%s: type %v vs %v", path, a.Type(), b.Type())
	}
	switch a.Kind() {
	case reflect.Float64, reflect.Float32:
		if math.Float64bits(a.Float()) != math.Float64bits(b.Float()) {
			return fmt.Errorf("%s: %v vs %v", path, a.Float(), b.Float())
		}
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				return fmt.Errorf("%s: nil vs non-nil", path)
			}
			return nil
		}
		return bitEqual(a.Elem(), b.Elem(), path)
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			if err := bitEqual(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() {
			return fmt.Errorf("%s: length %d vs %d", path, a.Len(), b.Len())
		}
		for i := 0; i < a.Len(); i++ {
			if err := bitEqual(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		if a.Len() != b.Len() {
			return fmt.Errorf("%s: %d vs %d keys", path, a.Len(), b.Len())
		}
		for _, k := range a.MapKeys() {
			bv := b.MapIndex(k)
			if !bv.IsValid() {
				return fmt.Errorf("%s: key %v missing", path, k)
			}
			if err := bitEqual(a.MapIndex(k), bv, fmt.Sprintf("%s[%v]", path, k)); err != nil {
				return err
			}
		}
	default:
		if a.CanInterface() && !reflect.DeepEqual(a.Interface(), b.Interface()) {
			return fmt.Errorf("%s: %v vs %v", path, a.Interface(), b.Interface())
		}
	}
	return nil
}

var everyKind = []app.Request{
	{Kind: protocol.KindCount, Study: "lung", GroupBy: "sex"},
	{Kind: protocol.KindSummary, Study: "lung", GroupBy: "sex", Variables: []string{"age", "wt.loss", "ecog"},
		Bins: []protocol.HistogramSpec{{Variable: "age", Edges: []float64{50, 60, 70}}, {Variable: "wt.loss", Edges: []float64{0, 10, 20}}}},
	{Kind: protocol.KindSurvival, Study: "lung", Endpoint: "os", GroupBy: "ecog", Landmarks: []float64{180, 365, 730, 5000}},
	{Kind: protocol.KindCox, Study: "lung", Endpoint: "os", Cox: &app.CoxSpec{Covariates: []string{"sex", "age", "ecog"}}},
	{Kind: protocol.KindCox, Study: "lung", Endpoint: "os", Cox: &app.CoxSpec{Covariates: []string{"sex", "wt.loss"}, Form: protocol.CoxPooled, Ties: "breslow"}},
}

// TestOfflineOpenEveryKind: every kind of result, stored while online, opens in a new process
// with no network at all and renders to the same bits (payload, provenance, aggregates).
func TestOfflineOpenEveryKind(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var stored []*app.Result
	for _, req := range everyKind {
		r, err := f.svc.Run(ctx, req)
		if err != nil {
			t.Fatalf("%s: %v", req.Kind, err)
		}
		stored = append(stored, r)
	}
	f.db.Close()
	db, err := cache.Open(ctx, f.path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	offline := app.NewService(nil, db, app.NetworkInfo{ID: "demo", Name: "Demo network"})
	for _, r := range stored {
		o, err := offline.Open(ctx, r.ID)
		if err != nil {
			t.Fatalf("%s: %v", r.Name, err)
		}
		if !o.Cached {
			t.Errorf("%s: not marked cached", r.Name)
		}
		o.Cached = false
		if err := bitEqual(reflect.ValueOf(*o), reflect.ValueOf(*r), "Result"); err != nil {
			t.Errorf("%s: reopened result differs: %v", r.Name, err)
		}
	}
	// Sanity of the comparison itself: a changed bit is noticed.
	o, _ := offline.Open(ctx, stored[2].ID)
	o.Cached = false
	o.KM.Groups[0].Curve.Surv[3] = math.Nextafter(o.KM.Groups[0].Curve.Surv[3], 2)
	if bitEqual(reflect.ValueOf(*o), reflect.ValueOf(*stored[2]), "Result") == nil {
		t.Error("bitEqual missed a changed bit")
	}
}

// BenchmarkOpenKM opens one cached KM result (18 sites, 4 groups) and recomputes its curves,
// medians, landmarks and log-rank tests from the stored aggregates (issue 6: under 20 ms).
func BenchmarkOpenKM(b *testing.B) {
	fx := newFixture(b)
	r, err := fx.svc.Run(context.Background(), everyKind[2])
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := fx.svc.Open(context.Background(), r.ID); err != nil {
			b.Fatal(err)
		}
	}
}
