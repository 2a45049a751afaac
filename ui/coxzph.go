package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/report"
	"github.com/oncofed/oncofed/report/format"
)

// zphPanel is the Cox tab's proportional-hazards check under the hazard-ratio table: a button
// that runs R's cox.zph for the model shown (app.Service.CoxZPH: one more round of queries),
// the transform of time, and the table of each term and GLOBAL. It offers no residual plot:
// the plot's points are single patients' residuals, which no site releases (report.ZPHNoPlot).
type zphPanel struct {
	tab       *coxTab
	content   fyne.CanvasObject
	check     *widget.Button
	transform *widget.Select
	table     *fyne.Container
	caption   *widget.Label
	for_      *app.Result // the result the table is for

	// countsButton asks the patients and events per level (app.Service.CoxLevelCounts), which
	// the hazard-ratio table then shows; counts are those of for_.
	countsButton *widget.Button
	countsNote   *widget.Label // why some covariate has no counts
	counts       *app.LevelCounts

	// The check and the counts in flight (secondary jobs: they leave the Run alone), cancelled
	// when another result is shown.
	stopCheck, stopCounts context.CancelFunc
}

// zphTransformLabels names the transforms for the select, km (R's default) first.
var zphTransformLabels = map[string]string{
	analysis.ZPHKM:       "1 − KM",
	analysis.ZPHIdentity: "time",
	analysis.ZPHRank:     "rank of time",
}

func newZPHPanel(t *coxTab) *zphPanel {
	z := &zphPanel{tab: t}
	var opts []string
	for _, tr := range analysis.ZPHTransforms {
		opts = append(opts, zphTransformLabels[tr])
	}
	z.transform = widget.NewSelect(opts, nil)
	z.transform.Selected = opts[0]
	z.check = widget.NewButtonWithIcon("Check proportional hazards", theme.SearchIcon(), z.onCheck)
	z.check.Disable()
	z.table = container.New(gridTable{cols: 4})
	z.caption = widget.NewLabel("")
	z.caption.Wrapping = fyne.TextWrapWord
	z.caption.SizeName = theme.SizeNameCaptionText
	z.caption.Hide()
	z.countsButton = widget.NewButton("N and events per level", z.onCounts)
	z.countsButton.Disable()
	z.countsNote = widget.NewLabel("")
	z.countsNote.Wrapping = fyne.TextWrapWord
	z.countsNote.SizeName = theme.SizeNameCaptionText
	z.countsNote.Hide()
	// Two rows: one would widen the Cox tab beyond a 1024×700 window (TestFitsSmallScreens).
	z.content = container.NewVBox(container.NewHBox(z.countsButton), z.countsNote, container.NewHBox(z.check, z.transform), z.table, z.caption)
	return z
}

// selectedTransform is the transform chosen in the select.
func (z *zphPanel) selectedTransform() string {
	for tr, l := range zphTransformLabels {
		if l == z.transform.Selected {
			return tr
		}
	}
	return analysis.ZPHKM
}

// show resets the panel for the result r: its stored check, if it has one.
func (z *zphPanel) show(r *app.Result) {
	z.cancel()
	z.table.RemoveAll()
	z.table.Refresh()
	z.caption.Hide()
	z.for_ = r
	z.countsButton.Disable()
	showStatus(z.countsNote, "")
	if r != nil && r.Cox != nil && r.Cox.Form != protocol.CoxDPTables && len(r.Request.Cox.Levels) > 0 {
		z.countsButton.Enable()
	}
	if r == nil || r.Cox == nil || r.Cox.Form == protocol.CoxDPTables {
		z.check.Disable()
		if r != nil && r.Cox != nil {
			z.setNote("No proportional-hazards check for a model fitted on differentially private tables: the sites release no exact residual sums to a dp analyst.")
		}
		return
	}
	z.check.Enable()
	if !slices.Contains(z.tab.form.Options, formPooled) && z.transform.Selected == zphTransformLabels[analysis.ZPHKM] {
		// km and rank need counts per time that only sites allowing the pooled form release.
		z.transform.SetSelected(zphTransformLabels[analysis.ZPHIdentity])
	}
	if r.Cox.ZPH != nil {
		z.showCheck(r.Cox.ZPH)
	}
}

// cancel drops the check and the counts in flight.
func (z *zphPanel) cancel() {
	for _, stop := range []context.CancelFunc{z.stopCheck, z.stopCounts} {
		if stop != nil {
			stop()
		}
	}
	z.stopCheck, z.stopCounts = nil, nil
}

func (z *zphPanel) setNote(s string) {
	z.caption.SetText(s)
	z.caption.Show()
}

// onCheck runs the check for the result shown, off the UI goroutine.
func (z *zphPanel) onCheck() {
	t := z.tab
	r := t.result
	if r == nil {
		return
	}
	if t.host.Offline() {
		z.setNote("Offline: the proportional-hazards check needs the sites (one more round of queries).")
		return
	}
	transform := z.selectedTransform()
	z.check.Disable()
	z.setNote("Checking proportional hazards at every site…")
	svc := t.svc
	z.stopCheck = t.host.secondaryJob(func(ctx context.Context) func() {
		res, err := svc.CoxZPH(ctx, r, transform)
		return func() {
			z.stopCheck = nil
			z.check.Enable()
			if z.for_ != r {
				return // another result is shown now
			}
			if err != nil {
				z.table.RemoveAll()
				z.table.Refresh()
				z.setNote("No proportional-hazards check. " + ErrorText(err))
				return
			}
			z.showCheck(res)
		}
	})
}

// showCheck draws the table of a check (or why there is none).
func (z *zphPanel) showCheck(res *app.ZPHResult) {
	z.table.RemoveAll()
	if res.Error != "" {
		z.table.Refresh()
		z.setNote("No proportional-hazards check (" + res.Transform + "): " + res.Error)
		return
	}
	for _, h := range []string{"Proportional hazards", "χ²", "df", "p"} {
		z.table.Add(widget.NewLabelWithStyle(h, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	}
	for _, row := range report.ZPHRows(res, z.tab.host.names()) {
		z.table.Add(widget.NewLabelWithStyle(row.Label, fyne.TextAlignLeading, fyne.TextStyle{Italic: row.Global}))
		z.table.Add(widget.NewLabel(fmt.Sprintf("%.3f", row.ChiSq)))
		z.table.Add(widget.NewLabel(fmt.Sprint(row.DF)))
		z.table.Add(widget.NewLabel(format.PNumber(row.P)))
	}
	z.table.Refresh()
	z.setNote(report.ZPHCaption(res) + ". " + report.ZPHNoPlot)
}

// onCounts asks the patients and events per level for the result shown and redraws its
// hazard-ratio table with them; a level without counts says why under the table.
func (z *zphPanel) onCounts() {
	t := z.tab
	r := t.result
	if r == nil {
		return
	}
	if t.host.Offline() {
		showStatus(z.countsNote, "Offline: the counts per level need the sites (one Kaplan–Meier query per categorical covariate).")
		return
	}
	z.countsButton.Disable()
	svc := t.svc
	z.stopCounts = t.host.secondaryJob(func(ctx context.Context) func() {
		lc, err := svc.CoxLevelCounts(ctx, r)
		return func() {
			z.stopCounts = nil
			z.countsButton.Enable()
			if z.for_ != r {
				return
			}
			if err != nil {
				showStatus(z.countsNote, "No counts per level. "+ErrorText(err))
				return
			}
			z.counts = lc
			t.fillTable(r)
			showStatus(z.countsNote, strings.Join(report.LevelCountNotes(lc), "\n"))
		}
	})
}
