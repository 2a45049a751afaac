package node

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/oncofed/oncofed/protocol"
)

// reimportLung re-imports the lung study into store from lung.csv with its rows in reverse
// order (a new extract of the same patients, sorted otherwise) and, when extra is not "",
// that line appended (a patient added by the new data cut).
func reimportLung(t *testing.T, store Store, extra string) {
	t.Helper()
	b, err := os.ReadFile(lungCSV)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	body := slices.Clone(lines[1:])
	slices.Reverse(body)
	if extra != "" {
		body = append(body, extra)
	}
	path := filepath.Join(t.TempDir(), "lung-recut.csv")
	if err := os.WriteFile(path, []byte(lines[0]+"\n"+strings.Join(body, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := ImportCSV(context.Background(), store, lungSpec, f); err != nil {
		t.Fatal(err)
	}
}

// uniqueAgeSex returns the rows whose (age, sex) no other row has, with the filter that
// names each: what a neighbour or a news story tells about a patient.
func uniqueAgeSex(ls *loadedStudy) (rows []int, who []*protocol.Filter) {
	age, sex := ls.vars["age"].Numeric, ls.vars["sex"]
	key := func(i int) string { return fmt.Sprintf("%g/%d", age[i], sex.Codes[i]) }
	seen := map[string]int{}
	for i := range ls.data.Len() {
		seen[key(i)]++
	}
	for i := range ls.data.Len() {
		if seen[key(i)] == 1 && sex.Codes[i] >= 0 {
			rows = append(rows, i)
			who = append(who, and(ageIs(age[i]), eq("sex", sex.Categories[sex.Codes[i]])))
		}
	}
	return rows, who
}

// Attack (re-import as a fresh budget): the overlap guard and the sticky feasibility answers
// remember sets per load of a study, so a site's routine re-import (a new data cut of the same
// patients) used to start them afresh. Each attacker gets Σ Karnofsky over all patients, the
// site re-imports, and the attacker asks for the sum over all but the target (a unique age and
// sex): the difference is the target's score. Before the guard's state was carried over the
// re-import by patient id, every target's score was recovered (18 of 18); now the second
// query is refused like any near duplicate, also when the new cut adds a patient, and when the
// study is deleted and imported again. The budget (from the audit log) never depended on the
// load.
func TestAttackReimportResetsGuard(t *testing.T) {
	ctx := context.Background()
	pol := DefaultPolicy()
	for _, variant := range []struct {
		name, extra string
		deleted     bool
	}{
		{"same patients", "", false},
		{"one patient added", `9999,"inst1",100,1,61,"female","ecog1",80,3`, false},
		{"deleted and imported again", "", true},
	} {
		t.Run(variant.name, func(t *testing.T) {
			e, store := lungEngine(t, pol, nil)
			ls := studyOf(t, e)
			rows, who := uniqueAgeSex(ls)
			var targets []string // by patient id: rows move at the re-import
			var names []*protocol.Filter
			for k, x := range rows {
				if math.IsNaN(ls.vars["karno"].Numeric[x]) || len(targets) == 20 {
					continue
				}
				targets, names = append(targets, ls.data.IDs[x]), append(names, who[k])
			}
			if len(targets) < 15 {
				t.Fatalf("only %d targets", len(targets))
			}
			// The patients whose score is known (one is missing it: its n would be suppressed).
			known := &protocol.Filter{Op: protocol.OpPresent, Var: "karno"}
			before := make([]float64, len(targets))
			for k := range targets {
				r := mustOK(t, e.Handle(ctx, summaryOf(fmt.Sprintf("eve-%d", k), known, "karno")))
				before[k] = r.Summary.Groups[0].Variables[0].Sum
			}
			mustOK(t, e.Handle(ctx, summaryOf("olga", known, "karno")))
			if variant.deleted {
				if err := store.DeleteStudy(ctx, "lung"); err != nil {
					t.Fatal(err)
				}
			}
			reimportLung(t, store, variant.extra)
			ls = studyOf(t, e)
			row := map[string]int{}
			for i, id := range ls.data.IDs {
				row[id] = i
			}
			recovered, answered := 0, 0
			for k, id := range targets {
				r := e.Handle(ctx, summaryOf(fmt.Sprintf("eve-%d", k), and(known, notF(names[k])), "karno"))
				if r.Error != nil {
					if r.Error.Reason != protocol.ReasonOverlapGuard {
						t.Fatalf("refused for another reason: %v", r.Error)
					}
					continue
				}
				answered++
				extra := 0.0
				if variant.extra != "" {
					extra = 80 // the added patient's score, known to this attacker
				}
				if before[k]+extra-r.Summary.Groups[0].Variables[0].Sum == ls.vars["karno"].Numeric[row[id]] {
					recovered++
				}
			}
			t.Logf("%d of %d targets' Karnofsky score recovered across the re-import (%d answered)", recovered, len(targets), answered)
			if recovered != 0 || answered != 0 {
				t.Errorf("%d of %d recovered, %d answered", recovered, len(targets), answered)
			}
			// A re-run of the cohort is still answered after the re-import when the patients are
			// the same; with a patient added, the cohort is one patient from the remembered one
			// and is refused (its difference is that patient).
			r := e.Handle(ctx, summaryOf("olga", known, "karno"))
			if variant.extra == "" && r.Error != nil {
				t.Errorf("re-run after a re-import of the same patients refused: %v", r.Error)
			}
			if variant.extra != "" && (r.Error == nil || r.Error.Reason != protocol.ReasonOverlapGuard) {
				t.Errorf("the whole cohort, one patient more than released before the re-import: %+v", r.Error)
			}
		})
	}
}

// Sticky feasibility answers survive a re-import: S is asked, the site re-imports the same
// patients (rows reordered), and S minus one patient gets S's answer, not a fresh draw. With
// noise ±20 and no rounding, a fresh draw differs from S's answer in 40 of 41 cases, so the
// member's S minus x used to be told apart from the non-member's (whose S minus "x" is S).
func TestFeasibilityStickyAcrossReimport(t *testing.T) {
	ctx := context.Background()
	pol := DefaultPolicy()
	pol.FeasibilityRounding, pol.FeasibilityNoise = 1, 20
	differed, tries := 0, 0
	for trial := range 8 {
		e, store := lungEngine(t, pol, nil)
		ls := studyOf(t, e)
		rows, who := uniqueAgeSex(ls)
		// S: the patients aged at most 60+trial, so that every trial draws other noise; x one
		// of them.
		limit := float64(60 + trial)
		s := rng("age", nil, fp(limit))
		var x *protocol.Filter
		for k, i := range rows {
			if ls.vars["age"].Numeric[i] <= limit {
				x = who[k]
			}
		}
		fq := func(f *protocol.Filter) int {
			q := countOf("eve", f)
			q.Feasibility = true
			return mustOK(t, e.Handle(ctx, q)).Count.Total.N
		}
		first := fq(s)
		reimportLung(t, store, "")
		got := fq(and(s, notF(x)))
		tries++
		if got != first {
			differed++
		}
	}
	t.Logf("S minus one patient after a re-import answered differently from S in %d of %d trials", differed, tries)
	if differed != 0 {
		t.Errorf("%d of %d differed: the re-import gave fresh draws", differed, tries)
	}
}

// reimportingStore re-imports the lung study once, just before the next Release: a re-import
// that lands between a query's computation and its release decision.
type reimportingStore struct {
	*SQLiteStore
	t     *testing.T
	armed bool
}

func (s *reimportingStore) Release(ctx context.Context, analyst string, fn func(tx ReleaseTx) error) error {
	if s.armed {
		s.armed = false
		reimportLung(s.t, s.SQLiteStore, "")
	}
	return s.SQLiteStore.Release(ctx, analyst, fn)
}

// A query computed on a load that a re-import replaced before its release is refused
// (unavailable, not charged: nothing was released), since its sets would be recorded against
// the old load after the guard's state moved to the new one; asked again, it is decided on the
// new load, where the remembered sets are.
func TestReleaseOnReplacedLoad(t *testing.T) {
	ctx := context.Background()
	pol := DefaultPolicy()
	_, sq := lungEngine(t, pol, nil)
	store := &reimportingStore{SQLiteStore: sq, t: t}
	e, err := NewEngine(ctx, store, Config{InsecureOpen: true, Policy: &pol})
	if err != nil {
		t.Fatal(err)
	}
	known := &protocol.Filter{Op: protocol.OpPresent, Var: "karno"}
	store.armed = true
	wantCode(t, e.Handle(ctx, summaryOf("eve", known, "karno")), protocol.CodeUnavailable)
	mustOK(t, e.Handle(ctx, summaryOf("eve", known, "karno")))
	store.armed = true
	r := e.Handle(ctx, summaryOf("eve", and(known, rng("age", fp(40), nil)), "karno")) // all but the youngest
	wantCode(t, r, protocol.CodeUnavailable)
	r = e.Handle(ctx, summaryOf("eve", and(known, rng("age", fp(40), nil)), "karno"))
	if r.Error == nil || r.Error.Reason != protocol.ReasonOverlapGuard {
		t.Fatalf("a near duplicate of a set released on the replaced load: %+v", r.Error)
	}
	recs, err := sq.AuditRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		if rec.Code == protocol.CodeUnavailable && rec.Budgeted {
			t.Errorf("a refusal for a replaced load was charged: %+v", rec.AuditEntry)
		}
	}
}
