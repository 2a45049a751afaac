package analysis

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// lungRecords returns the pooled lung records of km_goldens.json (the rows of testdata/lung.csv).
func lungRecords(tb testing.TB) goldenDataset {
	tb.Helper()
	return loadKMGoldens(tb).Datasets["lung"]
}

// TestMergeTablesAnyPartition: however the records are split into sites and in whatever order
// the site tables are merged (all at once or hierarchically), the merged table, and hence every
// statistic, is identical to the table of the pooled records.
func TestMergeTablesAnyPartition(t *testing.T) {
	d := lungRecords(t)
	pooled, err := NewSurvivalTable(d.Time, d.Event)
	if err != nil {
		t.Fatal(err)
	}
	want, err := KaplanMeier(pooled, KMOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 50; trial++ {
		k := 1 + rng.IntN(30)
		times := make([][]float64, k)
		events := make([][]bool, k)
		for i := range d.Time {
			s := rng.IntN(k)
			times[s] = append(times[s], d.Time[i])
			events[s] = append(events[s], d.Event[i])
		}
		sites := make([]SurvivalTable, k)
		for s := range sites {
			if sites[s], err = NewSurvivalTable(times[s], events[s]); err != nil {
				t.Fatal(err)
			}
		}
		rng.Shuffle(k, func(a, b int) { sites[a], sites[b] = sites[b], sites[a] })
		merged := MergeTables(sites...)
		if !reflect.DeepEqual(merged, pooled) {
			t.Fatalf("trial %d: merge of %d sites differs from the pooled table", trial, k)
		}
		// Hierarchical: merge halves, then the halves.
		h := k / 2
		twice := MergeTables(MergeTables(sites[:h]...), MergeTables(sites[h:]...))
		if !reflect.DeepEqual(twice, pooled) {
			t.Fatalf("trial %d: hierarchical merge differs from the pooled table", trial)
		}
		got, err := KaplanMeier(twice, KMOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("trial %d: Kaplan-Meier of merged tables differs", trial)
		}
	}
}

// TestCoarsenPerSiteEqualsPooled: coarsening each site's table and merging gives the table of
// the pooled records with coarsened times, which is why pooled coarsened results equal R on the
// coarsened times (checked against R in TestLungReference and TestKaplanMeierGoldens).
func TestCoarsenPerSiteEqualsPooled(t *testing.T) {
	d := lungRecords(t)
	for _, w := range []float64{1, 7, 30, 91.3125, 365} {
		coarse := make([]float64, len(d.Time))
		for i, x := range d.Time {
			coarse[i] = math.Ceil(x/w) * w
		}
		want, err := NewSurvivalTable(coarse, d.Event)
		if err != nil {
			t.Fatal(err)
		}
		_, sites := d.siteTables(t, "", "", w)
		if got := MergeTables(sites...); !reflect.DeepEqual(got, want) {
			t.Errorf("w = %v: merged coarsened site tables differ from the coarsened pooled table", w)
		}
		if err := want.Validate(); err != nil {
			t.Errorf("w = %v: %v", w, err)
		}
	}
	tab := SurvivalTable{Time: []float64{1, 2}, Events: []int{1, 0}, Censor: []int{0, 1}}
	if got := tab.Coarsen(0); !reflect.DeepEqual(got, tab) {
		t.Errorf("Coarsen(0) changed the table: %+v", got)
	}
	for _, c := range []struct{ t, w, want float64 }{{0, 30, 0}, {1, 30, 30}, {30, 30, 30}, {30.5, 30, 60}, {17, 0, 17}} {
		if got := CoarsenTime(c.t, c.w); got != c.want {
			t.Errorf("CoarsenTime(%v, %v) = %v, want %v", c.t, c.w, got, c.want)
		}
	}
}

func TestNewSurvivalTable(t *testing.T) {
	got, err := NewSurvivalTable([]float64{5, 2, 5, 2, 9, 0}, []bool{true, false, false, true, true, true})
	if err != nil {
		t.Fatal(err)
	}
	want := SurvivalTable{Time: []float64{0, 2, 5, 9}, Events: []int{1, 1, 1, 1}, Censor: []int{0, 1, 1, 0}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if r := got.AtRisk(); !reflect.DeepEqual(r, []int{6, 5, 3, 1}) {
		t.Errorf("AtRisk = %v", r)
	}
	if got.Total() != 6 || got.TotalEvents() != 4 || got.Len() != 4 {
		t.Errorf("Total %d, TotalEvents %d, Len %d", got.Total(), got.TotalEvents(), got.Len())
	}
	if _, err := NewSurvivalTable([]float64{1}, []bool{true, false}); !errors.Is(err, ErrLengthMismatch) {
		t.Errorf("length mismatch: err = %v", err)
	}
	for _, bad := range []float64{-1, math.NaN(), math.Inf(1)} {
		_, err := NewSurvivalTable([]float64{1, bad}, []bool{true, true})
		if err == nil || !strings.Contains(err.Error(), "record 1") {
			t.Errorf("time %v: err = %v, want one naming record 1", bad, err)
		}
	}
	if e, err := NewSurvivalTable(nil, nil); err != nil || e.Len() != 0 {
		t.Errorf("no records: %+v, %v", e, err)
	}
}

func TestSurvivalTableValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		tab  SurvivalTable
		want string // substring of the error; "" for valid
	}{
		{"valid", SurvivalTable{Time: []float64{1, 2}, Events: []int{1, 0}, Censor: []int{0, 1}}, ""},
		{"empty", SurvivalTable{}, ""},
		{"lengths", SurvivalTable{Time: []float64{1, 2}, Events: []int{1}, Censor: []int{0, 1}}, "2 times but 1 event"},
		{"entry lengths", SurvivalTable{Time: []float64{1}, Events: []int{1}, Censor: []int{0}, Entries: []int{0, 0}}, "entry counts"},
		{"order", SurvivalTable{Time: []float64{2, 2}, Events: []int{1, 0}, Censor: []int{0, 1}}, "row 1: time 2 does not follow 2"},
		{"negative time", SurvivalTable{Time: []float64{-1}, Events: []int{1}, Censor: []int{0}}, "row 0"},
		{"NaN time", SurvivalTable{Time: []float64{math.NaN()}, Events: []int{1}, Censor: []int{0}}, "row 0"},
		{"negative count", SurvivalTable{Time: []float64{1, 2}, Events: []int{1, -1}, Censor: []int{0, 3}}, "row 1: negative count"},
		{"entries exceed", SurvivalTable{Time: []float64{1, 2}, Events: []int{0, 1}, Censor: []int{0, 0}, Entries: []int{0, 3}}, "negative number at risk"},
		{"events exceed risk", SurvivalTable{Time: []float64{1, 2}, Events: []int{0, 1}, Censor: []int{0, 0}, Entries: []int{0, 1}}, "1 events but 0 at risk"},
	} {
		err := c.tab.Validate()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
	// Delayed entry: subjects entering at t are at risk only after t.
	tab := SurvivalTable{Time: []float64{1, 2, 3}, Events: []int{1, 0, 1}, Censor: []int{0, 1, 1}, Entries: []int{0, 2, 0}}
	if r := tab.AtRisk(); !reflect.DeepEqual(r, []int{2, 1, 2}) {
		t.Errorf("AtRisk with entries = %v, want [2 1 2]", r)
	}
	m := MergeTables(tab, SurvivalTable{Time: []float64{2}, Events: []int{1}, Censor: []int{0}})
	if !reflect.DeepEqual(m.Entries, []int{0, 2, 0}) || !reflect.DeepEqual(m.Events, []int{1, 1, 1}) {
		t.Errorf("merge with entries: %+v", m)
	}
}

// TestMergeTablesUnsortedAndAliasing: MergeTables accepts tables whose times are out of order
// or repeated (Coarsen relies on it), and its result never shares memory with an input.
func TestMergeTablesUnsortedAndAliasing(t *testing.T) {
	messy := SurvivalTable{Time: []float64{5, 1, 5, 3}, Events: []int{1, 0, 2, 1}, Censor: []int{0, 1, 1, 0}}
	sorted := SurvivalTable{Time: []float64{1, 2}, Events: []int{1, 1}, Censor: []int{0, 0}, Entries: []int{0, 1}}
	got := MergeTables(messy, sorted)
	want := SurvivalTable{Time: []float64{1, 2, 3, 5}, Events: []int{1, 1, 1, 3}, Censor: []int{1, 0, 0, 1}, Entries: []int{0, 1, 0, 0}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	single := MergeTables(sorted)
	single.Events[0] = 99
	if sorted.Events[0] != 1 {
		t.Error("MergeTables of one table aliases its input")
	}
	if m := MergeTables(); m.Len() != 0 || m.Time != nil {
		t.Errorf("MergeTables() = %+v", m)
	}
	if m := MergeTables(SurvivalTable{}, SurvivalTable{}); m.Len() != 0 {
		t.Errorf("merge of empty tables = %+v", m)
	}
}
