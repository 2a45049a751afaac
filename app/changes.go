package app

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/report/format"
)

// Changes is what differs between an earlier result and a re-run of the same request: the
// "since the last tumor board" view. Numbers are NaN where they do not apply.
type Changes struct {
	From, To   time.Time
	SitesAdded []string // answered now, not before
	SitesLost  []string // answered before, not now
	DataCuts   []string // "inst3: 2026-09-30 → 2026-10-31"
	// Patients and events in the analysis (count: the total; KM: all groups; Cox: complete cases).
	PatientsBefore, PatientsAfter int
	EventsBefore, EventsAfter     int
	Groups                        []GroupChange // KM and count, by group (union of both)
	// PBefore/PAfter: the log-rank p-value (KM) or the likelihood-ratio test's (Cox).
	PBefore, PAfter float64
	Terms           []TermChange // Cox
	// Lines says all of it in words, most important first.
	Lines []string
}

// GroupChange is one group's patients and median survival before and after.
type GroupChange struct {
	Group                         string
	PatientsBefore, PatientsAfter int
	MedianBefore, MedianAfter     float64
}

// TermChange is one Cox term's hazard ratio and p-value before and after.
type TermChange struct {
	Term              string
	HRBefore, HRAfter float64
	PBefore, PAfter   float64
}

// Compare says what changed from old to cur (two renderings of the same request).
func Compare(old, cur *Result) *Changes {
	c := &Changes{From: old.Provenance.RanAt, To: cur.Provenance.RanAt, PBefore: math.NaN(), PAfter: math.NaN()}
	c.SitesAdded = difference(cur.Provenance.Answered, old.Provenance.Answered)
	c.SitesLost = difference(old.Provenance.Answered, cur.Provenance.Answered)
	oldCut := map[string]string{}
	for _, s := range old.Provenance.Sites {
		oldCut[s.Site] = s.DataCut
	}
	for _, s := range cur.Provenance.Sites {
		if o, ok := oldCut[s.Site]; ok && o != s.DataCut {
			c.DataCuts = append(c.DataCuts, fmt.Sprintf("%s: %s → %s", s.Site, o, s.DataCut))
		}
	}
	switch cur.Request.Kind {
	case protocol.KindCount:
		if old.Count != nil && cur.Count != nil {
			c.PatientsBefore, c.PatientsAfter = old.Count.Total.N, cur.Count.Total.N
			before := map[string]int{}
			for _, g := range old.Count.Groups {
				before[g.Group] = g.N.N
			}
			after := map[string]int{}
			for _, g := range cur.Count.Groups {
				after[g.Group] = g.N.N
			}
			for _, name := range union(sortedKeys(before), sortedKeys(after)) {
				c.Groups = append(c.Groups, GroupChange{Group: name, PatientsBefore: before[name], PatientsAfter: after[name], MedianBefore: math.NaN(), MedianAfter: math.NaN()})
			}
		}
	case protocol.KindSurvival:
		if old.KM != nil && cur.KM != nil {
			type stat struct {
				n, d int
				med  float64
			}
			collect := func(k *KMResult) (map[string]stat, int, int) {
				m := map[string]stat{}
				n, d := 0, 0
				for _, g := range k.Groups {
					st := stat{n: g.Table.Total(), d: g.Table.TotalEvents(), med: g.Median.Time}
					m[g.Group] = st
					n += st.n
					d += st.d
				}
				return m, n, d
			}
			before, nb, db := collect(old.KM)
			after, na, da := collect(cur.KM)
			c.PatientsBefore, c.PatientsAfter, c.EventsBefore, c.EventsAfter = nb, na, db, da
			for _, name := range union(sortedKeys(before), sortedKeys(after)) {
				b, okb := before[name]
				a, oka := after[name]
				if !okb {
					b.med = math.NaN()
				}
				if !oka {
					a.med = math.NaN()
				}
				c.Groups = append(c.Groups, GroupChange{Group: name, PatientsBefore: b.n, PatientsAfter: a.n, MedianBefore: b.med, MedianAfter: a.med})
			}
			if old.KM.LogRank != nil {
				c.PBefore = old.KM.LogRank.P
			}
			if cur.KM.LogRank != nil {
				c.PAfter = cur.KM.LogRank.P
			}
		}
	case protocol.KindCox:
		if old.Cox != nil && cur.Cox != nil && old.Cox.Fit != nil && cur.Cox.Fit != nil {
			of, cf := old.Cox.Fit, cur.Cox.Fit
			c.PatientsBefore, c.PatientsAfter, c.EventsBefore, c.EventsAfter = of.N, cf.N, of.Events, cf.Events
			c.PBefore, c.PAfter = of.LRT.P, cf.LRT.P
			idx := map[string]int{}
			for i, t := range of.Terms {
				idx[t] = i
			}
			for j, t := range cf.Terms {
				tc := TermChange{Term: t, HRBefore: math.NaN(), PBefore: math.NaN(), HRAfter: cf.HR[j], PAfter: cf.P[j]}
				if i, ok := idx[t]; ok {
					tc.HRBefore, tc.PBefore = of.HR[i], of.P[i]
				}
				c.Terms = append(c.Terms, tc)
			}
		}
	case protocol.KindSummary:
		if old.Summary != nil && cur.Summary != nil {
			last := func(t []Count) int {
				if len(t) == 0 {
					return 0
				}
				return t[len(t)-1].N
			}
			c.PatientsBefore, c.PatientsAfter = last(old.Summary.Table.N), last(cur.Summary.Table.N)
		}
	}
	c.Lines = c.describe()
	return c
}

func (c *Changes) describe() []string {
	var out []string
	if d := c.PatientsAfter - c.PatientsBefore; d != 0 {
		out = append(out, fmt.Sprintf("%+d patients (%d → %d)", d, c.PatientsBefore, c.PatientsAfter))
	} else {
		out = append(out, fmt.Sprintf("no new patients (%d)", c.PatientsAfter))
	}
	if d := c.EventsAfter - c.EventsBefore; d != 0 {
		out = append(out, fmt.Sprintf("%+d events (%d → %d)", d, c.EventsBefore, c.EventsAfter))
	}
	for _, g := range c.Groups {
		if !sameFloat(g.MedianBefore, g.MedianAfter) {
			out = append(out, fmt.Sprintf("%s: median %s → %s", groupLabel(g.Group), days(g.MedianBefore), days(g.MedianAfter)))
		}
		if g.PatientsBefore != g.PatientsAfter {
			out = append(out, fmt.Sprintf("%s: %+d patients", groupLabel(g.Group), g.PatientsAfter-g.PatientsBefore))
		}
	}
	if !sameFloat(c.PBefore, c.PAfter) {
		out = append(out, fmt.Sprintf("p %s → %s", format.PNumber(c.PBefore), format.PNumber(c.PAfter)))
	}
	for _, t := range c.Terms {
		if !sameFloat(t.HRBefore, t.HRAfter) {
			out = append(out, fmt.Sprintf("%s: HR %.3g → %.3g (p %s → %s)", t.Term, t.HRBefore, t.HRAfter, format.PNumber(t.PBefore), format.PNumber(t.PAfter)))
		}
	}
	for _, s := range c.SitesAdded {
		out = append(out, "site "+s+" now contributes")
	}
	for _, s := range c.SitesLost {
		out = append(out, "site "+s+" no longer contributes")
	}
	// Sites usually move their data cut together: say it once per (old → new) pair.
	moved := map[string][]string{}
	for _, d := range c.DataCuts {
		site, change, _ := strings.Cut(d, ": ")
		moved[change] = append(moved[change], site)
	}
	for _, change := range sortedKeys(moved) {
		sites := moved[change]
		if len(sites) == 1 {
			out = append(out, "data cut "+change+" at "+sites[0])
		} else {
			out = append(out, fmt.Sprintf("data cut %s at %d sites", change, len(sites)))
		}
	}
	return out
}

func groupLabel(g string) string {
	if g == "" {
		return "all patients"
	}
	return g
}

func sameFloat(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }

func days(x float64) string {
	if math.IsNaN(x) {
		return "not reached"
	}
	return strconv.FormatFloat(x, 'f', -1, 64) + " days"
}
