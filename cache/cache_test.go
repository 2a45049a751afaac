package cache

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

var t0 = time.Date(2026, 11, 20, 14, 2, 0, 0, time.UTC)

func openTemp(t testing.TB, opts ...Option) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cache.db")
	db, err := Open(context.Background(), path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

// rawQuery opens path with a plain connection, for checks behind the cache's back.
func rawInt(t testing.TB, path, q string) int {
	t.Helper()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var v int
	if err := raw.QueryRow(q).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

func rawExec(t testing.TB, path, q string) {
	t.Helper()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// storedAsEncoded checks that a loaded result's rounds carry each reply's stored JSON, which
// for a result built in code is the reply as encoding/json writes it, and returns the rounds
// without it (as they were saved).
func storedAsEncoded(t *testing.T, rounds []app.Round) []app.Round {
	t.Helper()
	out := make([]app.Round, len(rounds))
	for i, r := range rounds {
		if len(r.ReplyJSON) != len(r.Replies) {
			t.Fatalf("round %d: %d reply JSONs for %d replies", i, len(r.ReplyJSON), len(r.Replies))
		}
		for j, b := range r.ReplyJSON {
			want, err := json.Marshal(r.Replies[j])
			if err != nil || string(b) != string(want) {
				t.Errorf("round %d reply %d: stored %.80q…, want %.80q…", i, j, b, want)
			}
		}
		out[i] = app.Round{Query: r.Query, Replies: r.Replies}
	}
	return out
}

// testResult builds a two-site survival result with the given number of rounds.
func testResult(name string, ranAt time.Time, rounds int) *app.Result {
	req := app.Request{Kind: protocol.KindSurvival, Study: "lung", Endpoint: "os", GroupBy: "sex",
		Cohort: &protocol.Filter{Op: protocol.OpEq, Var: "ecog", Value: "ecog1"}, Landmarks: []float64{365}}
	r := &app.Result{Name: name, Network: "demo", Request: req}
	for i := 0; i < rounds; i++ {
		q := protocol.Query{Version: protocol.Version, Kind: protocol.KindSurvival, ID: fmt.Sprintf("q%d", i), Study: "lung", Endpoint: "os", GroupBy: "sex"}
		round := app.Round{Query: q}
		for _, site := range []string{"inst1", "inst3"} {
			trunc := 900.5
			round.Replies = append(round.Replies, protocol.Reply{Version: protocol.Version, QueryID: q.ID, Site: site, Kind: q.Kind,
				Policy: protocol.PolicyEffects{BinDays: 7, MinCell: 5, TruncatedAfter: &trunc, Notes: []string{"tail truncated"}},
				Survival: &protocol.SurvivalReply{Endpoint: "os", Groups: []protocol.SurvivalGroup{
					{Group: "female", Time: []float64{0.1 + float64(i), 1.0 / 3, 7e-300}, Events: []int{1, 2, 0}, Censor: []int{0, 1, 4}},
					{Group: "male", Time: []float64{14}, Events: []int{3}, Censor: []int{0}},
				}, MissingGroup: protocol.Count{N: 0, Suppressed: true}}})
		}
		r.Rounds = append(r.Rounds, round)
	}
	r.Provenance = app.Provenance{RanAt: ranAt, Elapsed: 1234 * time.Millisecond, Expected: []string{"inst1", "inst3", "inst5"},
		Answered: []string{"inst1", "inst3"}, Missing: []string{"inst5"},
		Refused:    []app.SiteProblem{{Site: "inst7", Code: protocol.CodeRefusedByPolicy, Message: "cohort below 10"}},
		Sites:      []app.SiteProvenance{{Site: "inst1", DataCut: "2026-10-31", Policy: protocol.PolicyEffects{BinDays: 7}}},
		AppVersion: app.Version, ProtocolVersion: protocol.Version, ContentHash: app.ContentHash(req, r.Rounds)}
	return r
}

func TestOpenFromEmpty(t *testing.T) {
	db, path := openTemp(t)
	if db.MovedAside != "" {
		t.Errorf("MovedAside = %q for a new cache", db.MovedAside)
	}
	db.Close()
	if v := rawInt(t, path, "PRAGMA user_version"); v != SchemaVersion() || v < 2 {
		t.Errorf("user_version = %d, want %d (≥ 2)", v, SchemaVersion())
	}
	if id := rawInt(t, path, "PRAGMA application_id"); id != ApplicationID {
		t.Errorf("application_id = %#x", id)
	}
	raw, _ := sql.Open("sqlite", path)
	defer raw.Close()
	var mode string
	if err := raw.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	// Reopening is a no-op.
	db2, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	db2.Close()
}

func TestConnectionPragmas(t *testing.T) {
	db, _ := openTemp(t)
	for _, c := range []struct {
		pool *sql.DB
		q    string
		want int
	}{{db.w, "PRAGMA foreign_keys", 1}, {db.w, "PRAGMA busy_timeout", 5000}, {db.r, "PRAGMA foreign_keys", 1}, {db.r, "PRAGMA query_only", 1}} {
		var v int
		if err := c.pool.QueryRow(c.q).Scan(&v); err != nil || v != c.want {
			t.Errorf("%s = %d, %v; want %d", c.q, v, err, c.want)
		}
	}
}

func TestMigrateFromEachEarlierVersion(t *testing.T) {
	ctx := context.Background()
	for v := 1; v < SchemaVersion(); v++ {
		t.Run(fmt.Sprint(v), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cache.db")
			old, err := Open(ctx, path, WithSchemaVersion(v))
			if err != nil {
				t.Fatal(err)
			}
			if got := rawInt(t, path, "PRAGMA user_version"); got != v {
				t.Fatalf("built version %d, want %d", got, v)
			}
			r := testResult("before upgrade", t0, 1)
			if v < 4 {
				saveLegacy(t, old, r) // as the Oncofed of that schema stored it
			} else if err := old.SaveResult(ctx, r); err != nil { // compact since schema 4
				t.Fatal(err)
			}
			old.Close()
			db, err := Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if got := rawInt(t, path, "PRAGMA user_version"); got != SchemaVersion() {
				t.Errorf("after upgrade user_version = %d, want %d", got, SchemaVersion())
			}
			got, err := db.Result(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != "before upgrade" || !reflect.DeepEqual(storedAsEncoded(t, got.Rounds), r.Rounds) {
				t.Errorf("result changed by the upgrade: %+v", got)
			}
			if v < 4 && (got.Rounds[0].Digests == nil || got.Provenance.ContentHash != app.ResultHash(got)) {
				t.Errorf("the upgrade did not keep the result compact: digests %v, hash %s", got.Rounds[0].Digests, got.Provenance.ContentHash)
			}
		})
	}
}

func fileBytes(t *testing.T, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewerVersionRefused(t *testing.T) {
	db, path := openTemp(t)
	if err := db.SaveResult(context.Background(), testResult("kept", t0, 1)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	rawExec(t, path, fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion()+1))
	rawExec(t, path, "PRAGMA wal_checkpoint(TRUNCATE)")
	before := fileBytes(t, path)
	_, err := Open(context.Background(), path)
	if app.ErrorCode(err) != app.EConflict || !strings.Contains(err.Error(), "newer version of Oncofed") {
		t.Fatalf("Open of a newer cache: %v; want conflict about a newer version", err)
	}
	if !bytes.Equal(before, fileBytes(t, path)) {
		t.Error("the newer cache file was modified")
	}
	if got := rawInt(t, path, "SELECT count(*) FROM results"); got != 1 {
		t.Errorf("results in the refused cache: %d, want 1", got)
	}
}

func TestForeignDatabaseRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	rawExec(t, path, "CREATE TABLE patients (id INTEGER)")
	before := fileBytes(t, path)
	_, err := Open(context.Background(), path)
	if app.ErrorCode(err) != app.EConflict || !strings.Contains(err.Error(), "not an Oncofed cache") {
		t.Fatalf("Open of a foreign database: %v", err)
	}
	if !bytes.Equal(before, fileBytes(t, path)) {
		t.Error("the foreign database was modified")
	}
}

func TestCorruptFileMovedAside(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name    string
		corrupt func(t *testing.T, path string)
	}{
		{"garbage", func(t *testing.T, path string) {
			if err := os.WriteFile(path, bytes.Repeat([]byte("not a database "), 500), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"damaged pages", func(t *testing.T, path string) {
			db, err := Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 200; i++ {
				if err := db.SaveResult(ctx, testResult(fmt.Sprint(i), t0, 3)); err != nil {
					t.Fatal(err)
				}
			}
			db.Close()
			rawExec(t, path, "PRAGMA wal_checkpoint(TRUNCATE)")
			b := fileBytes(t, path)
			// The page size is in the header (bytes 16–17, big-endian; 1 stands for 65536).
			page := int(b[16])<<8 | int(b[17])
			if page == 1 {
				page = 65536
			}
			if len(b) < 6*page {
				t.Fatalf("cache only %d bytes", len(b))
			}
			// Overwrite pages 2..5 (b-tree pages) but keep the header intact.
			copy(b[page:5*page], bytes.Repeat([]byte{0xA5}, 4*page))
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "cache.db")
			c.corrupt(t, path)
			damaged := fileBytes(t, path)
			now := time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC)
			db, err := Open(ctx, path, WithClock(func() time.Time { return now }))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			want := path + ".corrupt-20261128T093000Z"
			if db.MovedAside != want {
				t.Fatalf("MovedAside = %q, want %q", db.MovedAside, want)
			}
			if !bytes.Equal(fileBytes(t, want), damaged) {
				t.Error("the moved-aside file differs from the damaged one")
			}
			if err := db.SaveResult(ctx, testResult("fresh", t0, 1)); err != nil {
				t.Fatalf("rebuilt cache unusable: %v", err)
			}
			list, err := db.Results(ctx, app.ResultFilter{})
			if err != nil || len(list) != 1 {
				t.Fatalf("rebuilt cache lists %d results, %v; want 1", len(list), err)
			}
		})
	}
}

func TestResultRoundTrip(t *testing.T) {
	ctx := context.Background()
	db, _ := openTemp(t)
	r := testResult("KM by sex", t0, 3)
	if err := db.SaveResult(ctx, r); err != nil {
		t.Fatal(err)
	}
	if r.ID == 0 {
		t.Fatal("SaveResult did not set the ID")
	}
	got, err := db.Result(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if h := app.ContentHash(got.Request, got.Rounds); h != r.Provenance.ContentHash {
		t.Errorf("content hash over the stored bytes %s, want %s", h, r.Provenance.ContentHash)
	}
	got.Rounds = storedAsEncoded(t, got.Rounds)
	if !reflect.DeepEqual(got, r) {
		t.Errorf("round trip differs:\n got %+v\nwant %+v", got, r)
	}
	if h := app.ContentHash(got.Request, got.Rounds); h != r.Provenance.ContentHash {
		t.Errorf("content hash after round trip %s, want %s", h, r.Provenance.ContentHash)
	}
	if got.Rounds[0].Replies[0].Survival.Groups[0].Time[2] != 7e-300 {
		t.Error("a tiny time did not survive bit for bit")
	}
	latest, err := db.LatestResult(ctx, "demo", r.Request.Key())
	if err != nil || latest.ID != r.ID {
		t.Errorf("LatestResult = %v, %v", latest, err)
	}
	if _, err := db.LatestResult(ctx, "demo", "nope"); app.ErrorCode(err) != app.ENotFound {
		t.Errorf("LatestResult of unknown key: %v, want not_found", err)
	}
}

func count(t *testing.T, db *DB, table string) int {
	var n int
	if err := db.r.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSaveResultAllOrNothing(t *testing.T) {
	ctx := context.Background()
	db, _ := openTemp(t)
	r := testResult("bad", t0, 3)
	// The last round carries a second reply of one site: the insert of that row violates the
	// primary key after the result row, two rounds and their replies were written.
	last := &r.Rounds[2]
	last.Replies = append(last.Replies, last.Replies[0])
	err := db.SaveResult(ctx, r)
	if err == nil {
		t.Fatal("SaveResult with a duplicate reply succeeded")
	}
	for _, table := range []string{"results", "result_rounds", "result_replies"} {
		if n := count(t, db, table); n != 0 {
			t.Errorf("%s holds %d rows after a failed save", table, n)
		}
	}
	// A reply that cannot be encoded (NaN) is refused as invalid, without a trace.
	nan := testResult("nan", t0, 2)
	nan.Rounds[1].Replies[1].Cox = &protocol.CoxReply{LogLik: math.NaN()}
	if err := db.SaveResult(ctx, nan); app.ErrorCode(err) != app.EInvalid {
		t.Errorf("SaveResult with NaN: %v, want invalid", err)
	}
	if n := count(t, db, "results"); n != 0 {
		t.Errorf("results holds %d rows after a NaN save", n)
	}
	// A cancelled context fails cleanly too.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := db.SaveResult(cctx, testResult("cancelled", t0, 1)); err == nil {
		t.Error("SaveResult with a cancelled context succeeded")
	}
	if n := count(t, db, "results"); n != 0 {
		t.Errorf("results holds %d rows after a cancelled save", n)
	}
	// The writer connection is still usable.
	if err := db.SaveResult(ctx, testResult("good", t0, 1)); err != nil {
		t.Fatal(err)
	}
}

func TestSaveCatalogAllOrNothing(t *testing.T) {
	ctx := context.Background()
	db, _ := openTemp(t)
	good := app.MergeCatalogs(t0, []protocol.Catalog{{Site: "a", Studies: []protocol.StudyCatalog{{Name: "lung", Patients: 10}}}}, nil)
	if err := db.SaveCatalog(ctx, "demo", good); err != nil {
		t.Fatal(err)
	}
	bad := app.MergeCatalogs(t0.Add(time.Hour), []protocol.Catalog{{Site: "b"}, {Site: "b"}}, nil)
	if err := db.SaveCatalog(ctx, "demo", bad); app.ErrorCode(err) != app.EConflict {
		t.Fatalf("SaveCatalog with a duplicate site: %v, want conflict", err)
	}
	got, err := db.Catalog(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if !got.FetchedAt.Equal(t0) || len(got.Sites) != 1 || got.Sites[0].Site != "a" {
		t.Errorf("catalog after a failed replace: %+v; want the old one intact", got)
	}
}

func TestNetworksSitesCatalogCohorts(t *testing.T) {
	ctx := context.Background()
	db, _ := openTemp(t)
	if _, err := db.Catalog(ctx, "demo"); app.ErrorCode(err) != app.ENotFound {
		t.Errorf("Catalog of an empty cache: %v, want not_found", err)
	}
	nets := []app.NetworkInfo{{ID: "demo", Name: "Demo", Demo: true, LastConnected: t0}, {ID: "nats://hub:4222", Name: "Hub", URL: "nats://hub:4222", LastConnected: t0.Add(time.Hour)}}
	for _, n := range nets {
		if err := db.SaveNetwork(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.Networks(ctx)
	if err != nil || !reflect.DeepEqual(got, []app.NetworkInfo{nets[1], nets[0]}) {
		t.Errorf("Networks = %+v, %v", got, err)
	}
	sites := []app.SiteRecord{
		{Site: "a", Online: true, Latency: 3 * time.Millisecond, LastSeen: t0, Studies: []string{"lung"}, Policy: &protocol.Policy{MinCell: 5, BinDays: 7}, DataCuts: map[string]string{"lung": "2026-10-31"}},
		{Site: "b", Studies: []string{}, DataCuts: map[string]string{}},
	}
	if err := db.SaveSites(ctx, "demo", sites); err != nil {
		t.Fatal(err)
	}
	gotSites, err := db.Sites(ctx, "demo")
	if err != nil || !reflect.DeepEqual(gotSites, sites) {
		t.Errorf("Sites = %+v, %v", gotSites, err)
	}
	min := 60.0
	c := &app.Cohort{Network: "demo", Study: "lung", Name: "elderly", Endpoint: "os", GroupBy: "sex",
		Filter: &protocol.Filter{Op: protocol.OpRange, Var: "age", Min: &min}, CreatedAt: t0, UpdatedAt: t0}
	if err := db.SaveCohort(ctx, c); err != nil || c.ID == 0 {
		t.Fatalf("SaveCohort: %v, id %d", err, c.ID)
	}
	dup := *c
	dup.ID = 0
	if err := db.SaveCohort(ctx, &dup); app.ErrorCode(err) != app.EConflict {
		t.Errorf("duplicate cohort name: %v, want conflict", err)
	}
	c.GroupBy, c.UpdatedAt = "ecog", t0.Add(time.Minute)
	if err := db.SaveCohort(ctx, c); err != nil {
		t.Fatal(err)
	}
	cohorts, err := db.Cohorts(ctx, "demo", "lung")
	if err != nil || len(cohorts) != 1 || !reflect.DeepEqual(cohorts[0], *c) {
		t.Errorf("Cohorts = %+v, %v; want %+v", cohorts, err, *c)
	}
	if err := db.DeleteCohort(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteCohort(ctx, c.ID); app.ErrorCode(err) != app.ENotFound {
		t.Errorf("deleting a deleted cohort: %v", err)
	}
}

func TestLibrary(t *testing.T) {
	ctx := context.Background()
	db, _ := openTemp(t)
	var ids []int64
	for i := 0; i < 5; i++ {
		r := testResult(fmt.Sprint("r", i), t0.Add(time.Duration(i)*time.Hour), 1)
		if i == 3 {
			r.Request.Kind = protocol.KindCount
		}
		if err := db.SaveResult(ctx, r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	if err := db.PinResult(ctx, ids[1], true, nil); err != nil {
		t.Fatal(err)
	}
	// Pinned from a tab, a result keeps how it was shown; pinned from the library (nil), it
	// keeps what was stored.
	shown := &app.Display{View: app.ViewBySite + "female", Unit: "years", MedianLines: true, Percent: true, Order: []string{"male", "female"}}
	for _, d := range []*app.Display{shown, nil} {
		if err := db.PinResult(ctx, ids[4], true, d); err != nil {
			t.Fatal(err)
		}
		if r, err := db.Result(ctx, ids[4]); err != nil || r.Display == nil || !reflect.DeepEqual(*r.Display, *shown) {
			t.Fatalf("display after pinning with %+v: %+v, %v", d, r.Display, err)
		}
	}
	if r, err := db.Result(ctx, ids[0]); err != nil || r.Display != nil {
		t.Fatalf("a result never pinned from a tab has display %+v (%v)", r.Display, err)
	}
	if err := db.PinResult(ctx, ids[4], false, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.RenameResult(ctx, ids[0], "tumor board"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteResult(ctx, ids[2]); err != nil {
		t.Fatal(err)
	}
	list, err := db.Results(ctx, app.ResultFilter{Network: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, s := range list {
		order = append(order, s.Name)
	}
	// Pinned first, then newest first.
	if want := []string{"r1", "r4", "r3", "tumor board"}; !reflect.DeepEqual(order, want) {
		t.Errorf("library order %v, want %v", order, want)
	}
	if list[0].Expected != 3 || list[0].Answered != 2 || !list[0].Pinned || !list[0].RanAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("summary %+v", list[0])
	}
	counts, _ := db.Results(ctx, app.ResultFilter{Kind: protocol.KindCount})
	pinned, _ := db.Results(ctx, app.ResultFilter{Pinned: true})
	page, _ := db.Results(ctx, app.ResultFilter{Offset: 1, Limit: 2})
	if len(counts) != 1 || len(pinned) != 1 || len(page) != 2 || page[0].Name != "r4" {
		t.Errorf("filters: %d counts, %d pinned, page %+v", len(counts), len(pinned), page)
	}
	if n := count(t, db, "result_replies"); n != 4*2 {
		t.Errorf("%d replies left after deleting one of five results, want 8 (cascade)", n)
	}
	for _, err := range []error{db.RenameResult(ctx, ids[2], "x"), db.PinResult(ctx, ids[2], true, nil), db.DeleteResult(ctx, ids[2])} {
		if app.ErrorCode(err) != app.ENotFound {
			t.Errorf("change of a deleted result: %v, want not_found", err)
		}
	}
	if _, err := db.Result(ctx, ids[2]); app.ErrorCode(err) != app.ENotFound {
		t.Errorf("open deleted: %v", err)
	}
	if err := db.RenameResult(ctx, ids[0], "  "); app.ErrorCode(err) != app.EInvalid {
		t.Errorf("blank name: %v", err)
	}
}

// TestConcurrentWriters: the UI and a background refresh write at once, through one DB and
// through a second DB on the same file (another process); nobody sees SQLITE_BUSY.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	db, path := openTemp(t)
	db2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			d := db
			if w%2 == 1 {
				d = db2
			}
			for i := 0; i < 40; i++ {
				if err := d.SaveResult(ctx, testResult(fmt.Sprint(w, "-", i), t0, 2)); err != nil {
					errs <- err
				}
				if w < 2 {
					cat := app.MergeCatalogs(t0, []protocol.Catalog{{Site: fmt.Sprint(i)}}, nil)
					if err := d.SaveCatalog(ctx, "demo", cat); err != nil {
						errs <- err
					}
				} else if _, err := d.Results(ctx, app.ResultFilter{Limit: 10}); err != nil {
					errs <- err
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := count(t, db, "results"); n != 160 {
		t.Errorf("%d results, want 160", n)
	}
}

// fill inserts n results rows in one statement. The listing reads only the results table, so
// the rows carry no rounds; their JSON columns are those of a real result.
func fill(tb testing.TB, db *DB, n int) {
	tb.Helper()
	r := testResult("x", t0, 0)
	_, err := db.w.Exec(`WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ?)
		INSERT INTO results (network_id, name, kind, study, pinned, ran_at, expected, answered, request_key, request, provenance, content_hash)
		SELECT 'demo', 'result ' || i, 'survival', 'lung', i % 97 = 0, ? + i * 60000000000, 6, 5, ?, ?, ?, 'h' FROM seq`,
		n, t0.UnixNano(), r.Request.Key(), mustJSON(r.Request), mustJSON(r.Provenance))
	if err != nil {
		tb.Fatal(err)
	}
}

func TestListingUsesIndex(t *testing.T) {
	db, _ := openTemp(t)
	fill(t, db, 10000)
	for _, q := range []string{
		`EXPLAIN QUERY PLAN SELECT id FROM results WHERE network_id = 'demo' ORDER BY pinned DESC, ran_at DESC, id DESC`,
		`EXPLAIN QUERY PLAN SELECT id FROM results ORDER BY pinned DESC, ran_at DESC, id DESC`,
	} {
		rows, err := db.r.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			rows.Scan(&id, &parent, &notused, &detail)
			plan = append(plan, detail)
		}
		rows.Close()
		s := strings.Join(plan, "; ")
		if !strings.Contains(s, "INDEX results_") || strings.Contains(s, "TEMP B-TREE") {
			t.Errorf("%s\nplan: %s; want an index scan without sorting", q, s)
		}
	}
	start := time.Now()
	list, err := db.Results(context.Background(), app.ResultFilter{Network: "demo"})
	if err != nil || len(list) != 10000 {
		t.Fatalf("%d results, %v", len(list), err)
	}
	t.Logf("listed 10,000 results in %v", time.Since(start))
	if !list[0].Pinned || list[len(list)-1].Pinned {
		t.Error("pinned results are not listed first")
	}
}

// BenchmarkList10000 lists a library of 10,000 results (issue 6: under 50 ms on CI).
func BenchmarkList10000(b *testing.B) {
	db, _ := openTemp(b)
	fill(b, db, 10000)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		list, err := db.Results(ctx, app.ResultFilter{Network: "demo"})
		if err != nil || len(list) != 10000 {
			b.Fatal(len(list), err)
		}
	}
}

// TestNoCredentialsInCache: a hub URL with a password is stored without it.
func TestNoCredentialsInCache(t *testing.T) {
	ctx := context.Background()
	db, path := openTemp(t)
	n := app.NetworkInfo{ID: "nats://alice:s3cret@hub:4222", Name: "Hub", URL: "nats://alice:s3cret@hub:4222"}
	if err := db.SaveNetwork(ctx, n); err != nil {
		t.Fatal(err)
	}
	got, err := db.Networks(ctx)
	if err != nil || len(got) != 1 || got[0].URL != "nats://hub:4222" || got[0].ID != "nats://hub:4222" {
		t.Errorf("networks %+v, %v", got, err)
	}
	db.Close()
	passwordNotIn(t, "s3cret", path, path+"-wal")
}

// TestOpenEmptyFile: a zero-byte file (touch cache.db) is an empty database, not corruption.
func TestOpenEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.MovedAside != "" {
		t.Errorf("an empty file was moved aside to %s", db.MovedAside)
	}
	if v := rawInt(t, path, "PRAGMA user_version"); v != SchemaVersion() {
		t.Errorf("user_version %d", v)
	}
}

// passwordNotIn fails the test for each of files that holds password.
func passwordNotIn(t *testing.T, password string, files ...string) {
	t.Helper()
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, []byte(password)) {
			t.Errorf("%s contains the password", f)
		}
	}
}

// TestNoCredentialsInNetworkName: oncofed-cli names a network by its hub URL as given, so a
// password in that URL must not reach the cache through the name either.
func TestNoCredentialsInNetworkName(t *testing.T) {
	ctx := context.Background()
	db, path := openTemp(t)
	url := "nats://alice:s3cret@hub:4222"
	if err := db.SaveNetwork(ctx, app.NetworkInfo{ID: url, Name: url, URL: url}); err != nil {
		t.Fatal(err)
	}
	got, err := db.Networks(ctx)
	if err != nil || len(got) != 1 || got[0].Name != "nats://hub:4222" {
		t.Errorf("networks %+v, %v", got, err)
	}
	db.Close()
	passwordNotIn(t, "s3cret", path, path+"-wal")
}

// BenchmarkSaveCoxResult stores a result the size of the 1M-patient pooled Cox fit of the
// side-by-side benchmark (4 rounds × 10 sites, each reply ≈ 600 KB of JSON as received: 24 MiB)
// into a cache file on disk (t.TempDir), one result per iteration.
func BenchmarkSaveCoxResult(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "cache.db")
	db, err := Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const p = 3
	r := &app.Result{Name: "cox", Network: "demo", Request: app.Request{Kind: protocol.KindCox, Study: "nsclc", Endpoint: "os",
		Cox: &app.CoxSpec{Covariates: []string{"age", "sex", "ecog"}, Form: protocol.CoxPooled}}}
	for k := 0; k < 4; k++ {
		q := protocol.Query{Version: protocol.Version, Kind: protocol.KindCox, ID: fmt.Sprintf("q%d", k), Study: "nsclc", Endpoint: "os",
			Cox: &protocol.CoxRequest{Form: protocol.CoxPooled, Covariates: []string{"age", "sex", "ecog"}, Beta: []float64{0.1 * float64(k), 0, 0}}}
		round := app.Round{Query: q}
		for s := 0; s < 10; s++ {
			rows := make(protocol.CoxRows, 2200)
			for i := range rows {
				x := float64(i*31+s) / 7
				rows[i] = protocol.CoxRiskSetRow{Time: float64(i), D: i % 3, R0: x, R1: []float64{x, x / 3, x / 5}, R2: make([]float64, p*p),
					E0: x / 2, E1: []float64{x, x / 7, x / 11}, E2: make([]float64, p*p)}
				for j := range rows[i].R2 {
					rows[i].R2[j], rows[i].E2[j] = x/float64(j+13), x/float64(j+17)
				}
			}
			rep := protocol.Reply{Version: protocol.Version, QueryID: q.ID, Site: fmt.Sprintf("site%02d", s), Kind: protocol.KindCox,
				Cox: &protocol.CoxReply{Columns: []string{"age", "sexmale", "ecog"}, N: 97000, Events: 60000, Rows: rows, EventXSum: []float64{1, 2, 3}}}
			js, err := json.Marshal(rep)
			if err != nil {
				b.Fatal(err)
			}
			round.Replies = append(round.Replies, rep)
			round.ReplyJSON = append(round.ReplyJSON, js)
		}
		r.Rounds = append(r.Rounds, round)
	}
	size := 0
	for _, round := range r.Rounds {
		for _, js := range round.ReplyJSON {
			size += len(js)
		}
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.ID = 0
		if err := db.SaveResult(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPageSize: a new cache file gets 64 KiB pages (pageSize); an existing file keeps the page
// size it was made with, and still opens, upgrades and stores results.
func TestPageSize(t *testing.T) {
	ctx := context.Background()
	pageOf := func(path string) int {
		raw, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		var ps int
		if err := raw.QueryRow("PRAGMA page_size").Scan(&ps); err != nil {
			t.Fatal(err)
		}
		return ps
	}
	db, path := openTemp(t)
	if err := db.SaveResult(ctx, testResult("r", t0, 2)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if ps := pageOf(path); ps != pageSize {
		t.Errorf("new cache: page size %d, want %d", ps, pageSize)
	}

	// A cache of schema 1 made with SQLite's default page size, as earlier versions made them.
	old := filepath.Join(t.TempDir(), "old.db")
	raw, err := sql.Open("sqlite", old)
	if err != nil {
		t.Fatal(err)
	}
	raw.SetMaxOpenConns(1)
	schema1, err := migrationFS.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"PRAGMA page_size = 4096", "PRAGMA journal_mode = WAL",
		fmt.Sprintf("PRAGMA application_id = %d", ApplicationID), string(schema1), "PRAGMA user_version = 1"} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%.40s: %v", q, err)
		}
	}
	raw.Close()
	db2, err := Open(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	r := testResult("after upgrade", t0, 2)
	if err := db2.SaveResult(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, err := db2.Result(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	db2.Close()
	if ps := pageOf(old); ps != 4096 {
		t.Errorf("existing cache: page size %d, want 4096 kept", ps)
	}
}
