package ui

import (
	"fmt"
	"image/color"
	"slices"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/report"
)

// header is the top bar: the app's name, the network status and the study.
type header struct {
	ui      *App
	content fyne.CanvasObject
	status  *widget.Label
	notice  *widget.Label // a passing confirmation ("Saved …"), cleared after noticeFor
	noticeN int           // counts notices, so that an old timer clears only its own
	study   *widget.Select
	names   []string // the catalog's study names, in the order of study's options (one line each)
	present *widget.Button
	bar     *fyne.Container
}

func newHeader(a *App) *header {
	h := &header{ui: a}
	title := widget.NewLabelWithStyle("Oncofed", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	h.status = widget.NewLabel("")
	h.notice = widget.NewLabel("")
	h.notice.Importance = widget.SuccessImportance
	h.notice.Truncation = fyne.TextTruncateEllipsis
	h.study = widget.NewSelect(nil, func(line string) {
		if i := slices.Index(h.study.Options, line); i >= 0 {
			a.onStudy(h.names[i])
		}
	})
	h.study.PlaceHolder = "(no study)"
	h.present = widget.NewButtonWithIcon("Present", theme.MediaPlayIcon(), func() { a.library.onPresent() })
	network := widget.NewButtonWithIcon("", theme.SettingsIcon(), h.onNetwork)
	network.Importance = widget.LowImportance
	h.bar = container.NewHBox(title, widget.NewSeparator(), h.status, network, container.NewGridWrap(fyne.NewSize(200, h.status.MinSize().Height), h.notice), layout.NewSpacer(),
		widget.NewLabel("Study"), container.NewGridWrap(fyne.NewSize(280, h.study.MinSize().Height), h.study), h.present)
	h.content = container.NewVBox(container.NewPadded(h.bar), widget.NewSeparator())
	return h
}

// setStudies offers the catalog's studies, each named by its title, size and sites.
func (h *header) setStudies(studies []app.Study) {
	h.names = h.names[:0]
	lines := make([]string, 0, len(studies))
	for i := range studies {
		h.names = append(h.names, studies[i].Name)
		lines = append(lines, report.StudyLine(&studies[i]))
	}
	h.study.SetOptions(lines)
}

// selectStudy selects the study called name, as if the user had picked it (calls onStudy).
func (h *header) selectStudy(name string) {
	if i := slices.Index(h.names, name); i >= 0 {
		h.study.SetSelected(h.study.Options[i])
	}
}

// noticeFor is how long a confirmation stays in the header.
const noticeFor = 8 * time.Second

// showNotice confirms something done in the background ("✓ Saved kaplan-meier.png") in the
// header for noticeFor, without a dialog to dismiss.
func (h *header) showNotice(text string) {
	h.noticeN++
	n := h.noticeN
	h.notice.SetText(text)
	time.AfterFunc(noticeFor, func() {
		h.ui.opt.Do(func() {
			if h.noticeN == n {
				h.notice.SetText("")
			}
		})
	})
}

// updateStatus writes "● Demo network · 5/5 sites" (or the offline state).
func (h *header) updateStatus() {
	a := h.ui
	if a.offline {
		h.setStatus("○ "+a.opt.NetworkLabel+" · offline", widget.DangerImportance)
		return
	}
	if a.sitesAll == 0 {
		h.setStatus("● "+a.opt.NetworkLabel+" · connecting…", widget.MediumImportance)
		return
	}
	imp := widget.SuccessImportance
	if a.sitesUp < a.sitesAll {
		imp = widget.WarningImportance
	}
	h.setStatus(fmt.Sprintf("● %s · %d/%d sites", a.opt.NetworkLabel, a.sitesUp, a.sitesAll), imp)
}

func (h *header) setStatus(text string, imp widget.Importance) {
	h.status.Importance = imp
	h.status.SetText(text)
	h.bar.Refresh() // the status changed width: lay the bar out again
}

// offlineBanner is the single banner shown while the network cannot be reached.
type offlineBanner struct {
	content *fyne.Container
	label   *widget.Label
}

func newOfflineBanner() *offlineBanner {
	b := &offlineBanner{label: widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})}
	bg := canvas.NewRectangle(color.NRGBA{R: 0xD5, G: 0x5E, B: 0x00, A: 0x55})
	b.content = container.NewStack(bg, b.label)
	b.content.Hide()
	return b
}

func (b *offlineBanner) show(text string) {
	b.label.SetText(text)
	b.content.Show()
}

func (b *offlineBanner) hide() { b.content.Hide() }

// Text is the banner's text, "" when hidden.
func (b *offlineBanner) Text() string {
	if !b.content.Visible() {
		return ""
	}
	return b.label.Text
}
