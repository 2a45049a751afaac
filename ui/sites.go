package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/report/format"
)

// sitesTab lists the network's sites: status, latency, data cut, patients as released and
// the disclosure policy.
type sitesTab struct {
	host    sitesHost
	content fyne.CanvasObject

	grid    *fyne.Container
	scroll  *container.Scroll
	state   *widget.Label
	records []app.SiteRecord
	loading bool
}

func newSitesTab(host sitesHost) *sitesTab {
	t := &sitesTab{host: host}
	t.grid = container.New(gridTable{cols: 6})
	t.state = widget.NewLabel("")
	t.state.Wrapping = fyne.TextWrapWord
	refresh := widget.NewButtonWithIcon("Refresh", theme.ViewRefreshIcon(), t.onRefresh)
	bar := container.NewHBox(widget.NewLabelWithStyle("Sites of the network", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), layout.NewSpacer(), refresh)
	t.scroll = container.NewScroll(t.grid)
	t.content = container.NewBorder(container.NewVBox(bar, t.state), nil, nil, nil, t.scroll)
	return t
}

// onRefresh asks the network for the sites' status (the cached list when offline).
func (t *sitesTab) onRefresh() {
	if t.loading {
		return
	}
	t.loading = true
	t.state.SetText("Asking the network…")
	svc, parent := t.host.service(), t.host.context()
	t.host.goWork(func() func() {
		ctx, cancel := context.WithTimeout(parent, 10*time.Second)
		defer cancel()
		recs, err := svc.Sites(ctx)
		off := svc.Offline()
		return func() {
			t.loading = false
			if err != nil {
				t.state.SetText("Sites unavailable. " + ErrorText(err))
				return
			}
			t.records = recs
			t.host.sitesSeen(recs, off)
			t.refreshTable()
		}
	})
}

// refreshTable redraws the grid for the current study.
func (t *sitesTab) refreshTable() {
	t.grid.RemoveAll()
	for _, h := range []string{"Site", "Status", "Latency", "Data cut", "Patients (released)", "Policy"} {
		t.grid.Add(widget.NewLabelWithStyle(h, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	}
	cat, study := t.host.catalogNow()
	for _, r := range t.records {
		status := "● online"
		imp := widget.SuccessImportance
		if !r.Online {
			status, imp = "○ offline", widget.DangerImportance
			if !r.LastSeen.IsZero() {
				status += ", seen " + app.Age(t.host.now(), r.LastSeen)
			}
		}
		st := widget.NewLabel(status)
		st.Importance = imp
		lat := "–"
		if r.Latency > 0 {
			lat = fmt.Sprintf("%d ms", r.Latency.Milliseconds())
			if r.Latency < time.Millisecond {
				lat = "<1 ms"
			}
		}
		cut := r.DataCuts[study]
		if cut == "" {
			cut = "–"
		}
		t.grid.Add(widget.NewLabel(r.Site))
		t.grid.Add(st)
		t.grid.Add(widget.NewLabel(lat))
		t.grid.Add(widget.NewLabel(cut))
		t.grid.Add(widget.NewLabel(patients(cat, r.Site, study)))
		t.grid.Add(widget.NewLabel(policyText(r.Policy)))
	}
	t.grid.Refresh()
	t.scroll.Refresh()
	if len(t.records) == 0 {
		t.state.SetText("No site known yet.")
	} else {
		t.state.SetText(fmt.Sprintf("%d sites; data cut and patients for study %s.", len(t.records), study))
	}
}

// patients is the site's released patient count for study, from the catalog.
func patients(cat *app.Catalog, site, study string) string {
	if cat == nil {
		return "–"
	}
	for _, c := range cat.Sites {
		if c.Site != site {
			continue
		}
		for _, s := range c.Studies {
			if s.Name == study {
				if s.Suppressed {
					return "<" + fmt.Sprint(c.Policy.MinCohort)
				}
				return format.Thousands(s.Patients)
			}
		}
		return "does not hold " + study
	}
	return "–"
}

// policyText says a site's policy in a line: "min cohort 10 · min cell 5 · 30-day bins · overlap guard".
func policyText(p *protocol.Policy) string {
	if p == nil {
		return "unknown"
	}
	var parts []string
	parts = append(parts, fmt.Sprintf("min cohort %d", p.MinCohort), fmt.Sprintf("min cell %d", p.MinCell))
	if p.BinDays > 0 {
		parts = append(parts, fmtNum(p.BinDays)+"-day bins")
	} else {
		parts = append(parts, "exact times")
	}
	if p.OverlapGuard {
		parts = append(parts, "overlap guard")
	}
	if p.DailyQueryBudget > 0 {
		parts = append(parts, fmt.Sprintf("%d queries/day", p.DailyQueryBudget))
	}
	return strings.Join(parts, " · ")
}
