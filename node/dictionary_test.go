package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// trialDictionary is the study-wide dictionary of the catalog-attack sites, as a file.
const trialDictionary = `{"study": "trial", "version": "1",
 "variables": [
  {"name": "cancer", "label": "Primary cancer", "categories": ["lung", "breast", "colon", "prostate"]},
  {"name": "sex", "categories": ["female", "male"]},
  {"name": "stage", "label": "Stage", "categories": ["I", "II", "III", "IV"]},
  {"name": "age", "type": "numeric", "unit": "years", "min": 18, "max": 100}],
 "endpoints": [{"name": "OS", "label": "Overall survival"}]}`

// cell is a number of identical patients of a synthetic site.
type cell struct {
	cancer, sex, stage string
	n                  int
}

// trialCSV writes a site's patients, cell by cell.
func trialCSV(cells []cell) string {
	var b strings.Builder
	b.WriteString("id,time,event,cancer,sex,stage,age\n")
	id := 0
	for _, c := range cells {
		for k := 0; k < c.n; k++ {
			id++
			fmt.Fprintf(&b, "p%d,%d,%d,%s,%s,%s,%d\n", id, 30+7*id, id%2, c.cancer, c.sex, c.stage, 40+id%40)
		}
	}
	return b.String()
}

// trialSites are the sites of one study: a one-patient and a three-patient site, two
// mid-sized sites lacking prostate cancer and (one of them) stage IV, and a big one.
var trialSites = map[string][]cell{
	"solo": {{"lung", "male", "III", 1}},
	"trio": {{"breast", "female", "I", 1}, {"breast", "female", "II", 1}, {"colon", "male", "IV", 1}},
	"mid": {{"lung", "male", "I", 5}, {"lung", "male", "II", 5}, {"lung", "male", "III", 5},
		{"lung", "female", "I", 5}, {"lung", "female", "II", 5}, {"lung", "female", "III", 5},
		{"breast", "female", "I", 10}, {"breast", "female", "II", 9}, {"breast", "female", "III", 9},
		{"colon", "male", "II", 2}},
	"big": {{"lung", "male", "I", 5}, {"lung", "male", "II", 5}, {"lung", "male", "III", 5}, {"lung", "male", "IV", 5},
		{"lung", "female", "I", 5}, {"lung", "female", "II", 5}, {"lung", "female", "III", 5}, {"lung", "female", "IV", 5},
		{"breast", "female", "I", 10}, {"breast", "female", "II", 10}, {"breast", "female", "III", 10}, {"breast", "female", "IV", 10},
		{"colon", "male", "I", 4}, {"colon", "male", "II", 4}, {"colon", "male", "III", 4}, {"colon", "male", "IV", 4},
		{"colon", "female", "I", 4}, {"colon", "female", "II", 4}, {"colon", "female", "III", 4}, {"colon", "female", "IV", 4},
		{"prostate", "male", "IV", 3}},
}

func init() {
	// mid4 is mid with three stage IV patients: a rare stage where mid has none.
	trialSites["mid4"] = append(slices.Clone(trialSites["mid"]), cell{"lung", "male", "IV", 3})
}

// trueCount is the number of a site's patients with variable v = category c.
func trueCount(cells []cell, v, c string) int {
	n := 0
	for _, x := range cells {
		if map[string]string{"cancer": x.cancer, "sex": x.sex, "stage": x.stage}[v] == c {
			n += x.n
		}
	}
	return n
}

// trialEngines imports every trial site into its own database under the default policy.
func trialEngines(t *testing.T) map[string]*Engine {
	t.Helper()
	ctx := context.Background()
	dict, err := ReadDictionary(strings.NewReader(trialDictionary))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	engines := map[string]*Engine{}
	for site, cells := range trialSites {
		store := openStore(t, filepath.Join(dir, site+".db"))
		spec := ImportSpec{Study: "trial", IDColumn: "id", Site: site, DataCut: "2026-06-30", Dictionary: dict,
			Endpoints: []EndpointSpec{{Name: "OS", TimeColumn: "time", EventColumn: "event"}}}
		if _, err := ImportCSV(ctx, store, spec, strings.NewReader(trialCSV(cells))); err != nil {
			t.Fatalf("%s: %v", site, err)
		}
		pol := DefaultPolicy()
		e, err := NewEngine(ctx, store, Config{InsecureOpen: true, Policy: &pol})
		if err != nil {
			t.Fatal(err)
		}
		engines[site] = e
	}
	return engines
}

// response is what an attacker observes of one answer: the reply's bytes (the same query ID
// every time), and from the audit log whether it was charged to the budget and its outcome.
type response struct {
	reply            string
	budgeted         bool
	outcome, code    string
	releasedOrReason string
}

func observe(t *testing.T, e *Engine, q protocol.Query) response {
	t.Helper()
	ctx := context.Background()
	raw, _ := json.Marshal(q)
	out := e.HandleJSON(ctx, raw)
	recs, err := e.store.AuditRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	last := recs[len(recs)-1]
	var r protocol.Reply
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	return response{reply: string(out), budgeted: last.Budgeted, outcome: last.Outcome, code: last.Code, releasedOrReason: last.Reason}
}

// Attack (class 6, the catalog): several sites of one study, among them a one-patient and a
// three-patient site and sites lacking some categories. The attacker reads every catalog and
// asks, at every site, a count of each declared category. Before declared dictionaries, a
// site's catalog listed only the categories it held (the one-patient site told its patient's
// cancer, sex and stage) and a query for an absent category was refused as not_found at no
// budget cost. Now the attacker learns nothing: the catalogs' dictionary parts are the same
// bytes at every site, and at each site the answers for every category holding fewer than
// min_cohort patients — absent or rare — are the same bytes, the same audit outcome and the
// same budget charge.
func TestAttackCatalogCategories(t *testing.T) {
	engines := trialEngines(t)
	sites := slices.Sorted(func(yield func(string) bool) {
		for s := range engines {
			if !yield(s) {
				return
			}
		}
	})
	dict, _ := ReadDictionary(strings.NewReader(trialDictionary))
	declared := map[string][]string{}
	for _, e := range dict.Entries {
		if e.Categories != nil {
			declared[e.Name] = e.Categories
		}
	}

	// 1. Catalogs.
	learned := 0
	var first []byte
	for _, site := range sites {
		r := mustOK(t, engines[site].Handle(context.Background(), protocol.Query{Version: protocol.Version, Kind: protocol.KindCatalog, ID: "c"}))
		sc := r.Catalog.Studies[0]
		for _, v := range sc.Variables {
			if v.Categories != nil && !slices.Equal(v.Categories, declared[v.Name]) {
				learned++ // the list tells which categories this site holds
			}
		}
		part, _ := json.Marshal(struct {
			V string
			H string
			X []protocol.Variable
			E []protocol.Endpoint
		}{sc.StudyVersion, sc.DictionaryHash, sc.Variables, sc.Endpoints})
		if first == nil {
			first = part
		} else if !bytes.Equal(part, first) {
			t.Errorf("%s: catalog dictionary %s differs from %s", site, part, first)
		}
		if sc.DictionaryHash == "" || sc.DictionaryHash != protocol.DictionaryHash(sc.StudyVersion, sc.Variables, sc.Endpoints) || sc.StudyVersion != "1" {
			t.Errorf("%s: version %q hash %q do not describe the dictionary", site, sc.StudyVersion, sc.DictionaryHash)
		}
		if n := len(trialSites[site]); n > 0 && (site == "solo" || site == "trio") {
			if !sc.Suppressed || sc.Patients != 0 {
				t.Errorf("%s: catalog size %d (suppressed %v), want <min_cohort", site, sc.Patients, sc.Suppressed)
			}
		}
	}

	// 2. A count per declared category per site: every category below min_cohort, absent or
	// not, must look alike; categories known to be absent and rare ones both occur.
	minCohort := DefaultPolicy().MinCohort
	var absent, rare int
	for _, site := range sites {
		var small *response
		smallName := ""
		for _, v := range []string{"cancer", "sex", "stage"} {
			for _, c := range declared[v] {
				n := trueCount(trialSites[site], v, c)
				q := protocol.Query{Version: protocol.Version, Kind: protocol.KindCount, ID: "q", Analyst: "mallory", Study: "trial", Cohort: eq(v, c)}
				r := observe(t, engines[site], q)
				if strings.Contains(r.reply, protocol.CodeNotFound) {
					t.Errorf("%s: %s=%s refused as not_found: %s", site, v, c, r.reply)
				}
				if n >= minCohort {
					continue
				}
				if n == 0 {
					absent++
				} else {
					rare++
				}
				if small == nil {
					small, smallName = &r, fmt.Sprintf("%s=%s (%d)", v, c, n)
				} else if r != *small {
					learned++
					t.Errorf("%s: %s=%s (%d patients) answered %+v, but %s %+v", site, v, c, n, r, smallName, *small)
				}
			}
		}
		if small != nil && (!small.budgeted || small.code != protocol.CodeRefusedByPolicy) {
			t.Errorf("%s: small cohorts answered %+v, want a budgeted refused_by_policy", site, *small)
		}
	}
	if absent < 10 || rare < 10 {
		t.Fatalf("the sites have %d absent and %d rare categories: the test needs both", absent, rare)
	}
	if learned != 0 {
		t.Errorf("the attacker learned %d facts", learned)
	}

	// 3. Unknown categories stay not_found (the dictionary is public), at every site alike.
	for _, site := range sites {
		q := protocol.Query{Version: protocol.Version, Kind: protocol.KindCount, ID: "q", Analyst: "mallory", Study: "trial", Cohort: eq("cancer", "melanoma")}
		wantCode(t, engines[site].Handle(context.Background(), q), protocol.CodeNotFound)
	}
}

// The same attack through groups and cells: a grouped count, a summary's category cells, a
// survival grouped by a variable with an absent or a rare category, Cox levels.
func TestAttackAbsentCategoryThroughGroups(t *testing.T) {
	ctx := context.Background()
	engines := trialEngines(t)
	for _, site := range []string{"mid", "mid4", "big"} {
		e := engines[site]
		// Grouped count: every group with 0..min_cell-1 patients is suppressed alike.
		q := protocol.Query{Version: protocol.Version, Kind: protocol.KindCount, ID: "q", Analyst: "a-" + site, Study: "trial", GroupBy: "cancer"}
		c := mustOK(t, e.Handle(ctx, q)).Count
		for _, cat := range []string{"lung", "breast", "colon", "prostate"} {
			n := trueCount(trialSites[site], "cancer", cat)
			if got := c.Groups[cat]; n < 5 && got != (protocol.Count{Suppressed: true}) {
				t.Errorf("%s: group cancer=%s (%d patients) released as %+v", site, cat, n, got)
			}
		}
		// Summary cells.
		q = protocol.Query{Version: protocol.Version, Kind: protocol.KindSummary, ID: "q", Analyst: "b-" + site, Study: "trial", Variables: []string{"cancer"}}
		vs := mustOK(t, e.Handle(ctx, q)).Summary.Groups[0].Variables[0]
		for _, cat := range []string{"lung", "breast", "colon", "prostate"} {
			n := trueCount(trialSites[site], "cancer", cat)
			if got := vs.Categories[cat]; n < 5 && got != (protocol.Count{Suppressed: true}) {
				t.Errorf("%s: summary cell cancer=%s (%d patients) released as %+v", site, cat, n, got)
			}
		}
	}
	// Survival by stage: mid has no stage IV, mid4 three; both refused word for word.
	surv := func(site string) protocol.Reply {
		return engines[site].Handle(ctx, protocol.Query{Version: protocol.Version, Kind: protocol.KindSurvival, ID: "q", Analyst: "s", Study: "trial", Endpoint: "OS", GroupBy: "stage"})
	}
	a, b := surv("mid"), surv("mid4")
	if a.Error == nil || b.Error == nil || *a.Error != *b.Error || a.Error.Code != protocol.CodeRefusedByPolicy {
		t.Errorf("survival by stage: absent IV %+v, rare IV %+v", a.Error, b.Error)
	}
	// When the query itself empties a group (stage in I–III), the group is not asked for:
	// answered at both sites.
	for _, site := range []string{"mid", "mid4"} {
		q := protocol.Query{Version: protocol.Version, Kind: protocol.KindSurvival, ID: "q", Analyst: "s2", Study: "trial", Endpoint: "OS", GroupBy: "stage",
			Cohort: &protocol.Filter{Op: protocol.OpIn, Var: "stage", Values: []string{"I", "II", "III"}}}
		r := mustOK(t, engines[site].Handle(ctx, q))
		var groups []string
		for _, g := range r.Survival.Groups {
			groups = append(groups, g.Group)
		}
		if strings.Join(groups, ",") != "I,II,III" {
			t.Errorf("%s: groups %v, want I,II,III in the declared order", site, groups)
		}
	}
	// Cox levels: an unknown level is not_found; the declared levels, prostate among them,
	// are accepted at a site without prostate cancer exactly as at one with it.
	cox := func(site string, levels []string) protocol.Reply {
		return engines[site].Handle(ctx, protocol.Query{Version: protocol.Version, Kind: protocol.KindCox, ID: "q", Analyst: "c", Study: "trial", Endpoint: "OS",
			Cox: &protocol.CoxRequest{Form: protocol.CoxStratified, Ties: "efron", Covariates: []string{"cancer"}, Levels: map[string][]string{"cancer": levels}}})
	}
	wantCode(t, cox("mid", []string{"lung", "breast", "colon", "melanoma"}), protocol.CodeNotFound)
	for _, site := range []string{"mid", "big"} {
		if r := cox(site, []string{"lung", "breast", "colon", "prostate"}); r.Error != nil && r.Error.Code == protocol.CodeNotFound {
			t.Errorf("%s: declared Cox levels refused as %v", site, r.Error)
		}
	}
}

// The declared order of categories (here not the sorted one) is kept: in the catalog, the
// stored study, the groups of a survival reply and a summary, and the Cox reference level.
func TestDeclaredOrderEndToEnd(t *testing.T) {
	ctx := context.Background()
	var b strings.Builder
	b.WriteString("id,time,event,grade,x\n")
	grades := []string{"low", "mid", "high"}
	for i := 0; i < 90; i++ {
		fmt.Fprintf(&b, "%d,%d,%d,%s,%d\n", i, 10+i, i%3%2, grades[i%3], i%7)
	}
	store := openStore(t, filepath.Join(t.TempDir(), "o.db"))
	spec := ImportSpec{Study: "o", IDColumn: "id", Endpoints: []EndpointSpec{{Name: "OS", TimeColumn: "time", EventColumn: "event"}},
		Dictionary: declare("grade=low,mid,high")}
	if _, err := ImportCSV(ctx, store, spec, strings.NewReader(b.String())); err != nil {
		t.Fatal(err)
	}
	pol := ExactPolicy()
	e, err := NewEngine(ctx, store, Config{InsecureOpen: true, Policy: &pol})
	if err != nil {
		t.Fatal(err)
	}
	want := "low,mid,high"
	cat := mustOK(t, e.Handle(ctx, protocol.Query{Version: protocol.Version, Kind: protocol.KindCatalog})).Catalog
	if got := strings.Join(cat.Studies[0].Variables[0].Categories, ","); got != want {
		t.Errorf("catalog categories %s, want %s", got, want)
	}
	q := protocol.Query{Version: protocol.Version, Kind: protocol.KindSurvival, Study: "o", Endpoint: "OS", GroupBy: "grade"}
	var order []string
	for _, g := range mustOK(t, e.Handle(ctx, q)).Survival.Groups {
		order = append(order, g.Group)
	}
	if got := strings.Join(order, ","); got != want {
		t.Errorf("survival groups %s, want %s", got, want)
	}
	q = protocol.Query{Version: protocol.Version, Kind: protocol.KindSummary, Study: "o", GroupBy: "grade", Variables: []string{"x"}}
	order = nil
	for _, g := range mustOK(t, e.Handle(ctx, q)).Summary.Groups {
		order = append(order, g.Group)
	}
	if got := strings.Join(order, ","); got != want {
		t.Errorf("summary groups %s, want %s", got, want)
	}
	q = protocol.Query{Version: protocol.Version, Kind: protocol.KindCox, Study: "o", Endpoint: "OS",
		Cox: &protocol.CoxRequest{Form: protocol.CoxPooledSums, Ties: "efron", Covariates: []string{"grade"}}}
	if got := strings.Join(mustOK(t, e.Handle(ctx, q)).Cox.Columns, ","); got != "grademid,gradehigh" {
		t.Errorf("cox design %s, want grademid,gradehigh (low, declared first, the reference)", got)
	}
}

// Import refuses what the dictionary does not declare, with line and column, and changes
// nothing; a dictionary cannot change under the same study version.
func TestImportDeclaredRefusals(t *testing.T) {
	ctx := context.Background()
	store := openStore(t, filepath.Join(t.TempDir(), "r.db"))
	dict, err := ReadDictionary(strings.NewReader(`{"version": "1", "variables": [
		{"name": "stage", "categories": ["I", "II", "III", "IV"]},
		{"name": "age", "type": "numeric", "min": 18, "max": 100}]}`))
	if err != nil {
		t.Fatal(err)
	}
	spec := ImportSpec{Study: "s", IDColumn: "id", Endpoints: []EndpointSpec{{Name: "OS", TimeColumn: "t", EventColumn: "e"}}, Dictionary: dict}
	good := "id,t,e,stage,age,ecog\n1,10,1,I,50,0\n2,20,0,IV,60,1\n3,30,1,,70,\n"
	if _, err := ImportCSV(ctx, store, spec, strings.NewReader(good)); err != nil {
		t.Fatal(err)
	}
	before, _, _ := store.LoadStudy(ctx, "s")
	infos, _ := store.Studies(ctx)
	for _, c := range []struct {
		name, csv string
		spec      func(*ImportSpec)
		line      int
		want      []string
	}{
		{"value not declared", "id,t,e,stage,age,ecog\n1,10,1,I,50,0\n2,20,0,IIIA,60,1\n", nil, 3, []string{`"stage"`, `"IIIA"`, "not a declared category"}},
		{"numeric above the range", "id,t,e,stage,age,ecog\n1,10,1,I,50,0\n2,20,0,II,60,1\n3,5,1,II,101,0\n", nil, 4, []string{`"age"`, "101", "outside the declared range [18, 100]"}},
		{"numeric below the range", "id,t,e,stage,age,ecog\n1,10,1,I,17,0\n", nil, 2, []string{`"age"`, "17"}},
		{"declared numeric, not a number", "id,t,e,stage,age,ecog\n1,10,1,I,old,0\n", nil, 2, []string{`"age"`, "not a number"}},
		{"undeclared categorical column", "id,t,e,stage,age,ecog\n1,10,1,I,50,0\n2,20,0,II,60,ecog1\n", nil, 3, []string{`"ecog"`, "--categories ecog=", "dictionary"}},
		{"declared column missing", "id,t,e,age,ecog\n1,10,1,50,0\n", nil, 1, []string{`"stage"`, "not a variable of the file"}},
		{"changed dictionary, same version", good, func(s *ImportSpec) {
			s.Dictionary = Dictionary{Version: "1", Entries: []DictionaryEntry{{Name: "stage", Categories: []string{"I", "II", "III", "IV", "X"}}, {Name: "age", Type: protocol.Numeric, Min: fp(18), Max: fp(100)}}}
		}, 0, []string{"new study version", `"1"`}},
		{"changed range, same version", good, func(s *ImportSpec) {
			s.Dictionary = Dictionary{Version: "1", Entries: []DictionaryEntry{{Name: "stage", Categories: []string{"I", "II", "III", "IV"}}, {Name: "age", Type: protocol.Numeric, Min: fp(0), Max: fp(120)}}}
		}, 0, []string{"new study version"}},
		{"version flag disagreeing with the dictionary", good, func(s *ImportSpec) { s.StudyVersion = "2" }, 0, []string{`declares version "1"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			sp := spec
			if c.spec != nil {
				c.spec(&sp)
			}
			_, err := ImportCSV(ctx, store, sp, strings.NewReader(c.csv))
			if err == nil {
				t.Fatal("imported")
			}
			var ie *ImportError
			if c.line > 0 && (!errors.As(err, &ie) || ie.Line != c.line) {
				t.Errorf("error %v, want line %d", err, c.line)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if ErrorCode(err) != protocol.CodeInvalid {
				t.Errorf("code %s, want invalid", ErrorCode(err))
			}
			after, _, _ := store.LoadStudy(ctx, "s")
			now, _ := store.Studies(ctx)
			if now[0] != infos[0] || !slices.Equal(after.Variable("stage").Categories, before.Variable("stage").Categories) {
				t.Errorf("store changed: %+v → %+v", infos[0], now[0])
			}
		})
	}
	// The same dictionary re-imported under the same version: accepted. A changed one under a
	// new version: accepted, and published with the new version and hash.
	if _, err := ImportCSV(ctx, store, spec, strings.NewReader(good)); err != nil {
		t.Fatalf("re-import of the same dictionary: %v", err)
	}
	spec.Dictionary = Dictionary{Version: "2", Entries: []DictionaryEntry{{Name: "stage", Categories: []string{"I", "II", "III", "IV", "X"}}}}
	rep, err := ImportCSV(ctx, store, spec, strings.NewReader(good))
	if err != nil {
		t.Fatalf("new version: %v", err)
	}
	now, _ := store.Studies(ctx)
	if now[0].StudyVersion != "2" || now[0].DictionaryHash != rep.DictionaryHash || rep.DictionaryHash == infos[0].DictionaryHash {
		t.Errorf("after the new version: %+v (report hash %s)", now[0], rep.DictionaryHash)
	}
	if v := func() *VariableData { st, _, _ := store.LoadStudy(ctx, "s"); return st.Variable("age") }(); v.Min != nil || v.Max != nil {
		t.Errorf("age range %v..%v after a version declaring none", v.Min, v.Max)
	}
}

// Malformed dictionaries are refused before any data is read; the old name,label,unit CSV
// still reads (labels only).
func TestReadDictionary(t *testing.T) {
	for _, bad := range []string{
		`{"version": "1", "variables": [{"name": "x", "categorie": ["a"]}]}`,          // unknown field
		`{"variables": [{"name": "x", "type": "numeric", "categories": ["a", "b"]}]}`, // categories of a numeric
		`{"variables": [{"name": "x", "categories": ["a", "a"]}]}`,                    // repeated category
		`{"variables": [{"name": "x", "categories": []}]}`,                            // none
		`{"variables": [{"name": "x", "type": "categorical"}]}`,                       // categorical without them
		`{"variables": [{"name": "x", "min": 5, "max": 1}]}`,                          // empty range
		`{"variables": [{"name": "x", "type": "date"}]}`,                              // unknown type
		`{"variables": [{"name": "x", "min": 1}, {"name": "x", "max": 2}]}`,           // twice
		`{"endpoints": [{"name": "OS", "unit": "months"}]}`,                           // not days
		`{"variables": [{"name": "x", "categories": [" a"]}]}`,                        // padded
		`{"variables": [{"name": "x", "categories": ["a"], "discrete": true}]}`,       // discrete categories
		`{"variables": [{"name": "x", "discrete": true}]}`,                            // discrete without a range
		`{"variables": [{"name": "x", "min": 0.5, "max": 4, "discrete": true}]}`,      // not whole bounds
		`{"variables": [{"name": "x", "min": 0, "max": 25, "discrete": true}]}`,       // 26 values
		"variable,label\n", // old header misspelt
	} {
		if _, err := ReadDictionary(strings.NewReader(bad)); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
	d, err := ReadDictionary(strings.NewReader("name,label,unit\nage,Age,years\n"))
	if err != nil || len(d.Entries) != 1 || d.Entries[0].Label != "Age" || d.Entries[0].Categories != nil {
		t.Errorf("old CSV: %+v %v", d, err)
	}
	if err := d.AddCategories("age", []string{"a"}); err != nil {
		t.Errorf("categories for an entry with a label only: %v", err)
	}
	if err := d.AddCategories("age", []string{"b"}); err == nil {
		t.Error("categories declared twice accepted")
	}
}

// A discrete variable's values are whole numbers of its declared range: a fraction is refused
// with its line, and the flag is stored, published in the catalog and part of the dictionary
// hash (a re-import changing it needs a new version).
func TestImportDiscrete(t *testing.T) {
	ctx := context.Background()
	store := openStore(t, filepath.Join(t.TempDir(), "d.db"))
	dict, err := ReadDictionary(strings.NewReader(`{"version": "1", "variables": [
		{"name": "ecog", "type": "numeric", "unit": "points", "min": 0, "max": 4, "discrete": true}]}`))
	if err != nil {
		t.Fatal(err)
	}
	spec := ImportSpec{Study: "s", IDColumn: "id", Endpoints: []EndpointSpec{{Name: "OS", TimeColumn: "t", EventColumn: "e"}}, Dictionary: dict}
	_, err = ImportCSV(ctx, store, spec, strings.NewReader("id,t,e,ecog\n1,10,1,0\n2,20,0,1.5\n"))
	var ie *ImportError
	if !errors.As(err, &ie) || ie.Line != 3 || ie.Column != "ecog" || !strings.Contains(err.Error(), "not a whole number") {
		t.Fatalf("a fraction of a discrete variable: %v", err)
	}
	rep, err := ImportCSV(ctx, store, spec, strings.NewReader("id,t,e,ecog\n1,10,1,0\n2,20,0,4\n3,30,1,\n"))
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := store.LoadStudy(ctx, "s")
	if err != nil || !st.Variable("ecog").Discrete {
		t.Fatalf("stored ecog not discrete: %+v, %v", st.Variable("ecog"), err)
	}
	vars, _ := st.Dictionary()
	if !vars[0].Discrete {
		t.Errorf("the dictionary as published: %+v", vars[0])
	}
	spec.Dictionary.Entries[0].Discrete = false
	if _, err := ImportCSV(ctx, store, spec, strings.NewReader("id,t,e,ecog\n1,10,1,0\n")); err == nil || !strings.Contains(err.Error(), "new study version") {
		t.Errorf("dropping discrete under the same version: %v", err)
	}
	plain := protocol.DictionaryHash("1", []protocol.Variable{{Name: "ecog", Type: protocol.Numeric, Unit: "points", Min: fp(0), Max: fp(4)}}, []protocol.Endpoint{{Name: "OS"}})
	if rep.DictionaryHash == plain {
		t.Error("the dictionary hash does not cover discrete")
	}
}
