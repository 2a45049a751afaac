package node

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// panelDictionary declares age, and egfr and alk as categorical, on test panel "ngs" when
// panel is set.
func panelDictionary(t testing.TB, panel bool) Dictionary {
	t.Helper()
	p := ""
	if panel {
		p = `, "panel": "ngs"`
	}
	d, err := ReadDictionary(strings.NewReader(`{"version": "1", "variables": [
		{"name": "age", "type": "numeric", "min": 18, "max": 100},
		{"name": "egfr", "categories": ["mutant", "wild-type"]` + p + `},
		{"name": "alk", "categories": ["rearranged", "negative"]` + p + `}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func panelSpec(t testing.TB, panel bool) ImportSpec {
	return ImportSpec{Study: "p", IDColumn: "id", DataCut: "2026-01-01", Dictionary: panelDictionary(t, panel),
		Endpoints: []EndpointSpec{{Name: "OS", TimeColumn: "t", EventColumn: "e"}}}
}

// panelCSV is n patients of whom about a third were not tested (egfr and alk both empty);
// the tested are egfr-mutant 40%, alk-rearranged 30%; ages 40–90 to one decimal, so many
// patients have an age no other has (the attack test's targets); 70% died.
func panelCSV(n int) string {
	r := rand.New(rand.NewPCG(13, 15))
	var b strings.Builder
	b.WriteString("id,t,e,age,egfr,alk\n")
	for i := range n {
		egfr, alk := "", ""
		if r.Float64() < 0.67 {
			egfr, alk = "wild-type", "negative"
			if r.Float64() < 0.4 {
				egfr = "mutant"
			}
			if r.Float64() < 0.3 {
				alk = "rearranged"
			}
		}
		event := 0
		if r.Float64() < 0.7 {
			event = 1
		}
		fmt.Fprintf(&b, "%d,%d,%d,%.1f,%s,%s\n", i+1, 30+r.IntN(1500), event, 40+float64(r.IntN(500))/10, egfr, alk)
	}
	return b.String()
}

func panelEngine(t testing.TB, panel bool, csv string) *Engine {
	t.Helper()
	ctx := context.Background()
	store := openStore(t, filepath.Join(t.TempDir(), "p.db"))
	if _, err := ImportCSV(ctx, store, panelSpec(t, panel), strings.NewReader(csv)); err != nil {
		t.Fatal(err)
	}
	pol := DefaultPolicy()
	e, err := NewEngine(ctx, store, Config{InsecureOpen: true, Policy: &pol})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// A panel is a name shared by two or more variables: one alone, one on an endpoint, or a
// padded name is refused when the dictionary is read.
func TestReadDictionaryPanel(t *testing.T) {
	for _, bad := range []string{
		`{"variables": [{"name": "x", "categories": ["a"], "panel": "ngs"}, {"name": "y", "categories": ["a"]}]}`,                  // one variable
		`{"variables": [{"name": "x", "categories": ["a"], "panel": "ngs"}, {"name": "y", "categories": ["a"], "panel": "ngs "}]}`, // padded
		`{"variables": [{"name": "x", "categories": ["a"], "panel": "ngs"}], "endpoints": [{"name": "OS", "panel": "ngs"}]}`,       // on an endpoint (unknown field)
	} {
		if _, err := ReadDictionary(strings.NewReader(bad)); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
	d := panelDictionary(t, true)
	if d.Entries[0].Panel != "" || d.Entries[1].Panel != "ngs" || d.Entries[2].Panel != "ngs" {
		t.Errorf("panels read: %+v", d.Entries)
	}
	// An endpoint entry given a panel in Go (not from JSON) is refused too.
	d.Entries = append(d.Entries, DictionaryEntry{Name: "OS", Endpoint: true, Panel: "ngs"})
	if err := d.Check(); err == nil {
		t.Error("an endpoint on a panel accepted")
	}
}

// A row where a panel is partly missing is refused with its line and the variable that is
// missing; the import is all or nothing (the study imported before is kept unchanged). A good
// import stores the panel, publishes it in the dictionary and its hash, so a re-import that
// drops it needs a new study version.
func TestImportPanel(t *testing.T) {
	ctx := context.Background()
	store := openStore(t, filepath.Join(t.TempDir(), "p.db"))
	spec := panelSpec(t, true)
	good := "id,t,e,age,egfr,alk\n1,10,1,50,mutant,negative\n2,20,0,60,,\n3,30,1,70,wild-type,rearranged\n"
	rep, err := ImportCSV(ctx, store, spec, strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		csv, column, other string
		line               int
	}{
		{"id,t,e,age,egfr,alk\n1,10,1,50,mutant,negative\n2,20,0,60,,\n3,30,1,70,wild-type,\n", "alk", "egfr", 4},
		{"id,t,e,age,egfr,alk\n1,10,1,50,,negative\n2,20,0,60,,\n", "egfr", "alk", 2},
	} {
		_, err := ImportCSV(ctx, store, spec, strings.NewReader(c.csv))
		var ie *ImportError
		if !errors.As(err, &ie) || ie.Line != c.line || ie.Column != c.column || !strings.Contains(err.Error(), c.other) || !strings.Contains(err.Error(), `panel "ngs"`) {
			t.Errorf("partly missing panel: %v, want line %d column %s", err, c.line, c.column)
		}
	}
	st, info, err := store.LoadStudy(ctx, "p")
	if err != nil || st.Len() != 3 || info.Version != rep.Version {
		t.Fatalf("after refused imports: %d patients, version %d (was %d), %v", st.Len(), info.Version, rep.Version, err)
	}
	if st.Variable("egfr").Panel != "ngs" || st.Variable("alk").Panel != "ngs" || st.Variable("age").Panel != "" {
		t.Errorf("stored panels: egfr %q alk %q age %q", st.Variable("egfr").Panel, st.Variable("alk").Panel, st.Variable("age").Panel)
	}
	vars, _ := st.Dictionary()
	if vars[1].Panel != "ngs" {
		t.Errorf("published dictionary: %+v", vars)
	}
	if rep.DictionaryHash == mustImportHash(t, panelSpec(t, false), good) {
		t.Error("the dictionary hash does not cover the panel")
	}
	if _, err := ImportCSV(ctx, store, panelSpec(t, false), strings.NewReader(good)); err == nil || !strings.Contains(err.Error(), "new study version") {
		t.Errorf("dropping the panel under the same version: %v", err)
	}
	// Without a panel declared, the same partly missing row imports.
	mustImportHash(t, panelSpec(t, false), "id,t,e,age,egfr,alk\n1,10,1,50,mutant,\n")
}

// mustImportHash imports csv into a new store and returns the dictionary hash.
func mustImportHash(t *testing.T, spec ImportSpec, csv string) string {
	t.Helper()
	rep, err := ImportCSV(context.Background(), openStore(t, filepath.Join(t.TempDir(), "h.db")), spec, strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	return rep.DictionaryHash
}

// A database written before migration 015 (no panel column) opens, its studies load with no
// panel, and re-importing the same data and dictionary is not a dictionary change.
func TestMigratePanel(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	csv := "id,t,e,age,egfr,alk\n1,10,1,50,mutant,negative\n2,20,0,60,,\n"
	s := openStore(t, path)
	rep, err := ImportCSV(ctx, s, panelSpec(t, false), strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{"ALTER TABLE study_columns DROP COLUMN panel", fmt.Sprintf("PRAGMA user_version = %d", latestSchema(t)-1)} {
		if _, err := raw.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()
	s = openStore(t, path)
	var version int
	s.db.QueryRow("PRAGMA user_version").Scan(&version)
	if version != latestSchema(t) {
		t.Fatalf("schema version %d after open, want %d", version, latestSchema(t))
	}
	st, _, err := s.LoadStudy(ctx, "p")
	if err != nil || st.Len() != 2 || st.Variable("egfr").Panel != "" || st.DictionaryHash() != rep.DictionaryHash {
		t.Fatalf("study after migration: %v (hash %s, was %s)", err, st.DictionaryHash(), rep.DictionaryHash)
	}
	if _, err := ImportCSV(ctx, s, panelSpec(t, false), strings.NewReader(csv)); err != nil {
		t.Errorf("re-import after migration: %v", err)
	}
	if _, err := ImportCSV(ctx, s, panelSpec(t, true), strings.NewReader(csv)); err == nil || !strings.Contains(err.Error(), "new study version") {
		t.Errorf("declaring a panel under the same version: %v", err)
	}
}

// The region algebra knows that the members of a panel are missing together: "egfr present"
// minus "alk present" is empty by definition on the panel, not without it; a third variable
// off the panel is not tied to it.
func TestRegionAlgebraPanel(t *testing.T) {
	dom := func(panel string) *domain {
		return &domain{vars: map[string]*domainVar{
			"egfr": {cats: []string{"mutant", "wild-type"}, missing: true, panel: panel},
			"alk":  {cats: []string{"rearranged", "negative"}, missing: true, panel: panel},
			"pdl1": {cats: []string{"<1", ">=1"}, missing: true},
		}}
	}
	present := func(v string) *protocol.Filter { return &protocol.Filter{Op: protocol.OpPresent, Var: v} }
	missing := func(v string) *protocol.Filter { return &protocol.Filter{Op: protocol.OpMissing, Var: v} }
	a := eq("pdl1", ">=1")
	cases := []struct {
		name         string
		terms        []regionTerm
		panel, other bool // vanishes on the panel, without it
	}{
		{"egfr present − alk present", []regionTerm{{1, present("egfr")}, {-1, present("alk")}}, true, false},
		{"A ∧ egfr present − A ∧ alk present", []regionTerm{{1, and(a, present("egfr"))}, {-1, and(a, present("alk"))}}, true, false},
		{"egfr missing ∧ alk present", []regionTerm{{1, and(missing("egfr"), present("alk"))}}, true, false},
		{"all − egfr missing − alk present", []regionTerm{{1, nil}, {-1, missing("egfr")}, {-1, present("alk")}}, true, false},
		{"egfr present − pdl1 present", []regionTerm{{1, present("egfr")}, {-1, present("pdl1")}}, false, false},
		{"egfr mutant − alk present", []regionTerm{{1, eq("egfr", "mutant")}, {-1, present("alk")}}, false, false},
	}
	for _, c := range cases {
		canon := make([]regionTerm, len(c.terms))
		for i, tm := range c.terms {
			canon[i] = regionTerm{tm.coef, canonFilter(tm.f)}
		}
		for _, p := range []string{"ngs", ""} {
			want := c.other
			if p != "" {
				want = c.panel
			}
			if got := dom(p).vanishes(canon); got != want {
				t.Errorf("%s (panel %q): vanishes %v, want %v", c.name, p, got, want)
			}
		}
	}
}

// The demo's case: KM and Table 1 (each variable's missing cell released), then models on egfr,
// on alk and on both. Every patient minus alk's missing cell minus egfr's complete cases is
// "alk present ∧ egfr missing" (less the converse), empty by the panel only: the models are
// answered on the panel, and refused by the overlap guard on the same data without it.
func TestGuardModelsOnPanel(t *testing.T) {
	ctx := context.Background()
	csv := panelCSV(400)
	for _, panel := range []bool{true, false} {
		e := panelEngine(t, panel, csv)
		ask := func(q protocol.Query) protocol.Reply { q.Study = "p"; return e.Handle(ctx, q) }
		km := query(protocol.KindSurvival)
		km.Endpoint = "OS"
		mustOK(t, ask(km))
		r := mustOK(t, ask(summaryOf("alice", nil, "age", "egfr", "alk")))
		if m := r.Summary.Groups[0].Variables[1].Missing; m.Suppressed || m.N < 100 {
			t.Fatalf("egfr missing cell %+v", m)
		}
		models := []protocol.Reply{ask(coxOn("alice", nil, "egfr")), ask(coxOn("alice", nil, "alk")), ask(coxOn("alice", nil, "egfr", "alk"))}
		if panel {
			for _, r := range models {
				mustOK(t, r)
			}
			continue
		}
		for _, r := range models {
			if r.Error == nil || r.Error.Reason != protocol.ReasonOverlapGuard {
				t.Errorf("without the panel: %+v, want the overlap guard's refusal", r.Error)
			}
		}
	}
}

// Attack: the panel declaration cannot be abused. (1) A dictionary that declares a panel
// falsely — one patient has egfr but lacks alk — is refused at import, so the guard never takes
// two sets for equal that differ by a patient. (2) On a true panel, after Table 1 released
// egfr's and alk's missing cells, an attacker asks for each target x (an age no other patient
// has) sets that equal a released missing or present cell exactly when x was or was not
// tested: alk missing ∧ age ≠ a, egfr missing ∨ age = a, alk present ∨ age = a. Whether each
// is answered, and what it says beside Table 1, must be the same for tested and untested
// targets: count the targets whose testing status the replies give away, and assert none.
func TestAttackPanel(t *testing.T) {
	ctx := context.Background()
	csv := panelCSV(400)
	lines := strings.Split(csv, "\n")
	for i, l := range lines {
		if strings.HasSuffix(l, ",mutant,negative") {
			lines[i] = strings.TrimSuffix(l, "negative")
			break
		}
	}
	_, err := ImportCSV(ctx, openStore(t, filepath.Join(t.TempDir(), "false.db")), panelSpec(t, true), strings.NewReader(strings.Join(lines, "\n")))
	var ie *ImportError
	if !errors.As(err, &ie) || ie.Column != "alk" {
		t.Fatalf("a false panel declaration imported: %v", err)
	}

	e := panelEngine(t, true, csv)
	ls, err := e.study(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	age, egfr := ls.vars["age"].Numeric, ls.vars["egfr"]
	seen := map[float64]int{}
	for _, a := range age {
		seen[a]++
	}
	missing := func(v string) *protocol.Filter { return &protocol.Filter{Op: protocol.OpMissing, Var: v} }
	present := func(v string) *protocol.Filter { return &protocol.Filter{Op: protocol.OpPresent, Var: v} }
	signatures := map[bool]map[string]int{true: {}, false: {}} // tested → signature → targets
	played := map[bool]int{}
	for x := range age {
		tested := egfr.Codes[x] >= 0
		if seen[age[x]] != 1 || played[tested] >= 8 {
			continue
		}
		played[tested]++
		analyst := fmt.Sprintf("mallory%d", x)
		ask := func(q protocol.Query) protocol.Reply { q.Study, q.Analyst = "p", analyst; return e.Handle(ctx, q) }
		t1 := mustOK(t, ask(summaryOf(analyst, nil, "egfr", "alk")))
		egfrMissing := t1.Summary.Groups[0].Variables[0].Missing.N
		var sig []string
		for _, f := range []*protocol.Filter{
			and(missing("alk"), notF(ageIs(age[x]))),
			orF(missing("egfr"), ageIs(age[x])),
			orF(present("alk"), ageIs(age[x])),
		} {
			r := ask(countOf(analyst, f))
			switch {
			case r.Error != nil:
				sig = append(sig, "refused:"+r.Error.Reason)
			case r.Count.Total.Suppressed:
				sig = append(sig, "suppressed")
			default:
				sig = append(sig, fmt.Sprint("Δ", r.Count.Total.N-egfrMissing))
			}
		}
		signatures[tested][strings.Join(sig, " ")]++
	}
	recovered := 0
	for tested, sigs := range signatures {
		for s, n := range sigs {
			if signatures[!tested][s] == 0 {
				recovered += n
			}
		}
	}
	t.Logf("signatures: tested %v, untested %v", signatures[true], signatures[false])
	if played[true] < 5 || played[false] < 5 || recovered != 0 {
		t.Fatalf("%d of %d targets' testing status recovered", recovered, played[true]+played[false])
	}
}
