package app_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

func TestMergeCatalogs(t *testing.T) {
	cats := []protocol.Catalog{
		{Site: "b", Studies: []protocol.StudyCatalog{{Name: "nsclc", DataCut: "2026-10-01", Patients: 1, Suppressed: true,
			Variables: []protocol.Variable{{Name: "stage", Type: protocol.Categorical, Categories: []string{"III", "IV"}}, {Name: "age", Type: protocol.Categorical}},
			Endpoints: []protocol.Endpoint{{Name: "os"}}}}},
		{Site: "a", Studies: []protocol.StudyCatalog{{Name: "nsclc", DataCut: "2026-10-31", Patients: 400,
			Variables: []protocol.Variable{{Name: "stage", Type: protocol.Categorical, Label: "Stage", Categories: []string{"I", "IV"}}, {Name: "age", Type: protocol.Numeric, Unit: "years"}, {Name: "pdl1", Type: protocol.Numeric}},
			Endpoints: []protocol.Endpoint{{Name: "os"}, {Name: "pfs"}}}}},
	}
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	c := app.MergeCatalogs(at, cats, []string{"c"})
	if cats[0].Site != "b" {
		t.Error("MergeCatalogs reordered its input")
	}
	st := c.Study("nsclc")
	if st == nil || !reflect.DeepEqual(st.Sites, []string{"a", "b"}) || st.Patients != 401 || !st.PatientsAtLeast || st.DataCut["b"] != "2026-10-01" {
		t.Fatalf("study %+v", st)
	}
	stage := st.Variable("stage")
	// The sites disagree (each lists its own categories, as nodes did before dictionaries were
	// declared): the first site's order, then what only the other lists.
	if !reflect.DeepEqual(stage.Categories, []string{"I", "IV", "III"}) || stage.Label != "Stage" || stage.MissingAt != nil {
		t.Errorf("stage %+v", stage)
	}
	if pdl1 := st.Variable("pdl1"); !reflect.DeepEqual(pdl1.MissingAt, []string{"b"}) {
		t.Errorf("pdl1 %+v; want missing at b", pdl1)
	}
	if age := st.Variable("age"); age.Type != protocol.Numeric || !reflect.DeepEqual(age.TypeConflict, []string{"b: categorical"}) {
		t.Errorf("age %+v; want a type conflict at b", age)
	}
	if len(st.Endpoints) != 2 || !reflect.DeepEqual(st.Endpoints[1].MissingAt, []string{"b"}) {
		t.Errorf("endpoints %+v", st.Endpoints)
	}
	if !reflect.DeepEqual(c.Missing, []string{"c"}) || c.Study("other") != nil {
		t.Errorf("missing %v", c.Missing)
	}
	// Order of the input does not matter.
	rev := app.MergeCatalogs(at, []protocol.Catalog{cats[1], cats[0]}, []string{"c"})
	if !reflect.DeepEqual(rev, c) {
		t.Error("MergeCatalogs depends on the order of its input")
	}
}

func TestAgeAndAsOf(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		d    time.Duration
		want string
	}{{30 * time.Second, "just now"}, {time.Minute, "1 minute ago"}, {59 * time.Minute, "59 minutes ago"}, {2 * time.Hour, "2 hours ago"}, {25 * time.Hour, "1 day ago"}, {72 * time.Hour, "3 days ago"}} {
		if got := app.Age(now, now.Add(-c.d)); got != c.want {
			t.Errorf("Age(%v) = %q, want %q", c.d, got, c.want)
		}
	}
	p := &app.Provenance{RanAt: now.Add(-72 * time.Hour), Expected: []string{"a", "b"}, Answered: []string{"a", "b"}}
	if got := app.AsOf(now, p); got != "as of 3 days ago, all 2 sites" {
		t.Errorf("AsOf = %q", got)
	}
}

func TestErrors(t *testing.T) {
	if app.ErrorCode(nil) != "" || app.ErrorMessage(nil) != "" {
		t.Error("nil error has a code")
	}
	plain := errors.New("disk on fire")
	if app.ErrorCode(plain) != app.EInternal || app.ErrorMessage(plain) != app.CodeMessage(app.EInternal) {
		t.Error("an uncoded error is not internal")
	}
	e := app.WrapError(app.ENotFound, plain, "result %d is gone", 7)
	wrapped := errors.Join(errors.New("context"), e)
	if app.ErrorCode(wrapped) != app.ENotFound || app.ErrorMessage(wrapped) != "result 7 is gone" || !errors.Is(wrapped, plain) {
		t.Errorf("wrapped: %v", wrapped)
	}
	for _, code := range []string{app.EInvalid, app.ENotFound, app.EUnavailable, app.ERefusedByPolicy, app.EInternal, app.EConflict} {
		if m := app.CodeMessage(code); m == "" || m == app.CodeMessage("bogus") {
			t.Errorf("code %s has no message of its own", code)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"nats://alice:s3cret@hub.example.org:4222": "nats://hub.example.org:4222",
		"nats://token@hub:4222":                    "nats://hub:4222",
		"nats://hub:4222":                          "nats://hub:4222",
		"demo":                                     "demo",
		// A cluster list: every URL loses its password, not only the first.
		"nats://a:s1@h1:4222,nats://b:s2@h2:4222":   "nats://h1:4222,nats://h2:4222",
		"nats://h1:4222, nats://a:s@h2 ,tls://t@h3": "nats://h1:4222, nats://h2 ,tls://h3",
		"nats://a:s@h1,nats://h2":                   "nats://h1,nats://h2",
		"Hospital network, nats://a:s@h1":           "Hospital network, nats://h1",
		"":                                          "",
	} {
		if got := app.RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStandingText(t *testing.T) {
	study := []protocol.StudyCatalog{{Name: "lung"}}
	cat := app.MergeCatalogs(time.Now(), []protocol.Catalog{
		{Site: "a", Studies: study, You: &protocol.AnalystBudget{Name: "dora", Role: "dp", QueriesLeft: 480,
			RhoLeftToday: map[string]float64{"lung": 0.185}, RhoLeftTotal: map[string]float64{"lung": 1.9}}},
		{Site: "b", Studies: study, You: &protocol.AnalystBudget{Name: "dora", Role: "dp", QueriesLeft: 499,
			RhoLeftToday: map[string]float64{"lung": 0.2}, RhoLeftTotal: map[string]float64{"lung": 1.5}}},
		{Site: "c", Studies: study, You: &protocol.AnalystBudget{Name: "dora", Role: "trusted", QueriesLeft: -1}},
		{Site: "open", Studies: study},
		{Site: "d", Studies: []protocol.StudyCatalog{{Name: "other"}}, You: &protocol.AnalystBudget{Role: "dp", QueriesLeft: 1}},
	}, nil)
	want := "Your standing: dp at 2 of 3 sites · trusted at 1 of 3 sites · 480 queries left today · ρ 0.185 left today, 1.5 in all (the smallest of 2 sites)"
	if got := cat.StandingText("lung"); got != want {
		t.Errorf("StandingText =\n%q, want\n%q", got, want)
	}
	if got := cat.StandingText("nothing"); got != "" {
		t.Errorf("a study no site tells about: %q", got)
	}
}

// Sites of one study should publish one declared dictionary: the merge keeps its category
// order and range, and says when sites disagree (another version, another dictionary under a
// hash that does not describe it, a study imported before dictionaries were declared).
func TestMergeCatalogsDictionaries(t *testing.T) {
	vars := []protocol.Variable{{Name: "grade", Type: protocol.Categorical, Categories: []string{"low", "mid", "high"}},
		{Name: "age", Type: protocol.Numeric, Min: ptr(18.0), Max: ptr(100.0)}}
	eps := []protocol.Endpoint{{Name: "OS"}}
	study := func(version string, vars []protocol.Variable, hash string) protocol.StudyCatalog {
		return protocol.StudyCatalog{Name: "s", Patients: 100, StudyVersion: version, Variables: vars, Endpoints: eps, DictionaryHash: hash}
	}
	h1 := protocol.DictionaryHash("1", vars, eps)
	agree := []protocol.Catalog{
		{Site: "a", Studies: []protocol.StudyCatalog{study("1", vars, h1)}},
		{Site: "b", Studies: []protocol.StudyCatalog{study("1", vars, h1)}},
	}
	st := app.MergeCatalogs(time.Now(), agree, nil).Study("s")
	if w := st.DictionaryWarning(); w != "" || len(st.Dictionaries) != 1 || st.Dictionaries[0].Hash != h1 {
		t.Errorf("agreeing sites: warning %q, dictionaries %+v", w, st.Dictionaries)
	}
	if g := st.Variable("grade"); !reflect.DeepEqual(g.Categories, []string{"low", "mid", "high"}) {
		t.Errorf("grade %v, want the declared order", g.Categories)
	}
	if a := st.Variable("age"); a.Min == nil || *a.Min != 18 || a.Max == nil || *a.Max != 100 {
		t.Errorf("age range %v..%v", a.Min, a.Max)
	}

	other := append([]protocol.Variable(nil), vars...)
	other[0] = protocol.Variable{Name: "grade", Type: protocol.Categorical, Categories: []string{"low", "high"}}
	for _, c := range []struct {
		name string
		site protocol.StudyCatalog
		want []string
	}{
		{"new version", study("2", other, protocol.DictionaryHash("2", other, eps)), []string{"2 different dictionaries", "version 2", "version 1", ": c"}},
		{"same version, other dictionary", study("1", other, protocol.DictionaryHash("1", other, eps)), []string{"2 different dictionaries", ": c"}},
		{"a hash that does not describe the list", study("1", other, h1), []string{"2 different dictionaries", "does not match at c"}},
		{"imported before dictionaries", study("", other, ""), []string{"no declared version", "not declared"}},
	} {
		cats := append(append([]protocol.Catalog(nil), agree...), protocol.Catalog{Site: "c", Studies: []protocol.StudyCatalog{c.site}})
		st := app.MergeCatalogs(time.Now(), cats, nil).Study("s")
		w := st.DictionaryWarning()
		for _, want := range c.want {
			if !strings.Contains(w, want) {
				t.Errorf("%s: warning %q lacks %q", c.name, w, want)
			}
		}
		if len(st.Dictionaries) != 2 || !reflect.DeepEqual(st.Dictionaries[0].Sites, []string{"a", "b"}) {
			t.Errorf("%s: dictionaries %+v", c.name, st.Dictionaries)
		}
	}
}

func ptr[T any](x T) *T { return &x }

// Kaplan–Meier groups come out in the study's declared order (the order the sites list them),
// not sorted by name: pdl1 <1, 1-49, >=50 (sorted would be 1-49, <1, >=50).
func TestKMGroupsInDeclaredOrder(t *testing.T) {
	group := func(name string, n int) protocol.SurvivalGroup {
		return protocol.SurvivalGroup{Group: name, Time: []float64{10, 20}, Events: []int{n, 1}, Censor: []int{1, n}}
	}
	reply := func(site string, groups ...protocol.SurvivalGroup) protocol.Reply {
		return protocol.Reply{Version: protocol.Version, Site: site, Kind: protocol.KindSurvival,
			Survival: &protocol.SurvivalReply{Endpoint: "OS", Groups: groups}}
	}
	r := &app.Result{Request: app.Request{Kind: protocol.KindSurvival, Study: "s", Endpoint: "OS", GroupBy: "pdl1"},
		Rounds: []app.Round{{Replies: []protocol.Reply{
			reply("a", group("<1", 5), group(">=50", 6)), // a has no 1-49 group
			reply("b", group("<1", 5), group("1-49", 7), group(">=50", 6)),
		}}}}
	if err := app.Render(r); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range r.KM.Groups {
		got = append(got, g.Group)
	}
	if !reflect.DeepEqual(got, []string{"<1", "1-49", ">=50"}) {
		t.Errorf("groups %v, want <1, 1-49, >=50", got)
	}
}

// Table 1's group columns come in the study's declared order too.
func TestSummaryColumnsInDeclaredOrder(t *testing.T) {
	group := func(name string, n int) protocol.GroupSummary {
		return protocol.GroupSummary{Group: name, N: protocol.Count{N: n}, Variables: []protocol.VariableSummary{
			{Variable: "age", N: protocol.Count{N: n}, Missing: protocol.Count{}, Sum: float64(60 * n), SumSq: float64(3700 * n)}}}
	}
	reply := func(site string, groups ...protocol.GroupSummary) protocol.Reply {
		return protocol.Reply{Version: protocol.Version, Site: site, Kind: protocol.KindSummary, Policy: protocol.PolicyEffects{MinCell: 5},
			Summary: &protocol.SummaryReply{Groups: groups}}
	}
	r := &app.Result{Request: app.Request{Kind: protocol.KindSummary, Study: "s", GroupBy: "pdl1", Variables: []string{"age"}},
		Rounds: []app.Round{{Replies: []protocol.Reply{
			reply("a", group("<1", 20), group(">=50", 30)),
			reply("b", group("<1", 20), group("1-49", 40), group(">=50", 30)),
		}}}}
	if err := app.Render(r); err != nil {
		t.Fatal(err)
	}
	if got := r.Summary.Table.Columns; len(got) != 4 || !reflect.DeepEqual(got[:3], []string{"<1", "1-49", ">=50"}) {
		t.Errorf("columns %v, want <1, 1-49, >=50, overall", got)
	}
}
