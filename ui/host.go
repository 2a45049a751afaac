package ui

// What a tab needs from the window, by name: each tab holds the narrow interface it uses
// instead of the whole App, so a newcomer sees at the tab's type what it can reach.

import (
	"context"
	"io"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/report"
)

// viewHost is what a tab needs to show a result and let it leave the tab: the chart style,
// the study's words for its codes, the clock for "as of" lines, the window for dialogs, and
// the window's save and pin actions.
type viewHost interface {
	chartStyle() chart.Style
	names() report.Names
	now() time.Time
	window() fyne.Window
	saveFile(name string, write func(io.Writer) error)
	pinResult(r *app.Result, shown *app.Display)
}

// resultHost is what a tab that runs part of the cohort's Run and shows its result needs:
// the run (runService, onRunPart, so every part of one Run is compared for its sites), the
// study for names and labels, and what showing a result takes (viewHost). App implements it.
type resultHost interface {
	viewHost
	runService(ctx context.Context, gen int, req app.Request, done func(*app.Result, error))
	onRunPart(gen int, r *app.Result)
	currentStudy() *app.Study
	// service and secondaryJob ask the sites about a result already shown (the Survival
	// tab's cumulative incidence of a dp analyst, a release of its own).
	service() *app.Service
	secondaryJob(work func(ctx context.Context) func()) context.CancelFunc
}

// sitesHost is what the Sites tab needs: the service to ask, work off the UI goroutine, the
// clock, the catalog and study on show, and a way to tell the window what it saw (the
// header's "5 of 6 sites" and the offline state).
type sitesHost interface {
	service() *app.Service
	context() context.Context
	goWork(work func() func())
	now() time.Time
	catalogNow() (*app.Catalog, string)
	sitesSeen(recs []app.SiteRecord, offline bool)
}

// cohortHost is the cohort panel as an analysis tab sees it: the study on show, the
// cohort's request of a kind, and the sites whose policies refuse a pooled model.
type cohortHost interface {
	currentStudy() *app.Study
	cohortRequest(kind protocol.Kind) app.Request
	pooledRefusers(st *app.Study) []string
}

// runHost is what a tab that asks the sites needs: whether the app is offline, a new run
// (newRunContext; it supersedes the previous one) and its service call (runService), and a
// secondary job that leaves the Run alone (secondaryJob).
type runHost interface {
	Offline() bool
	newRunContext() (context.Context, int)
	runService(ctx context.Context, gen int, req app.Request, done func(*app.Result, error))
	secondaryJob(work func(ctx context.Context) func()) context.CancelFunc
}

var (
	_ resultHost  = (*App)(nil)
	_ sitesHost   = (*App)(nil)
	_ coxHost     = (*App)(nil)
	_ compareHost = (*App)(nil)
	_ modelHost   = (*App)(nil)
	_ screenHost  = (*App)(nil)
	_ libraryHost = (*App)(nil)
)

// rerunScreen re-runs the stored screen id on the Biomarkers tab, with progress and cancel.
func (a *App) rerunScreen(id int64, name string) { a.screen.rerun(id, name) }

// libraryChanged reloads the Library's list (a result was stored).
func (a *App) libraryChanged() { a.library.onRefresh() }

// runGroupedBy runs the cohort grouped by variable and shows its Kaplan–Meier curves.
func (a *App) runGroupedBy(variable string) {
	a.cohort.groupBy.SetSelected(variable)
	a.selectTab(TabSurvival)
	a.cohort.onRun()
}

// cohortRequest is the cohort panel's request of kind.
func (a *App) cohortRequest(kind protocol.Kind) app.Request { return a.cohort.Request(kind) }

// pooledRefusers lists the sites of st whose published policy does not allow pooled models
// (allow_pooled_cox); nil when every site allows them or no catalog is known.
func (a *App) pooledRefusers(st *app.Study) []string {
	var refuse []string
	if c := a.catalog; c != nil {
		allowed := map[string]bool{}
		for _, sc := range c.Sites {
			allowed[sc.Site] = sc.Policy.AllowPooledCox
		}
		for _, site := range st.Sites {
			if !allowed[site] {
				refuse = append(refuse, site)
			}
		}
	}
	return refuse
}

// dpAnalyst reports whether the last catalog gives the analyst the dp role at a site holding st.
func (a *App) dpAnalyst(st *app.Study) bool { return st != nil && a.catalog.DPRole(st.Name) }

// service is the app's Service.
func (a *App) service() *app.Service { return a.svc }

// context is the app's lifetime context, cancelled when the window closes.
func (a *App) context() context.Context { return a.ctx }

// catalogNow is the catalog and the study on show.
func (a *App) catalogNow() (*app.Catalog, string) { return a.catalog, a.study }

// sitesSeen records a fresh list of sites: the header's online count (unless offline) and the
// offline state.
func (a *App) sitesSeen(recs []app.SiteRecord, offline bool) {
	if !offline {
		up := 0
		for _, r := range recs {
			if r.Online {
				up++
			}
		}
		a.sitesUp, a.sitesAll = up, len(recs)
	}
	a.setOffline(offline, time.Time{})
	a.header.updateStatus()
}

// now is the app's clock (Options.Now).
func (a *App) now() time.Time { return a.opt.Now() }

// window is the main window, the parent of dialogs.
func (a *App) window() fyne.Window { return a.win }

// saveFile asks where to save name and writes it off the UI goroutine.
func (a *App) saveFile(name string, write func(io.Writer) error) {
	d := dialog.NewFileSave(func(wc fyne.URIWriteCloser, err error) {
		if err != nil {
			a.showError("Export", err)
			return
		}
		if wc == nil {
			return
		}
		a.writeExport(wc, write)
	}, a.win)
	d.SetFileName(name)
	d.Show()
}

// writeExport writes an export to wc off the UI goroutine and confirms it in the header
// ("✓ Saved kaplan-meier-nsclc.png"), or shows why it failed.
func (a *App) writeExport(wc fyne.URIWriteCloser, write func(io.Writer) error) {
	a.goWork(func() func() {
		werr := write(wc)
		if cerr := wc.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return func() { a.showError("Export", app.WrapError(app.EInternal, werr, "the file could not be written")) }
		}
		return func() { a.header.showNotice("✓ Saved " + wc.URI().Name()) }
	})
}

// pinResult pins r for presentation mode, to be drawn as shown.
func (a *App) pinResult(r *app.Result, shown *app.Display) {
	if r == nil || r.ID == 0 {
		return
	}
	id := r.ID
	a.goWork(func() func() {
		err := a.svc.Pin(a.ctx, id, true, shown)
		return func() {
			if err != nil {
				a.showError("Pin", err)
				return
			}
			r.Pinned = true
			a.library.onRefresh()
		}
	})
}
