package ui

// Running the cohort's analyses: the Run button's state, the run and its parts.

import (
	"context"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/report"
	"github.com/oncofed/oncofed/report/format"
)

// updateRunState enables Run only when an analysis can run, and says why not.
func (c *cohortPanel) updateRunState() {
	if c.run == nil {
		return
	}
	reason := ""
	switch {
	case c.ui.offline:
		reason = "Offline: new analyses cannot run until the network is back. Cached results stay available in the Library."
	case c.ui.study == "":
		reason = "Choose a study to run an analysis."
	case c.endpoint != nil && c.endpoint.Selected == "":
		reason = "Choose an endpoint."
	}
	if c.ui.running > 0 {
		c.run.Disable()
		c.cancel.Show()
		c.progress.Show()
		c.progress.Start()
		c.runState.SetText("Asking the sites…")
		c.runState.Show()
		return
	}
	c.cancel.Hide()
	c.progress.Stop()
	c.progress.Hide()
	c.sites.done()
	if reason != "" {
		c.run.Disable()
		c.runState.SetText(reason)
		c.runState.Show()
		return
	}
	c.run.Enable()
	c.runState.Hide()
}

// onRun runs the Kaplan–Meier analysis and the Table 1 of the cohort, after a warning when
// sites' policies would refuse it.
func (c *cohortPanel) onRun() {
	if c.run.Disabled() {
		return
	}
	if len(c.refusals) == 0 {
		c.ui.runAnalyses()
		return
	}
	text := widget.NewLabel(c.warning.Text)
	text.Wrapping = fyne.TextWrapWord
	if c.willAnswer == 0 {
		text.SetText(c.warning.Text + "\n\nNo site would answer: change the cohort or the grouping (a filter can leave out a rare group).")
		c.runDialog = dialog.NewCustom("No site would answer", "OK", text, c.ui.win)
	} else {
		// The safe choice is the prominent one: running without some sites changes the cohort.
		d := dialog.NewCustomWithoutButtons("Some sites will refuse", text, c.ui.win)
		cancel := widget.NewButton("Cancel", d.Hide)
		cancel.Importance = widget.HighImportance
		run := widget.NewButton("Run on the other "+format.Plural(c.willAnswer, "site", "sites"), func() {
			d.Hide()
			c.ui.runAnalyses()
		})
		d.SetButtons([]fyne.CanvasObject{run, cancel})
		c.runDialog = d
	}
	c.runDialog.Resize(fyne.NewSize(520, 0))
	c.runDialog.Show()
}

func (c *cohortPanel) onCancel() {
	c.ui.dropRuns()
	c.runState.SetText("Cancelled.")
	c.runState.Show()
}

// runParts are the results of one Run (generation gen) as they arrive.
type runParts struct {
	gen         int
	km, summary *app.Result
}

// onRunPart records a result of Run gen and, once both are in, says on both tabs when they
// come from different sites (one refused the second query), and why.
func (a *App) onRunPart(gen int, r *app.Result) {
	p := &a.runParts
	if gen != p.gen {
		return
	}
	switch r.Request.Kind {
	case protocol.KindSurvival:
		p.km = r
	case protocol.KindSummary:
		p.summary = r
	}
	note := report.SitesDiffer(report.Part{Name: "Table 1", Result: p.summary}, report.Part{Name: "the Kaplan–Meier curves", Result: p.km})
	if note != "" {
		a.survival.setStatus("⚠ " + note)
		showStatus(a.summary.status, "⚠ "+note)
	}
}

// runAnalyses runs Kaplan–Meier and Table 1 of the cohort and shows the Survival tab.
func (a *App) runAnalyses() {
	ctx, gen := a.newRunContext()
	a.runParts = runParts{gen: gen}
	a.survival.run(ctx, gen, a.cohort.Request(protocol.KindSurvival))
	a.summary.run(ctx, gen, a.summaryRequest())
	if req, ok := a.twoGroupCox(); ok {
		a.survival.runHR(ctx, gen, req)
	}
	a.selectTab(TabSurvival)
}

// twoGroupCox is the Cox model of the endpoint on the grouping variable when it has exactly
// two categories: its hazard ratio (stratified by site) goes into the Kaplan–Meier figure.
func (a *App) twoGroupCox() (app.Request, bool) {
	st := a.currentStudy()
	g := a.cohort.GroupBy()
	if st == nil || g == "" {
		return app.Request{}, false
	}
	v := st.Variable(g)
	if v == nil || v.Type != protocol.Categorical || len(v.Categories) != 2 {
		return app.Request{}, false
	}
	return KMHazardRatioRequest(a.cohort.Request(protocol.KindSurvival)), true
}

// runService runs req on the service off the UI goroutine and hands the result (or error)
// to done on the UI goroutine, unless the run was superseded meanwhile.
func (a *App) runService(ctx context.Context, gen int, req app.Request, done func(*app.Result, error)) {
	a.runJob(gen, func() func() {
		r, err := a.svc.Run(ctx, req)
		if err == nil && !r.Cached && req.Kind == protocol.KindSummary {
			// The default name lists every variable; "Table 1 by …" says it in the library.
			name := strings.TrimSuffix("Table 1 by "+req.GroupBy, " by ")
			if req.CohortName != "" {
				name += ", " + req.CohortName
			}
			name += " (" + req.Study + ")"
			if a.svc.Rename(ctx, r.ID, name) == nil {
				r.Name = name
			}
		}
		return func() {
			if err != nil && ctx.Err() == context.Canceled {
				return
			}
			done(r, err)
			a.library.onRefresh()
		}
	})
}

// runJob runs work (a call to the service) off the UI goroutine as part of run gen: Run
// shows it as running until it ends, and the function work returns is called on the UI
// goroutine — unless the run was superseded meanwhile (a new run, or the cohort changed).
func (a *App) runJob(gen int, work func() func()) {
	a.running++
	a.cohort.updateRunState()
	a.goWork(func() func() {
		done := work()
		return func() {
			if gen != a.runGen {
				return
			}
			a.running--
			a.cohort.updateRunState()
			done()
		}
	})
}

// secondaryJob runs work (a service call about a result already shown: the proportional-hazards
// check, the counts per level, the per-site fits, a patient's place among the cohort) off the
// UI goroutine, outside any Run: it neither resets the cohort panel's "sites answered" line nor
// cancels or supersedes a Run in flight, and a Run started after it leaves it alone. Its
// context ends with the app or after the query timeout; the returned cancel ends it sooner (a
// newer request of the same kind, another result shown), and then the function work returns
// is dropped. Otherwise that function runs on the UI goroutine.
func (a *App) secondaryJob(work func(ctx context.Context) func()) context.CancelFunc {
	ctx, cancel := context.WithTimeout(a.ctx, a.opt.QueryTimeout)
	a.goWork(func() func() {
		done := work(ctx)
		return func() {
			dropped := ctx.Err() == context.Canceled // cancel runs on this goroutine too
			cancel()
			if !dropped && done != nil {
				done()
			}
		}
	})
	return cancel
}

// studyVariables lists a study's variables that every site declares alike (all), and the
// categorical ones among them (cats), in catalog order.
