package report

import (
	"strings"
	"testing"
	"time"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

func TestPrivacyLine(t *testing.T) {
	now := time.Date(2026, 11, 28, 15, 0, 0, 0, time.Local)
	trunc := 900.0
	r := &app.Result{Provenance: app.Provenance{
		RanAt:    time.Date(2026, 11, 28, 14, 2, 0, 0, time.Local),
		Expected: []string{"a", "b", "c", "d"},
		Answered: []string{"a", "b", "c"},
		Missing:  []string{"d"},
		Sites: []app.SiteProvenance{
			{Site: "a", DataCut: "2026-10-31", Policy: protocol.PolicyEffects{BinDays: 7, SuppressedCells: 2}},
			{Site: "b", DataCut: "2026-09-30", Policy: protocol.PolicyEffects{MergedRows: 3, Auth: protocol.AuthOpen}},
			{Site: "c", DataCut: "2026-10-31", Policy: protocol.PolicyEffects{BinDays: 30, TruncatedAfter: &trunc}},
		},
	}}
	want := "privacy: coarsened release · 7-day bins at a, 30-day bins at c · 2 cells suppressed · 3 rows merged · tail truncated after day 900 at c · OPEN (unsigned queries) at b · " +
		"3 of 4 sites (d: no answer) · data cuts 2026-09-30 – 2026-10-31 · computed 14:02 (live)"
	if got := PrivacyLine(r, now); got != want {
		t.Errorf("PrivacyLine =\n%q, want\n%q", got, want)
	}
	r.Cached = true
	r.Provenance.Sites = r.Provenance.Sites[1:2]
	r.Provenance.Missing = nil
	r.Provenance.Refused = []app.SiteProblem{{Site: "d", Code: "refused_by_policy"}}
	r.Provenance.RanAt = now.Add(-3 * 24 * time.Hour)
	want = "privacy: coarsened release · 0 cells suppressed · 3 rows merged · OPEN (unsigned queries) at b · 3 of 4 sites (d: refused) · data cut 2026-09-30 · computed " +
		r.Provenance.RanAt.Format("2006-01-02 15:04") + " (cached, 3 days ago)"
	if got := PrivacyLine(r, now); got != want {
		t.Errorf("PrivacyLine =\n%q, want\n%q", got, want)
	}

	// A refusal says why; suppression says below what; a dp release its ρ and budget left.
	r.Cached = false
	r.Provenance.RanAt = now.Add(-time.Hour)
	r.Provenance.Refused = []app.SiteProblem{{Site: "d", Code: "refused_by_policy", Reason: "small_cohort", Limit: 10, Message: "fewer than min_cohort=10 patients"}}
	r.Provenance.Sites = []app.SiteProvenance{
		{Site: "a", Policy: protocol.PolicyEffects{MinCell: 10, SuppressedCells: 4, DP: &protocol.DPEffects{Rho: 0.02, LeftToday: 0.23, LeftTotal: 1.98}}},
		{Site: "b", Policy: protocol.PolicyEffects{MinCell: 5, DP: &protocol.DPEffects{Rho: 0.01, LeftToday: 0.5, LeftTotal: 3}}},
	}
	want = "privacy: differentially private release · 4 cells suppressed (<10) · differentially private at 2 sites: ρ=0.02 each, left today ≥ 0.23 (lifetime ≥ 1.98) · " +
		"3 of 4 sites (d: refused: fewer than min_cohort=10 patients) · computed 14:00 (live)"
	p := NewPrivacy(r, now)
	if got := p.Line(); got != want {
		t.Errorf("Line =\n%q, want\n%q", got, want)
	}
	if p.MinCell != 10 || p.SuppressedCells != 4 || p.DP == nil || p.DP.Rho != 0.02 || len(p.Refused) != 1 || p.Refused[0].Rule != "small_cohort" || p.Refused[0].Limit != 10 {
		t.Errorf("structured form %+v", p)
	}
}

// Tails truncated at many different days are said in one part, with the range of days.
func TestPrivacyLineManyTruncations(t *testing.T) {
	r := &app.Result{Provenance: app.Provenance{Expected: []string{"a", "b", "c"}, Answered: []string{"a", "b", "c"}}}
	for i, site := range []string{"a", "b", "c"} {
		day := 2036.0 + float64(100*i)
		r.Provenance.Sites = append(r.Provenance.Sites, app.SiteProvenance{Site: site, Policy: protocol.PolicyEffects{TruncatedAfter: &day}})
	}
	if got := PrivacyLine(r, time.Now()); !strings.Contains(got, " · tail truncated at 3 sites, after day 2036–2236 · ") {
		t.Errorf("PrivacyLine = %q", got)
	}
}

// Cells the overlap guard suppressed as linked to earlier releases are said apart: they are
// not below min_cell.
func TestPrivacyLineLinkedCells(t *testing.T) {
	r := &app.Result{Provenance: app.Provenance{Expected: []string{"a", "b"}, Answered: []string{"a", "b"}, Sites: []app.SiteProvenance{
		{Site: "a", Policy: protocol.PolicyEffects{MinCell: 5, SuppressedCells: 9, LinkedCells: 4}},
		{Site: "b", Policy: protocol.PolicyEffects{MinCell: 5, SuppressedCells: 3, LinkedCells: 2}},
	}}}
	p := NewPrivacy(r, time.Now())
	if p.SuppressedCells != 12 || p.LinkedCells != 6 {
		t.Errorf("structured form %+v, want 12 suppressed, 6 linked", p)
	}
	if got := p.Line(); !strings.Contains(got, " · 12 cells suppressed (<5, or 6 linked to earlier releases) · ") {
		t.Errorf("Line = %q", got)
	}
}
