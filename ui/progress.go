package ui

import (
	"fmt"
	"sort"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/oncofed/oncofed/app"
)

// siteProgress shows, during a run, where each site stands: answered, waiting or refused (with
// the reason), over every query of the run (Kaplan–Meier, Table 1 and the hazard ratio go out
// together, a Cox fit sends one query per iteration). It lives on the UI goroutine and is fed
// app.Progress reports that the network sends through app.WithProgress.
type siteProgress struct {
	label   *widget.Label
	states  map[string]map[string]app.Progress // site → query ID → latest report
	running bool
}

func newSiteProgress() *siteProgress {
	l := widget.NewLabel("")
	l.Wrapping = fyne.TextWrapWord
	l.SizeName = theme.SizeNameCaptionText
	l.Hide()
	return &siteProgress{label: l, states: map[string]map[string]app.Progress{}}
}

// reset starts a new run.
func (p *siteProgress) reset() {
	p.states = map[string]map[string]app.Progress{}
	p.running = true
	p.refresh()
}

// update records one report.
func (p *siteProgress) update(r app.Progress) {
	m := p.states[r.Site]
	if m == nil {
		m = map[string]app.Progress{}
		p.states[r.Site] = m
	}
	// A late "waiting" never overwrites the answer of the same query.
	if old, ok := m[r.QueryID]; ok && old.State != app.SiteWaiting && r.State == app.SiteWaiting {
		return
	}
	m[r.QueryID] = r
	p.refresh()
}

// done marks the run finished: a site still waiting did not answer in time.
func (p *siteProgress) done() {
	if !p.running {
		return
	}
	p.running = false
	p.refresh()
}

// Text is what the label shows (tests).
func (p *siteProgress) Text() string { return p.label.Text }

func (p *siteProgress) refresh() {
	if len(p.states) == 0 {
		p.label.SetText("")
		p.label.Hide()
		return
	}
	var answered, waiting []string
	var refused []app.SiteProblem // the same reason from several sites is said once
	sites := make([]string, 0, len(p.states))
	for s := range p.states {
		sites = append(sites, s)
	}
	sort.Strings(sites)
	for _, s := range sites {
		var st app.SiteState = app.SiteAnswered
		why := ""
		for _, r := range p.states[s] {
			switch {
			case r.State == app.SiteRefused || r.State == app.SiteInvalid:
				st, why = app.SiteRefused, r.Message
			case r.State == app.SiteWaiting && st != app.SiteRefused:
				st = app.SiteWaiting
			}
		}
		switch st {
		case app.SiteRefused:
			// The rule's name ("overlap guard: …" → "overlap guard") fits the panel; the whole
			// reason is in the result's provenance.
			refused = append(refused, app.SiteProblem{Site: s, Message: app.SiteProblem{Message: why}.Rule()})
		case app.SiteWaiting:
			waiting = append(waiting, s)
		default:
			answered = append(answered, s)
		}
	}
	head := fmt.Sprintf("%d of %d sites answered", len(answered), len(sites))
	if !p.running && len(waiting) > 0 {
		head = fmt.Sprintf("%d of %d sites answered in time", len(answered), len(sites))
	}
	lines := []string{head}
	if len(waiting) > 0 {
		w := "waiting: "
		if !p.running {
			w = "no answer: "
		}
		lines = append(lines, w+strings.Join(waiting, ", "))
	}
	if len(refused) > 0 {
		lines = append(lines, "refused: "+refusedLine(refused))
	}
	if len(answered) > 0 && len(answered) < len(sites) {
		lines = append(lines, "answered: "+strings.Join(answered, ", "))
	}
	p.label.SetText(strings.Join(lines, "\n"))
	p.label.Show()
}

// refusedLine names the refusing sites, each reason once: "a, b (overlap guard); c".
func refusedLine(refused []app.SiteProblem) string {
	var parts []string
	for _, g := range app.GroupByReason(refused) {
		part := strings.Join(g.Sites, ", ")
		if g.Message != "" {
			part += " (" + g.Message + ")"
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, "; ")
}
