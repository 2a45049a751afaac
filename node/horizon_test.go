package node

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// lungSpecWithHorizon is lungSpec with the OS endpoint's declared horizon_days h (per
// endpoint), or the study-wide one when study is set.
func lungSpecWithHorizon(h float64, study bool) ImportSpec {
	spec := lungSpec
	d := lungDictionary()
	d.Entries = append([]DictionaryEntry(nil), d.Entries...)
	if study {
		d.HorizonDays = &h
		spec.Dictionary = d
		return spec
	}
	found := false
	for i := range d.Entries {
		if d.Entries[i].Name == "OS" {
			d.Entries[i].HorizonDays, found = &h, true
		}
	}
	if !found {
		panic("lung dictionary declares no OS endpoint")
	}
	spec.Dictionary = d
	return spec
}

// dpSurvivalBins asks dora's dp survival query and returns the reply and the number of bins
// the audit log says were released.
func dpSurvivalBins(t *testing.T, l *dpLung) (protocol.Reply, int) {
	t.Helper()
	q := sign(t, l.dora, survivalQuery(false))
	r := mustOK(t, handleJSON(t, l.e, q))
	if err := protocol.ValidateReply(q, r); err != nil {
		t.Fatalf("the client refuses the reply: %v", err)
	}
	recs, err := VerifyAudit(context.Background(), l.store)
	if err != nil {
		t.Fatal(err)
	}
	last := recs[len(recs)-1].Released
	i := strings.Index(last, " bins=")
	var bins int
	if i < 0 {
		t.Fatalf("audit record %q names no bins", last)
	}
	fmt.Sscanf(last[i+len(" bins="):], "%d", &bins)
	return r, bins
}

// A study whose dictionary declares a horizon gets that many bins in a dp survival reply, per
// endpoint or study-wide; without one, the policy's dp_horizon_days. The catalog publishes the
// declared horizon, and it is part of the dictionary's hash.
func TestDPStudyHorizon(t *testing.T) {
	pol := DefaultPolicy()
	for _, c := range []struct {
		name    string
		spec    ImportSpec
		horizon float64
		bins    int
	}{
		{"policy", lungSpec, 3650, 122},
		{"endpoint", lungSpecWithHorizon(1050, false), 1050, 35},
		{"study", lungSpecWithHorizon(1000, true), 1000, 34},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := newDPLungSpec(t, pol, lungCSV, c.spec)
			r, bins := dpSurvivalBins(t, l)
			if bins != c.bins || r.Policy.TruncatedAfter == nil || *r.Policy.TruncatedAfter != c.horizon || r.Policy.BinDays != 30 {
				t.Errorf("%d bins, truncated after %v, bins of %v days; want %d bins to %v", bins, r.Policy.TruncatedAfter, r.Policy.BinDays, c.bins, c.horizon)
			}
			for _, tm := range r.Survival.Groups[0].Time {
				if tm > c.horizon+30 {
					t.Errorf("time %v past the horizon %v", tm, c.horizon)
				}
			}
			cq := query(protocol.KindCatalog)
			cat := mustOK(t, handleJSON(t, l.e, sign(t, l.tom, cq)))
			ep := cat.Catalog.Studies[0].Endpoints[0]
			if declared := c.name != "policy"; declared != (ep.HorizonDays != nil) || (declared && *ep.HorizonDays != c.horizon) {
				t.Errorf("catalog endpoint %+v", ep)
			}
		})
	}
	vars, eps := (&StudyData{StudyVersion: "1", Endpoints: []EndpointData{{Name: "OS"}}}).Dictionary()
	h := 1050.0
	_, eps2 := (&StudyData{StudyVersion: "1", Endpoints: []EndpointData{{Name: "OS", HorizonDays: &h}}}).Dictionary()
	if protocol.DictionaryHash("1", vars, eps) == protocol.DictionaryHash("1", vars, eps2) {
		t.Error("the declared horizon is not part of the dictionary's hash")
	}

	// A policy with narrow bins widens them for a long declared horizon: at most 1000 bins.
	narrow := DefaultPolicy()
	narrow.DPBinDays = 10
	l := newDPLungSpec(t, narrow, lungCSV, lungSpecWithHorizon(29000, false))
	r, bins := dpSurvivalBins(t, l)
	if bins != 1000 || r.Policy.BinDays != 29 {
		t.Errorf("horizon 29000 on 10-day bins: %d bins of %v days, want 1000 of 29", bins, r.Policy.BinDays)
	}
}

// A declared horizon that is not a positive number of days, or that needs more than 1000 bins
// of the default 30 days, is refused when the dictionary is read (and at import), saying why;
// so is one on a variable. The stored horizon survives a reload of the study.
func TestDictionaryHorizonRefused(t *testing.T) {
	for doc, want := range map[string]string{
		`{"version":"1","endpoints":[{"name":"OS","horizon_days":0}]}`:      `endpoint "OS": horizon_days 0: must be a positive number of days`,
		`{"version":"1","endpoints":[{"name":"OS","horizon_days":-30}]}`:    `horizon_days -30: must be a positive`,
		`{"version":"1","endpoints":[{"name":"OS","horizon_days":40000}]}`:  `horizon_days 40000 is 1334 bins of 30 days, more than 1000 (at most 30000 days)`,
		`{"version":"1","horizon_days":0,"endpoints":[{"name":"OS"}]}`:      `the study: horizon_days 0`,
		`{"version":"1","horizon_days":30001}`:                              `more than 1000`,
		`{"version":"1","variables":[{"name":"age","horizon_days":365}]}`:   `unknown field`,
		`{"version":"1","endpoints":[{"name":"OS","horizon_days":"long"}]}`: `horizon_days`,
	} {
		_, err := ReadDictionary(strings.NewReader(doc))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", doc, err, want)
		}
	}
	if _, err := ReadDictionary(strings.NewReader(`{"version":"1","horizon_days":30000,"endpoints":[{"name":"OS","horizon_days":2190}]}`)); err != nil {
		t.Errorf("a valid horizon refused: %v", err)
	}
	// A dictionary built in code is checked at import too.
	bad := -1.0
	d := lungDictionary()
	d.HorizonDays = &bad
	spec := lungSpec
	spec.Dictionary = d
	s := openStore(t, t.TempDir()+"/h.db")
	if _, err := ImportCSV(context.Background(), s, spec, strings.NewReader("id,time,event\n1,5,1\n")); err == nil || !strings.Contains(err.Error(), "horizon_days -1") {
		t.Errorf("import with horizon -1: %v", err)
	}
	var v Dictionary
	v.Entries = []DictionaryEntry{{Name: "age", Type: protocol.Numeric, HorizonDays: &bad}}
	if err := v.check(); err == nil || !strings.Contains(err.Error(), "endpoints only") {
		t.Errorf("horizon on a variable: %v", err)
	}

	// Stored and read back.
	store := importFile(t, t.TempDir()+"/lung.db", lungCSV, lungSpecWithHorizon(1050, false))
	st, _, err := store.LoadStudy(context.Background(), "lung")
	if err != nil || st.Endpoint("OS").HorizonDays == nil || *st.Endpoint("OS").HorizonDays != 1050 {
		t.Fatalf("stored horizon: %v", err)
	}
}
