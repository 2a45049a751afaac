package node

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

func TestImportLung(t *testing.T) {
	ctx := context.Background()
	store := importFile(t, filepath.Join(t.TempDir(), "inst3.db"), lungCSV, lungSpec)
	st, info, err := store.LoadStudy(ctx, "lung")
	if err != nil {
		t.Fatal(err)
	}
	// 227 patients with a known institution (gen_lung.R drops the one with inst NA).
	if st.Len() != 227 || info.Patients != 227 || st.DataCut != "2020-01-01" {
		t.Fatalf("loaded %d patients (info %d), cut %q", st.Len(), info.Patients, st.DataCut)
	}
	want := map[string]protocol.VariableType{"site": protocol.Categorical, "age": protocol.Numeric, "sex": protocol.Categorical,
		"ecog": protocol.Categorical, "karno": protocol.Numeric, "wt.loss": protocol.Numeric}
	if len(st.Variables) != len(want) {
		t.Fatalf("%d variables, want %d", len(st.Variables), len(want))
	}
	for _, v := range st.Variables {
		if want[v.Name] != v.Type {
			t.Errorf("variable %s: type %s, want %s", v.Name, v.Type, want[v.Name])
		}
	}
	ecog := st.Variable("ecog")
	if strings.Join(ecog.Categories, ",") != "ecog0,ecog1,ecog2,ecog3" {
		t.Errorf("ecog categories %v, want sorted ecog0..ecog3", ecog.Categories)
	}
	// Row 1 of lung.csv: id 1, inst3, 306 days, event, age 74, male, ecog1, karno 90, wt.loss missing.
	if st.IDs[0] != "1" || st.Variable("age").Numeric[0] != 74 || !math.IsNaN(st.Variable("wt.loss").Numeric[0]) ||
		st.Variable("sex").Categories[st.Variable("sex").Codes[0]] != "male" || st.Endpoints[0].Time[0] != 306 || !st.Endpoints[0].Event[0] {
		t.Errorf("first patient loaded wrong")
	}
	// lung has 165 deaths among the 228 patients; the one without inst is censored, so 164 here
	// (python csv count of event==1 in lung.csv).
	ev := 0
	for _, e := range st.Endpoints[0].Event {
		if e {
			ev++
		}
	}
	if ev != 164 {
		t.Errorf("%d events, want 164", ev)
	}
	if name, _ := store.SiteName(ctx); name != "" {
		t.Errorf("site name %q stored without --site", name)
	}
	e, err := NewEngine(ctx, store, Config{InsecureOpen: true})
	if err != nil {
		t.Fatal(err)
	}
	if e.Site() != "inst3" {
		t.Errorf("default site %q, want inst3 from inst3.db", e.Site())
	}
}

func TestImportBadInput(t *testing.T) {
	header := "pid,os_days,os_event,sex,age\n"
	good := "1,100,1,male,60\n2,200,0,female,70\n"
	spec := ImportSpec{Study: "s", IDColumn: "pid", Endpoints: []EndpointSpec{{"OS", "os_days", "os_event"}}}
	cases := []struct {
		name, csv string
		spec      *ImportSpec
		line      int
		contains  string
	}{
		{"missing id column", "id,os_days,os_event\n1,1,1\n", nil, 1, `"pid": missing column`},
		{"missing time column", "pid,days,os_event\n1,1,1\n", nil, 1, `"os_days": missing column`},
		{"missing event column", "pid,os_days,event\n1,1,1\n", nil, 1, `"os_event": missing column`},
		{"non-numeric time", header + good + "3,abc,1,male,50\n", nil, 4, "not a number"},
		{"missing time", header + good + "3,,1,male,50\n", nil, 4, "missing time"},
		{"negative time", header + good + "3,-5,1,male,50\n", nil, 4, "negative time"},
		{"infinite time", header + "3,Inf,1,male,50\n", nil, 2, "not a number"},
		{"duplicate id", header + good + "1,300,1,male,50\n", nil, 4, `duplicate patient id "1" (first on line 2)`},
		{"event flag 2", header + good + "3,5,2,male,50\n", nil, 4, "not 0/1"},
		{"event flag empty", header + "3,5,,male,50\n", nil, 2, "not 0/1"},
		{"empty id", header + ",5,1,male,50\n", nil, 2, "empty patient id"},
		{"invalid UTF-8", header + good + "3,5,1,m\xbd,50\n", nil, 4, "UTF-8"},
		{"short row", header + good + "3,5,1,male\n", nil, 4, "wrong number of fields"},
		{"bad quoting", header + good + "3,5,1,\"ma\"le,50\n", nil, 4, ""},
		{"duplicate column", "pid,os_days,os_event,sex,sex\n1,1,1,a,b\n", nil, 1, "duplicate column"},
		{"empty file", "", nil, 1, "empty file"},
		{"header only", header, nil, 0, "no patient records"},
		{"column in two roles", header + good, &ImportSpec{Study: "s", IDColumn: "pid", Endpoints: []EndpointSpec{{"OS", "os_days", "os_event"}, {"PFS", "os_days", "os_event"}}}, 1, "used both"},
		{"bad data cut", header + good, &ImportSpec{Study: "s", IDColumn: "pid", DataCut: "2020-13-45", Endpoints: spec.Endpoints}, 0, "data cut"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			store := openStore(t, filepath.Join(t.TempDir(), "s.db"))
			sp := spec
			if c.spec != nil {
				sp = *c.spec
			}
			_, err := ImportCSV(ctx, store, sp, strings.NewReader(c.csv))
			var ie *ImportError
			if !errors.As(err, &ie) {
				t.Fatalf("error %v (%T), want *ImportError", err, err)
			}
			if ie.Line != c.line {
				t.Errorf("line %d, want %d (%v)", ie.Line, c.line, err)
			}
			if !strings.Contains(err.Error(), c.contains) {
				t.Errorf("error %q does not mention %q", err, c.contains)
			}
			if ErrorCode(err) != protocol.CodeInvalid {
				t.Errorf("code %s, want invalid", ErrorCode(err))
			}
			if infos, _ := store.Studies(ctx); len(infos) != 0 {
				t.Errorf("a refused import left %d studies", len(infos))
			}
		})
	}
}

func TestImportTypesAndEvents(t *testing.T) {
	ctx := context.Background()
	store := openStore(t, filepath.Join(t.TempDir(), "s.db"))
	csv := "pid,t,e,stage,score,note\n" +
		"a,1.5,true,II,3,\n" +
		"b,2,FALSE,I,,x\n" +
		"c,0,1,,4.25,y\n" +
		"d,7,0,IV,-1e2,\n"
	rep, err := ImportCSV(ctx, store, ImportSpec{Study: "s", IDColumn: "pid", Endpoints: []EndpointSpec{{"OS", "t", "e"}},
		Dictionary: declare("stage=I,II,III,IV", "note=x,y")}, strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Patients != 4 || rep.Endpoints[0].Events != 2 || rep.Endpoints[0].Censored != 2 {
		t.Fatalf("report %+v", rep)
	}
	st, _, _ := store.LoadStudy(ctx, "s")
	if v := st.Variable("stage"); v.Type != protocol.Categorical || strings.Join(v.Categories, ",") != "I,II,III,IV" || v.Codes[2] != -1 {
		t.Errorf("stage: %+v", v)
	}
	if v := st.Variable("score"); v.Type != protocol.Numeric || !math.IsNaN(v.Numeric[1]) || v.Numeric[3] != -100 {
		t.Errorf("score: %+v", v)
	}
	if v := st.Variable("note"); v.Type != protocol.Categorical || len(v.Categories) != 2 {
		t.Errorf("note: %+v", v)
	}
}

// A failed re-import keeps the old data; a successful one replaces it and the engine reloads.
func TestReimportAtomic(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := openStore(t, filepath.Join(dir, "s.db"))
	spec := ImportSpec{Study: "s", IDColumn: "pid", Endpoints: []EndpointSpec{{"OS", "t", "e"}}, Dictionary: declare("sex=f,m")}
	first := "pid,t,e,sex\n1,10,1,m\n2,20,0,f\n3,30,1,m\n"
	if _, err := ImportCSV(ctx, store, spec, strings.NewReader(first)); err != nil {
		t.Fatal(err)
	}
	pol := ExactPolicy()
	e, err := NewEngine(ctx, store, Config{InsecureOpen: true, Policy: &pol})
	if err != nil {
		t.Fatal(err)
	}
	q := protocol.Query{Version: protocol.Version, Kind: protocol.KindCount, Study: "s"}
	if n := mustOK(t, e.Handle(ctx, q)).Count.Total.N; n != 3 {
		t.Fatalf("count %d, want 3", n)
	}
	bad := "pid,t,e,sex\n1,10,1,m\n2,20,0,f\n3,30,1,m\n4,x,1,f\n"
	if _, err := ImportCSV(ctx, store, spec, strings.NewReader(bad)); err == nil {
		t.Fatal("bad file imported")
	}
	if n := mustOK(t, e.Handle(ctx, q)).Count.Total.N; n != 3 {
		t.Fatalf("after a failed re-import: count %d, want the old 3", n)
	}
	second := "pid,t,e,sex\n1,10,1,m\n2,20,0,f\n3,30,1,m\n4,40,1,f\n5,50,0,f\n"
	if _, err := ImportCSV(ctx, store, spec, strings.NewReader(second)); err != nil {
		t.Fatal(err)
	}
	if n := mustOK(t, e.Handle(ctx, q)).Count.Total.N; n != 5 {
		t.Fatalf("after re-import: count %d, want 5 (engine must reload)", n)
	}
	// A store error inside the replacing transaction must also keep the old study: cancel ctx.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := ImportCSV(cctx, store, spec, strings.NewReader(first)); err == nil {
		t.Fatal("import with a cancelled context succeeded")
	}
	if n := mustOK(t, e.Handle(ctx, q)).Count.Total.N; n != 5 {
		t.Fatalf("after a cancelled re-import: count %d, want 5", n)
	}
}

func TestImportSiteName(t *testing.T) {
	ctx := context.Background()
	store := openStore(t, filepath.Join(t.TempDir(), "x.db"))
	spec := ImportSpec{Study: "s", IDColumn: "pid", Site: "riverside-general", Endpoints: []EndpointSpec{{"OS", "t", "e"}}}
	if _, err := ImportCSV(ctx, store, spec, strings.NewReader("pid,t,e\n1,1,1\n")); err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(ctx, store, Config{InsecureOpen: true})
	if err != nil {
		t.Fatal(err)
	}
	if e.Site() != "riverside-general" {
		t.Errorf("site %q", e.Site())
	}
}

func TestParseEndpointSpec(t *testing.T) {
	es, err := ParseEndpointSpec("OS=os_days:os_event")
	if err != nil || es != (EndpointSpec{"OS", "os_days", "os_event"}) {
		t.Errorf("got %+v, %v", es, err)
	}
	for _, bad := range []string{"OS", "OS=a", "=a:b", "OS=:b", "OS=a:"} {
		if _, err := ParseEndpointSpec(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestImportDictionary(t *testing.T) {
	ctx := context.Background()
	dict, err := ReadDictionary(strings.NewReader("name,label,unit\nage,Age at diagnosis,years\nOS,Overall survival,\n"))
	if err != nil {
		t.Fatal(err)
	}
	store := openStore(t, filepath.Join(t.TempDir(), "s.db"))
	spec := ImportSpec{Study: "s", IDColumn: "pid", Endpoints: []EndpointSpec{{"OS", "t", "e"}}, Dictionary: dict}
	if _, err := ImportCSV(ctx, store, spec, strings.NewReader("pid,t,e,age\n1,1,1,50\n")); err != nil {
		t.Fatal(err)
	}
	st, _, _ := store.LoadStudy(ctx, "s")
	if v := st.Variable("age"); v.Label != "Age at diagnosis" || v.Unit != "years" || st.Endpoints[0].Label != "Overall survival" {
		t.Errorf("dictionary not applied: %+v %+v", v.Variable, st.Endpoints[0])
	}
	spec.Dictionary.Entries = append(spec.Dictionary.Entries, DictionaryEntry{Name: "stage"})
	if _, err := ImportCSV(ctx, store, spec, strings.NewReader("pid,t,e,age\n1,1,1,50\n")); err == nil || !strings.Contains(err.Error(), "stage") {
		t.Errorf("unknown dictionary name: %v", err)
	}
	if _, err := ReadDictionary(strings.NewReader("variable,label\n")); err == nil {
		t.Error("bad dictionary header accepted")
	}
}
