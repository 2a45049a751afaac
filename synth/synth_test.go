package synth_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oncofed/oncofed/synth"
)

func csvBytes(t *testing.T, g *synth.Generator, site int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := g.WriteCSV(&b, site); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func mustNew(t *testing.T, spec synth.Spec) *synth.Generator {
	t.Helper()
	g, err := synth.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestDeterministic: the same spec gives the same bytes, another seed other bytes.
func TestDeterministic(t *testing.T) {
	for _, study := range synth.Studies {
		spec := synth.Spec{Study: study, Sites: 4, Patients: 3000, Seed: 42}
		a := sha256.Sum256(csvBytes(t, mustNew(t, spec), 2))
		b := sha256.Sum256(csvBytes(t, mustNew(t, spec), 2))
		if a != b {
			t.Errorf("%s: two generators of the same spec wrote different CSV", study)
		}
		spec.Seed = 43
		if c := sha256.Sum256(csvBytes(t, mustNew(t, spec), 2)); c == a {
			t.Errorf("%s: seeds 42 and 43 wrote the same CSV", study)
		}
	}
}

// snapshot copies a cohort block (Stream reuses its slices).
func snapshot(c *synth.Cohort) [][]string {
	rows := make([][]string, c.Len())
	for i := range rows {
		row := []string{c.ID(i)}
		for j, v := range c.Schema.Variables {
			if v.Categorical() {
				row = append(row, strconv.Itoa(int(c.Columns[j].Codes[i])))
			} else {
				row = append(row, strconv.FormatFloat(c.Columns[j].Values[i], 'g', -1, 64))
			}
		}
		row = append(row, strconv.FormatFloat(c.OSDays[i], 'g', -1, 64), strconv.FormatBool(c.OSEvent[i]),
			strconv.FormatFloat(c.PFSDays[i], 'g', -1, 64), strconv.FormatBool(c.PFSEvent[i]))
		rows[i] = row
	}
	return rows
}

// TestStreamChunksDoNotChangeRows: the rows do not depend on the block size, and Site(i)
// equals the streamed rows of site i.
func TestStreamChunksDoNotChangeRows(t *testing.T) {
	g := mustNew(t, synth.Spec{Study: synth.MM, Sites: 3, Patients: 2500, Seed: 1})
	stream := func(chunk int) map[int][][]string {
		out := map[int][][]string{}
		if err := g.Stream(chunk, func(c *synth.Cohort) error {
			if c.Offset != len(out[c.Site.Index]) {
				t.Fatalf("chunk %d: block of site %d at offset %d after %d rows", chunk, c.Site.Index, c.Offset, len(out[c.Site.Index]))
			}
			out[c.Site.Index] = append(out[c.Site.Index], snapshot(c)...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	whole := stream(0)
	if got := stream(333); !reflect.DeepEqual(got, whole) {
		t.Error("blocks of 333 rows differ from whole sites")
	}
	for i, s := range g.Sites() {
		if len(whole[i]) != s.Patients {
			t.Errorf("site %s: %d rows, want %d", s.Name, len(whole[i]), s.Patients)
		}
		if !reflect.DeepEqual(snapshot(g.Site(i)), whole[i]) {
			t.Errorf("Site(%d) differs from the streamed rows", i)
		}
	}
}

// TestEndpointsConsistent checks on every study: PFS ≤ OS, times ≥ 1 day and whole, a
// censored PFS implies OS censored at the same time, and follow-up ends by the data cut.
func TestEndpointsConsistent(t *testing.T) {
	for _, study := range synth.Studies {
		g := mustNew(t, synth.Spec{Study: study, Sites: 5, Patients: 30000, Seed: 8})
		maxFU := 0.0
		err := g.Stream(10000, func(c *synth.Cohort) error {
			for i := 0; i < c.Len(); i++ {
				os, pfs := c.OSDays[i], c.PFSDays[i]
				if pfs > os || pfs < 1 || os != math.Trunc(os) || pfs != math.Trunc(pfs) {
					t.Fatalf("%s %s: os %v pfs %v", study, c.ID(i), os, pfs)
				}
				if !c.PFSEvent[i] && (c.OSEvent[i] || os != pfs) {
					t.Fatalf("%s %s: PFS censored at %v but OS (%v, event %v)", study, c.ID(i), pfs, os, c.OSEvent[i])
				}
				if !c.OSEvent[i] {
					maxFU = math.Max(maxFU, os)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// The longest follow-up is accrual + minimum follow-up (at most 84 months here).
		if maxFU > 84*30.4375+1 {
			t.Errorf("%s: censored at %v days, beyond 84 months", study, maxFU)
		}
	}
}

func TestSitePlan(t *testing.T) {
	g := mustNew(t, synth.Spec{Study: synth.NSCLC, Sites: 12, Patients: 10000, Seed: 3})
	sites := g.Sites()
	total, names := 0, map[string]bool{}
	var acad, comm []int
	for _, s := range sites {
		total += s.Patients
		if names[s.Name] {
			t.Errorf("duplicate site name %s", s.Name)
		}
		names[s.Name] = true
		if s.Kind == synth.Academic {
			acad = append(acad, s.Patients)
		} else {
			comm = append(comm, s.Patients)
		}
	}
	if total != 10000 {
		t.Errorf("sites hold %d patients, want 10000", total)
	}
	if len(acad) != 3 {
		t.Errorf("%d academic centres of 12 sites, want 3", len(acad))
	}
	for _, a := range acad {
		for _, c := range comm {
			if a <= c {
				t.Errorf("academic centre with %d patients not bigger than a community hospital with %d", a, c)
			}
		}
	}
	// Explicit sizes are kept; the larger quarter are academic.
	g = mustNew(t, synth.Spec{Study: synth.MPM, SiteSizes: []int{10, 500, 40, 30}, Seed: 3})
	for i, want := range []int{10, 500, 40, 30} {
		s := g.Sites()[i]
		if s.Patients != want || (s.Kind == synth.Academic) != (want == 500) {
			t.Errorf("site %d: %d patients, %s; want %d", i, s.Patients, s.Kind, want)
		}
	}
}

func TestSpecErrors(t *testing.T) {
	for _, spec := range []synth.Spec{
		{Study: "glioma", Sites: 2, Patients: 10},
		{Study: synth.NSCLC, Sites: 0, Patients: 10},
		{Study: synth.NSCLC, Sites: 5, Patients: 4},
		{Study: synth.NSCLC, SiteSizes: []int{10, 0}},
		{Study: synth.NSCLC, Sites: 1, Patients: 1, MinFollowUp: -1},
	} {
		if _, err := synth.New(spec); err == nil || !strings.HasPrefix(err.Error(), "synth: ") {
			t.Errorf("New(%+v) = %v, want a synth: error", spec, err)
		}
	}
}

// TestCSVFormat parses a written CSV back: header, column count, the id column unique,
// endpoint columns as the importer expects, missing values as empty cells, and the same
// values as the column API.
func TestCSVFormat(t *testing.T) {
	for _, study := range synth.Studies {
		g := mustNew(t, synth.Spec{Study: study, Sites: 3, Patients: 5000, Seed: 4, DataCut: time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)})
		recs, err := csv.NewReader(bytes.NewReader(csvBytes(t, g, 1))).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", study, err)
		}
		c := g.Site(1)
		header := g.Schema().Header()
		if c.Site.Registry { // the registry's delayed entries follow the endpoints
			header = append(header, synth.EntryColumn)
			if c.OSEntryDays == nil {
				t.Fatalf("%s: registry site without entries", study)
			}
			for i := range recs[1:] {
				rec := recs[1+i]
				e, err := strconv.ParseFloat(rec[len(rec)-1], 64)
				os, _ := strconv.ParseFloat(rec[len(header)-5], 64)
				if err != nil || e != c.OSEntryDays[i] || e < 0 || e >= 60 || e >= os {
					t.Fatalf("%s line %d: entry %q, os_days %v", study, i+2, rec[len(rec)-1], os)
				}
				recs[1+i] = rec[:len(rec)-1]
			}
			recs[0] = recs[0][:len(recs[0])-1]
			header = header[:len(header)-1]
		}
		if !reflect.DeepEqual(recs[0], header) || !reflect.DeepEqual(g.Header(1)[:len(header)], header) {
			t.Fatalf("%s: header %v, want %v", study, recs[0], header)
		}
		want := []string{"id"}
		if recs[0][0] != "id" || !reflect.DeepEqual(recs[0][len(header)-4:], []string{"os_days", "os_event", "pfs_days", "pfs_event"}) {
			t.Errorf("%s: header %v does not start with %v and end with the endpoints", study, recs[0], want)
		}
		if len(recs)-1 != c.Len() {
			t.Fatalf("%s: %d rows, want %d", study, len(recs)-1, c.Len())
		}
		ids := map[string]bool{}
		empty := 0
		for i, rec := range recs[1:] {
			if ids[rec[0]] || rec[0] != c.ID(i) {
				t.Fatalf("%s line %d: id %q (want %q, unique)", study, i+2, rec[0], c.ID(i))
			}
			ids[rec[0]] = true
			for j, v := range g.Schema().Variables {
				cell := rec[1+j]
				if cell == "" {
					empty++
				}
				if v.Categorical() {
					if cell != c.Level(v.Name, i) {
						t.Fatalf("%s line %d %s: %q, want %q", study, i+2, v.Name, cell, c.Level(v.Name, i))
					}
				} else if x := c.Columns[j].Values[i]; (cell == "") != math.IsNaN(x) || (cell != "" && cell != strconv.FormatFloat(x, 'f', -1, 64)) {
					t.Fatalf("%s line %d %s: %q, want %v", study, i+2, v.Name, cell, x)
				}
			}
			n := len(rec)
			pfsOK := rec[n-1] == "0" || rec[n-1] == "1" || (c.PFSCause != nil && rec[n-1] == "2") // 2: death before progression
			if rec[n-3] != "0" && rec[n-3] != "1" || !pfsOK {
				t.Fatalf("%s line %d: event flags %q %q", study, i+2, rec[n-3], rec[n-1])
			}
		}
		if empty == 0 {
			t.Errorf("%s: no missing values at all", study)
		}
		is := g.ImportSpec(1)
		args := strings.Join(is.Args("site.db", "site.csv"), " ")
		causes := ""
		if c.PFSCause != nil {
			causes = " --causes PFS=1:progression,2:death"
		}
		if c.Site.Registry {
			causes = " --entry OS=os_entry_days" + causes
		}
		wantArgs := "--db site.db --study " + string(study) + " --csv site.csv --id id --endpoint OS=os_days:os_event --endpoint PFS=pfs_days:pfs_event" + causes + " --site " + c.Site.Name + " --data-cut 2025-12-31"
		if args != wantArgs {
			t.Errorf("import args\n%s\nwant\n%s", args, wantArgs)
		}
	}
}

// TestNumericColumnsStayNumeric: the node importer types a column numeric when every
// non-empty value parses as a number, so categorical levels must never all look numeric.
func TestNumericColumnsStayNumeric(t *testing.T) {
	for _, study := range synth.Studies {
		s, err := synth.SchemaOf(study)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range s.Variables {
			for _, l := range v.Levels {
				if _, err := strconv.ParseFloat(l, 64); err == nil || strings.ContainsAny(l, ",\"\n") {
					t.Errorf("%s.%s: level %q would be read as a number or break the CSV", study, v.Name, l)
				}
			}
		}
	}
}

func TestDemoFederation(t *testing.T) {
	f := synth.DemoFederation()
	names := f.SiteNames()
	if len(names) < 5 || len(names) > 6 {
		t.Fatalf("demo has %d sites, want 5–6", len(names))
	}
	coarse, small := 0, false
	for _, n := range names {
		p, ok := f.Policies[n]
		if !ok {
			t.Errorf("no policy for %s", n)
		}
		if p.BinDays > 0 {
			coarse++
		}
	}
	if coarse != 1 {
		t.Errorf("%d sites coarsen times, want 1", coarse)
	}
	for _, spec := range f.Studies {
		g := mustNew(t, spec)
		for i, s := range g.Sites() {
			if s.Name != names[i] {
				t.Errorf("%s: site %d is %s, want %s (the same hospital in every study)", spec.Study, i, s.Name, names[i])
			}
			if spec.Study == synth.NSCLC && s.Patients < f.Policies[s.Name].MinCohort*20 {
				small = true
			}
		}
	}
	if !small {
		t.Error("no small NSCLC site for suppression to show")
	}
}

func TestParseStudy(t *testing.T) {
	if s, err := synth.ParseStudy("MPM"); err != nil || s != synth.MPM {
		t.Errorf("ParseStudy(MPM) = %v, %v", s, err)
	}
	if _, err := synth.ParseStudy("sarcoma"); err == nil {
		t.Error("ParseStudy(sarcoma) succeeded")
	}
}

// TestSitesInParallel generates the sites of a spec concurrently (a fresh generator, whose
// lazy calibration the goroutines share) and gets the rows of the sequential stream.
func TestSitesInParallel(t *testing.T) {
	spec := synth.Spec{Study: synth.TNBC, Sites: 4, Patients: 4000, Seed: 77}
	want := map[int][][]string{}
	if err := mustNew(t, spec).Stream(0, func(c *synth.Cohort) error {
		want[c.Site.Index] = snapshot(c)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	g := mustNew(t, spec)
	got := make([][][]string, 4)
	done := make(chan error, 4)
	for i := range 4 {
		go func() {
			done <- g.StreamSite(i, 1000, func(c *synth.Cohort) error {
				got[i] = append(got[i], snapshot(c)...)
				return nil
			})
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("site %d generated in parallel differs", i)
		}
	}
}

// Myeloma's and mesothelioma's PFS events split into progression (1) and death before
// progression (2), both frequent; the CSV writes the code and the import spec declares the
// causes; other studies keep a 0/1 flag.
func TestPFSCompetingCauses(t *testing.T) {
	for _, study := range []synth.Study{synth.MM, synth.MPM, synth.NSCLC} {
		g := mustNew(t, synth.Spec{Study: study, SiteSizes: []int{3000}, Seed: 7})
		c := g.Site(0)
		if study == synth.NSCLC {
			if c.PFSCause != nil || g.ImportSpec(0).Causes != nil {
				t.Errorf("%s: PFS has causes", study)
			}
			continue
		}
		var n [3]int
		for i, cause := range c.PFSCause {
			if (cause > 0) != c.PFSEvent[i] || (cause == 2 && c.PFSDays[i] != c.OSDays[i]) {
				t.Fatalf("%s patient %d: cause %d, event %v, PFS %v, OS %v", study, i, cause, c.PFSEvent[i], c.PFSDays[i], c.OSDays[i])
			}
			n[cause]++
		}
		if n[1] < n[2] || n[2] < (n[1]+n[2])/10 {
			t.Errorf("%s: %d progressions, %d deaths before progression", study, n[1], n[2])
		}
		args := strings.Join(g.ImportSpec(0).Args("s.db", "s.csv"), " ")
		if !strings.Contains(args, "--causes PFS=1:progression,2:death") {
			t.Errorf("%s: import arguments %s", study, args)
		}
	}
}
