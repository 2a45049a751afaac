package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/cache"
	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/protocol"
)

// deadHub listens on a free port and counts the connections made to it: a hub that must never
// be dialled.
func deadHub(t *testing.T) (url string, dials *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	dials = new(atomic.Int32)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			dials.Add(1)
			c.Close()
		}
	}()
	return "nats://" + ln.Addr().String(), dials
}

// withoutCachedLine drops the first line of an offline text answer, checking it says cached.
// withoutWhen drops what the privacy line says of the result's freshness ("computed 17:40
// (live)" or "(cached, just now)"; in JSON "cached" and "age"), which is all that may differ
// between a live answer and the same result from the cache.
func withoutWhen(s string) string {
	s = regexp.MustCompile(` · computed [^\n]*`).ReplaceAllString(s, "")
	return regexp.MustCompile(`\s*"(cached|age)": [^,\n]*,?`).ReplaceAllString(s, "")
}

func withoutCachedLine(t *testing.T, out string) string {
	t.Helper()
	first, rest, _ := strings.Cut(out, "\n")
	if !strings.HasPrefix(first, "cached, computed ") || !strings.Contains(first, ", just now (result ") {
		t.Errorf("first line %q, want the cached note with its age", first)
	}
	return rest
}

// TestOffline: each analysis command run live stores its result in the cache; the identical
// command --offline prints the same result from the cache (with its age), found by --hub's
// network or, without one, by the study; a request never run fails with status 4, naming it
// and how to list the cache; nothing is dialled.
func TestOffline(t *testing.T) {
	url := startLung(t, protocol.Policy{MinCohort: 5})
	db := filepath.Join(t.TempDir(), "cache.db")
	cmds := [][]string{
		{"km", "--study", "lung", "--endpoint", "os", "--group", "sex", "--where", "age >= 50"},
		{"count", "--study", "lung", "--group", "sex"},
		{"summary", "--study", "lung", "--vars", "age,ecog", "--group", "sex"},
		{"cox", "--study", "lung", "--endpoint", "os", "--covariates", "age,sex"},
		{"model", "--study", "lung", "--endpoint", "os", "--covariates", "age,sex", "--validate", "loso"},
		{"ipw", "--study", "lung", "--endpoint", "os", "--treatment", "sex", "--treated", "female", "--confounders", "age,karno,wt.loss"},
	}
	dead, dials := deadHub(t)
	for _, cmd := range cmds {
		for _, format := range []string{"text", "json"} {
			args := append(append([]string{}, cmd...), "--format", format)
			code, live, errOut := cli(t, append([]string{"--hub", url, "--cache", db}, args...)...)
			if code != exitOK {
				t.Fatalf("%s live: exit %d: %s", cmd[0], code, errOut)
			}
			for _, network := range [][]string{{"--hub", url}, nil} {
				off := append(append([]string{"--offline", "--cache", db}, network...), args...)
				code, out, errOut := cli(t, off...)
				if code != exitOK {
					t.Fatalf("%v: exit %d: %s", off, code, errOut)
				}
				if format == "text" {
					out = withoutCachedLine(t, out)
				} else if !strings.HasPrefix(errOut, "cached, computed ") {
					t.Errorf("%v: stderr %q, want the cached note (stdout stays JSON)", off, errOut)
				}
				if withoutWhen(out) != withoutWhen(live) {
					t.Errorf("%v: offline answer differs from the live one:\n%s\nlive:\n%s", off, out, live)
				}
			}
		}
	}
	// A request never run: status 4, the request in words and how to see what is cached.
	code, out, errOut := cli(t, "--offline", "--hub", url, "--cache", db, "km", "--study", "lung", "--endpoint", "os", "--group", "sex", "--where", "age >= 60")
	if code != exitNotCached || out != "" || !strings.Contains(errOut, "Kaplan–Meier of os by sex (lung) where age >= 60") ||
		!strings.Contains(errOut, "oncofed-cli library list --cache "+db) || strings.Count(errOut, "\n") != 1 {
		t.Errorf("miss: exit %d\n%s%s", code, out, errOut)
	}
	// A network never cached (a hub that would accept connections): status 4, no dial.
	code, _, errOut = cli(t, "--offline", "--hub", dead, "--cache", db, "--timeout", "1s", "count", "--study", "lung", "--group", "sex")
	if code != exitNotCached || !strings.Contains(errOut, "no catalog of network "+dead+" is cached") || !strings.Contains(errOut, "library list") {
		t.Errorf("unknown network: exit %d, %q", code, errOut)
	}
	code, _, errOut = cli(t, "--offline", "--hub", dead, "--cache", db, "sites")
	if code != exitOK {
		t.Errorf("offline sites of an unknown network: exit %d, %q", code, errOut)
	}
	// --demo names the demo network and starts nothing.
	demoDir := filepath.Join(t.TempDir(), "demo")
	code, _, errOut = cli(t, "--offline", "--demo", "--demo-dir", demoDir, "--cache", db, "count", "--study", "nsclc")
	if _, err := os.Stat(demoDir); code != exitNotCached || !strings.Contains(errOut, "no catalog of network demo is cached") || err == nil {
		t.Errorf("--offline --demo: exit %d, %q, demo dir %v", code, errOut, err)
	}
	if n := dials.Load(); n != 0 {
		t.Errorf("--offline dialled the hub %d times", n)
	}
	// Without a cache file there is nothing to answer from, and none is created.
	missing := filepath.Join(t.TempDir(), "none.db")
	code, _, errOut = cli(t, "--offline", "--cache", missing, "count", "--study", "lung")
	if _, err := os.Stat(missing); code != exitNotCached || !strings.Contains(errOut, "no result cache at "+missing) || err == nil {
		t.Errorf("no cache: exit %d, %q, stat %v", code, errOut, err)
	}
	code, _, errOut = cli(t, "--offline", "--cache", db, "count", "--study", "lung", "--feasibility")
	if code != exitUsage {
		t.Errorf("--feasibility offline: exit %d, %q", code, errOut)
	}
	// The cached catalog answers the listing commands.
	code, out, errOut = cli(t, "--offline", "--cache", db, "studies")
	if code != exitOK || !strings.Contains(out, "lung") {
		t.Errorf("offline studies: exit %d\n%s%s", code, out, errOut)
	}
}

// TestLibrary: list, show and export read the results live commands stored; show prints them as
// the live command did, export writes the live command's JSON, CSV and plot.
func TestLibrary(t *testing.T) {
	url := startLung(t, protocol.Policy{MinCohort: 5})
	db := filepath.Join(t.TempDir(), "cache.db")
	live := func(args ...string) string {
		t.Helper()
		code, out, errOut := cli(t, append([]string{"--hub", url, "--cache", db}, args...)...)
		if code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		return out
	}
	kmArgs := []string{"km", "--study", "lung", "--endpoint", "os", "--group", "sex", "--where", "age >= 50"}
	kmJSON := live(append(kmArgs, "--format", "json")...) // result 1
	kmCSV := live(append(kmArgs, "--format", "csv")...)   // result 2
	coxText := live("cox", "--study", "lung", "--endpoint", "os", "--covariates", "age,sex")
	live("count", "--study", "lung")

	code, out, errOut := cli(t, "library", "--cache", db, "list", "--format", "json")
	var rows []libraryRow
	if code != exitOK || json.Unmarshal([]byte(out), &rows) != nil {
		t.Fatalf("list: exit %d\n%s%s", code, out, errOut)
	}
	if len(rows) != 4 {
		t.Fatalf("%d results listed, want 4:\n%s", len(rows), out)
	}
	count, cox, km := rows[0], rows[1], rows[3]
	if count.Kind != "count" || cox.Kind != "cox" || km.Kind != "km" || km.ID != 1 {
		t.Fatalf("listed newest first: %+v", rows)
	}
	if km.Study != "lung" || km.Analysis != "os by sex" || km.Cohort != "age >= 50" || km.Network != url || km.Answered < 1 || km.Expected != 18 || km.ComputedAt.IsZero() {
		t.Errorf("km row %+v", km)
	}
	if cox.Analysis != "os ~ age + sex (stratified by site)" || count.Cohort != "all patients" || count.Analysis != "-" {
		t.Errorf("cox row %+v, count row %+v", cox, count)
	}
	code, out, _ = cli(t, "library", "list", "--cache", db)
	if code != exitOK || !strings.HasPrefix(out, "ID ") || !strings.Contains(out, "os by sex") || !strings.Contains(out, " of 18\n") || strings.Count(out, "\n") != 5 {
		t.Errorf("list text: exit %d\n%s", code, out)
	}
	code, out, _ = cli(t, "--format", "csv", "library", "list", "--cache", db, "--kind", "km")
	if code != exitOK || strings.Count(out, "\n") != 3 || !strings.HasPrefix(out, "id,kind,study,analysis,cohort,network,computed_at") {
		t.Errorf("list csv --kind km: exit %d\n%s", code, out)
	}

	// show prints what the live command printed.
	code, out, errOut = cli(t, "library", "--cache", db, "show", "1", "--format", "json")
	if code != exitOK || withoutWhen(out) != withoutWhen(kmJSON) {
		t.Errorf("show km json: exit %d %s\n%s\nlive:\n%s", code, errOut, out, kmJSON)
	}
	code, out, errOut = cli(t, "library", "--cache", db, "show", strconv.FormatInt(cox.ID, 10))
	if code != exitOK || withoutWhen(withoutCachedLine(t, out)) != withoutWhen(coxText) {
		t.Errorf("show cox: exit %d %s\n%s\nlive:\n%s", code, errOut, out, coxText)
	}

	// export: JSON and CSV as the live command wrote them, the curves as a PNG.
	dir := t.TempDir()
	for _, c := range []struct{ file, want string }{{"km.json", kmJSON}, {"km.csv", kmCSV}} {
		path := filepath.Join(dir, c.file)
		code, _, errOut = cli(t, "library", "--cache", db, "export", "1", "--out", path)
		got, err := os.ReadFile(path)
		if code != exitOK || err != nil || withoutWhen(string(got)) != withoutWhen(c.want) {
			t.Errorf("export %s: exit %d %s %v\n%s", c.file, code, errOut, err, got)
		}
	}
	png := filepath.Join(dir, "km.png")
	code, _, errOut = cli(t, "library", "--cache", db, "export", "1", "--out", png)
	if b, err := os.ReadFile(png); code != exitOK || err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("export png: exit %d %s %v", code, errOut, err)
	}
	// Every result with a figure exports it (a Cox model's forest plot); a count has none.
	code, _, errOut = cli(t, "library", "--cache", db, "export", strconv.FormatInt(cox.ID, 10), "--out", filepath.Join(dir, "cox.png"))
	if b, err := os.ReadFile(filepath.Join(dir, "cox.png")); code != exitOK || err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("export a cox plot: exit %d %s %v", code, errOut, err)
	}
	code, _, errOut = cli(t, "library", "--cache", db, "export", strconv.FormatInt(count.ID, 10), "--out", filepath.Join(dir, "count.png"))
	if _, err := os.Stat(filepath.Join(dir, "count.png")); code != exitUsage || err == nil || !strings.Contains(errOut, "no figure") {
		t.Errorf("export a count as png: exit %d, %q, file %v", code, errOut, err)
	}

	// The deck: every pinned result with a figure, a page each; none pinned is an error.
	deck := filepath.Join(dir, "deck.pdf")
	if code, _, errOut = cli(t, "library", "--cache", db, "deck", "--out", deck); code == exitOK {
		t.Errorf("deck with nothing pinned: exit %d %q", code, errOut)
	}
	for _, id := range []int64{km.ID, cox.ID, count.ID} {
		if code, _, errOut = cli(t, "library", "--cache", db, "pin", strconv.FormatInt(id, 10)); code != exitOK {
			t.Fatalf("pin %d: exit %d %s", id, code, errOut)
		}
	}
	code, _, errOut = cli(t, "library", "--cache", db, "deck", "--out", deck)
	pdf, err := os.ReadFile(deck)
	if code != exitOK || err != nil || !bytes.HasPrefix(pdf, []byte("%PDF")) {
		t.Fatalf("deck: exit %d %s %v", code, errOut, err)
	}
	if pages := bytes.Count(pdf, []byte("/Type /Page")) - bytes.Count(pdf, []byte("/Type /Pages")); pages != 2 {
		t.Errorf("deck has %d pages, want one per pinned figure (km, cox; the count has none)", pages)
	}
	if code, _, _ = cli(t, "library", "--cache", db, "unpin", "99"); code != exitNotCached {
		t.Errorf("unpin 99: exit %d", code)
	}
	code, _, errOut = cli(t, "library", "--cache", db, "show", "99")
	if code != exitNotCached || !strings.Contains(errOut, "library list") {
		t.Errorf("show 99: exit %d, %q", code, errOut)
	}
	code, _, _ = cli(t, "library", "--cache", db, "frob")
	if code != exitUsage {
		t.Errorf("library frob: exit %d", code)
	}
}

// TestKMTimeUnit: --time-unit converts the text output's medians, RMST and landmark times
// with the desktop's conversion (chart.TimeUnit); JSON stays in days.
func TestKMTimeUnit(t *testing.T) {
	url := startLung(t, protocol.Policy{MinCohort: 5})
	args := []string{"--hub", url, "km", "--study", "lung", "--endpoint", "os", "--tau", "365", "--landmarks", "365"}
	code, out, errOut := cli(t, append(args, "--format", "json")...)
	var doc kmDoc
	if code != exitOK || json.Unmarshal([]byte(out), &doc) != nil || doc.Groups[0].Median.Value == nil {
		t.Fatalf("json: exit %d\n%s%s", code, out, errOut)
	}
	med := *doc.Groups[0].Median.Value
	code, days, _ := cli(t, args...)
	if code != exitOK || !strings.Contains(days, "MEDIAN (95% CI)\tRMST 365 d (SE)\tS(365) (95% CI)") && !strings.Contains(days, "MEDIAN (95% CI)  RMST 365 d (SE)") ||
		!strings.Contains(days, " "+r4(med)+" (") {
		t.Errorf("days (default):\n%s", days)
	}
	for _, u := range []struct {
		flag   string
		unit   chart.TimeUnit
		header string
	}{{"months", chart.Months, "MEDIAN, months (95% CI)"}, {"years", chart.Years, "MEDIAN, years (95% CI)"}} {
		code, out, errOut := cli(t, append(args, "--time-unit", u.flag)...)
		want := " " + r4(u.unit.FromDays(med)) + " ("
		rmst := "RMST " + strconv.FormatFloat(u.unit.FromDays(365), 'g', 4, 64) + " " + u.unit.Abbrev()
		if code != exitOK || !strings.Contains(out, u.header) || !strings.Contains(out, want) || !strings.Contains(out, rmst) || strings.Contains(out, " "+r4(med)+" (") {
			t.Errorf("--time-unit %s: exit %d, want %q, %q and %q\n%s%s", u.flag, code, u.header, want, rmst, out, errOut)
		}
		code, out, _ = cli(t, append(args, "--time-unit", u.flag, "--format", "json")...)
		var d kmDoc
		if code != exitOK || json.Unmarshal([]byte(out), &d) != nil || *d.Groups[0].Median.Value != med {
			t.Errorf("--time-unit %s changed the JSON (days): exit %d", u.flag, code)
		}
	}
	code, _, errOut = cli(t, append(args, "--time-unit", "weeks")...)
	if code != exitUsage || !strings.Contains(errOut, "want days, months or years") {
		t.Errorf("--time-unit weeks: exit %d, %q", code, errOut)
	}
}

// TestOfflineFindsAppsRequest: a result whose request differs from the CLI's only in the
// cohort's display name and the km landmarks — as the desktop app stores its Kaplan–Meier
// runs — answers the CLI's identical km --offline.
func TestOfflineFindsAppsRequest(t *testing.T) {
	ctx := context.Background()
	url := startLung(t, protocol.Policy{MinCohort: 5})
	path := filepath.Join(t.TempDir(), "cache.db")
	args := []string{"km", "--study", "lung", "--endpoint", "os", "--group", "sex", "--where", "age >= 50", "--format", "json"}
	code, live, errOut := cli(t, append([]string{"--hub", url, "--cache", path}, args...)...)
	if code != exitOK {
		t.Fatalf("live: exit %d: %s", code, errOut)
	}
	db, err := cache.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := db.Result(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	r.ID, r.Name = 0, "as the app stores it"
	r.Request.CohortName = "age ≥ 50"
	r.Request.Landmarks = []float64{365.25, 730.5, 1826.25}
	r.Provenance.ContentHash = app.ResultHash(r)
	if err := db.SaveResult(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteResult(ctx, 1); err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, out, errOut := cli(t, append([]string{"--offline", "--hub", url, "--cache", path}, args...)...)
	if code != exitOK || withoutWhen(out) != withoutWhen(live) || !strings.Contains(errOut, "(result 2, network "+url+")") {
		t.Errorf("offline: exit %d %s\n%s\nlive:\n%s", code, errOut, out, live)
	}
	// Another cohort is still another request.
	args[8] = "age >= 51"
	code, _, errOut = cli(t, append([]string{"--offline", "--hub", url, "--cache", path}, args...)...)
	if code != exitNotCached {
		t.Errorf("another cohort: exit %d, %q", code, errOut)
	}
}
