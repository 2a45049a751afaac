package ui

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/report"
)

// libraryTab lists the results stored in the cache, pinned first, with their provenance and
// age; each can be opened (rendered offline from its stored aggregates), renamed, pinned,
// deleted or re-run with what changed since.
type libraryTab struct {
	host    libraryHost
	svc     libraryService
	content fyne.CanvasObject

	list     *widget.List
	detail   *widget.Label
	open     *widget.Button
	rename   *widget.Button
	pin      *widget.Button
	del      *widget.Button
	rerun    *widget.Button
	state    *widget.Label
	items    []app.ResultSummary // every network's (Service.Library)
	networks map[string]string   // network ID → name
	selected int
	loading  bool
	again    bool
}

// libraryHost is what the Library tab needs from the window: whether it is offline, the clock,
// work off the UI goroutine (a re-run is a secondary job: it leaves the Run alone), dialogs
// and saving, and the window's other parts: a result opens in its tab, a stored screen re-runs
// on the Biomarkers tab, the pinned results present in a window of their own.
type libraryHost interface {
	Offline() bool
	now() time.Time
	context() context.Context
	goWork(work func() func())
	secondaryJob(work func(ctx context.Context) func()) context.CancelFunc
	window() fyne.Window
	showError(doing string, err error)
	saveFile(name string, write func(io.Writer) error)
	openResult(id int64)
	showResult(r *app.Result)
	showChanges(r *app.Result, ch *app.Changes)
	rerunScreen(id int64, name string)
	present(ss []slide) *presentation
}

// libraryService is the part of the service the Library tab calls: the cache's results (every
// network's), opening, renaming, pinning, deleting and re-running one, and the network
// connected.
type libraryService interface {
	Network() app.NetworkInfo
	Library(ctx context.Context, f app.ResultFilter) ([]app.ResultSummary, map[string]string, error)
	Open(ctx context.Context, id int64) (*app.Result, error)
	StudyOf(ctx context.Context, r *app.Result) *app.Study
	Rename(ctx context.Context, id int64, name string) error
	Pin(ctx context.Context, id int64, pinned bool, shown *app.Display) error
	Delete(ctx context.Context, id int64) error
	Rerun(ctx context.Context, id int64) (*app.Result, *app.Changes, error)
}

func newLibraryTab(host libraryHost, svc libraryService) *libraryTab {
	t := &libraryTab{host: host, svc: svc, selected: -1}
	t.list = widget.NewList(func() int { return len(t.items) }, func() fyne.CanvasObject {
		l := widget.NewLabel("")
		l.Truncation = fyne.TextTruncateEllipsis
		return l
	}, func(id widget.ListItemID, o fyne.CanvasObject) {
		if id < len(t.items) {
			o.(*widget.Label).SetText(t.itemText(t.items[id]))
		}
	})
	t.list.OnSelected = func(id widget.ListItemID) { t.selected = id; t.updateDetail() }
	t.list.OnUnselected = func(widget.ListItemID) { t.selected = -1; t.updateDetail() }
	t.detail = widget.NewLabel("Select a result.")
	t.detail.Wrapping = fyne.TextWrapWord
	t.open = widget.NewButtonWithIcon("Open", theme.FolderOpenIcon(), t.onOpen)
	t.rename = widget.NewButtonWithIcon("Rename", theme.DocumentCreateIcon(), t.onRename)
	t.pin = widget.NewButtonWithIcon("Pin", theme.ContentAddIcon(), t.onPin)
	t.del = widget.NewButtonWithIcon("Delete", theme.DeleteIcon(), t.onDelete)
	t.rerun = widget.NewButtonWithIcon("Re-run: what changed", theme.ViewRefreshIcon(), t.onRerun)
	t.state = widget.NewLabel("")
	present := widget.NewButtonWithIcon("Present pinned", theme.MediaPlayIcon(), t.onPresent)
	deck := widget.NewButtonWithIcon("Export deck (PDF)", theme.DocumentSaveIcon(), t.onExportDeck)
	bar := container.NewHBox(widget.NewLabelWithStyle("Results library", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		t.state, layout.NewSpacer(), present, deck)
	buttons := container.NewHBox(t.open, t.rename, t.pin, t.del, t.rerun)
	bottom := container.NewVBox(widget.NewSeparator(), t.detail, buttons)
	t.content = container.NewBorder(bar, bottom, nil, nil, t.list)
	t.updateDetail()
	return t
}

func kindName(k protocol.Kind) string {
	switch k {
	case protocol.KindSurvival:
		return "Kaplan–Meier"
	case protocol.KindSummary:
		return "Table 1"
	case protocol.KindCox:
		return "Cox model"
	case protocol.KindCount:
		return "Count"
	}
	return string(k)
}

func (t *libraryTab) itemText(s app.ResultSummary) string {
	pin := "   "
	if s.Pinned {
		pin = "★ "
	}
	line := fmt.Sprintf("%s%s · %d of %d sites · %s", pin, s.Name, s.Answered, s.Expected, app.Age(t.host.now(), s.RanAt))
	if t.otherNetwork(s) {
		line += " · on " + t.networkName(s.Network)
	}
	return line
}

// otherNetwork reports whether s was computed on another network than the one connected.
func (t *libraryTab) otherNetwork(s app.ResultSummary) bool {
	return s.Network != t.svc.Network().ID
}

// networkName names a network by its name as last connected (its ID if unknown).
func (t *libraryTab) networkName(id string) string {
	if n := t.networks[id]; n != "" {
		return n
	}
	return id
}

// onRefresh reloads the list from the cache.
func (t *libraryTab) onRefresh() {
	if t.loading {
		t.again = true
		return
	}
	t.loading = true
	svc, parent := t.svc, t.host.context()
	t.host.goWork(func() func() {
		items, names, err := svc.Library(parent, app.ResultFilter{Limit: 500})
		return func() {
			t.loading = false
			if t.again {
				t.again = false
				defer t.onRefresh()
			}
			if err != nil {
				t.state.SetText("The library cannot be read. " + ErrorText(err))
				return
			}
			var keep int64 = -1
			if t.selected >= 0 && t.selected < len(t.items) {
				keep = t.items[t.selected].ID
			}
			t.items, t.networks = items, names
			t.selected = -1
			t.list.UnselectAll()
			for i, it := range items {
				if it.ID == keep {
					t.list.Select(i)
				}
			}
			t.state.SetText(fmt.Sprintf("%d results", len(items)))
			t.list.Refresh()
			t.updateDetail()
		}
	})
}

// Items returns the listed results (tests).
func (t *libraryTab) Items() []app.ResultSummary { return t.items }

func (t *libraryTab) current() *app.ResultSummary {
	if t.selected < 0 || t.selected >= len(t.items) {
		return nil
	}
	return &t.items[t.selected]
}

func (t *libraryTab) updateDetail() {
	s := t.current()
	buttons := []*widget.Button{t.open, t.rename, t.pin, t.del, t.rerun}
	if s == nil {
		t.detail.SetText("Select a result to open it (offline, from its stored aggregates), rename, pin, delete or re-run it.")
		for _, b := range buttons {
			b.Disable()
		}
		return
	}
	for _, b := range buttons {
		b.Enable()
	}
	where := ""
	if t.host.Offline() {
		t.rerun.Disable()
	}
	if t.otherNetwork(*s) {
		// A re-run asks the network that computed it, which is not the one connected.
		t.rerun.Disable()
		where = " · on " + t.networkName(s.Network) + " (connect to it to re-run)"
	}
	if s.Pinned {
		t.pin.SetText("Unpin")
	} else {
		t.pin.SetText("Pin")
	}
	t.detail.SetText(fmt.Sprintf("%s\n%s on study %s · computed %s (%s) · %d of %d sites answered%s",
		s.Name, kindName(s.Kind), s.Study, s.RanAt.Local().Format("2006-01-02 15:04"), app.Age(t.host.now(), s.RanAt),
		s.Answered, s.Expected, where))
}

// onOpen renders the selected result from the cache and shows it in its tab.
func (t *libraryTab) onOpen() {
	s := t.current()
	if s == nil {
		return
	}
	t.host.openResult(s.ID)
}

// loadRequest puts a stored result's study, endpoint, grouping and cohort into the builder.
// A study the network does not list now leaves the builder alone; a cohort the panel cannot
// show (a CLI filter with "or") is said so in the panel instead of being half-loaded.
func (a *App) loadRequest(req app.Request) {
	if a.catalog == nil || a.catalog.Study(req.Study) == nil {
		return
	}
	if req.Study != a.study {
		a.header.selectStudy(req.Study) // a fresh panel and tabs for that study
	}
	group := req.GroupBy
	if req.Kind == protocol.KindCox {
		group = "" // a model's grouping is its covariates, not the panel's group-by
	}
	if err := a.cohort.load(req.Cohort, req.Endpoint, group, req.Merge); err != nil {
		a.cohort.setNote("The opened result's cohort cannot be edited here (" + ErrorText(err) + "): " +
			protocol.FormatFilter(req.Cohort) + ".")
	}
}

// openResult loads result id from the cache (no network) and shows it.
func (a *App) openResult(id int64) {
	a.goWork(func() func() {
		r, err := a.svc.Open(a.ctx, id)
		return func() {
			if err != nil {
				a.showError("Opening a saved result", err)
				return
			}
			a.showResult(r)
		}
	})
}

// showResult shows r in the tab of its kind, with its study, endpoint, grouping and cohort in
// the builder so that the next Run starts from it.
func (a *App) showResult(r *app.Result) {
	a.loadRequest(r.Request)
	switch {
	case r.KM != nil:
		a.survival.opts.HR = nil // a hazard ratio belongs to the run it came with
		a.survival.show(r)
		a.selectTab(TabSurvival)
		if r.Request.GroupBy != "" && len(r.KM.Groups) == 2 {
			// The HR fitted with this result is in the library too: put it back.
			svc, ctx, req := a.svc, a.ctx, KMHazardRatioRequest(r.Request)
			a.goWork(func() func() {
				c, err := svc.Latest(ctx, req)
				return func() {
					if err != nil || a.survival.result != r {
						return
					}
					a.survival.opts.HR = hazardRatio(c)
					a.survival.redraw()
				}
			})
		}
	case r.Summary != nil:
		a.summary.show(r)
		a.selectTab(TabSummary)
	case r.Cox != nil && isPrognosticModel(r):
		a.model.load(r.Request.Cox)
		a.model.show(r) // with its validation and penalty
		a.selectTab(TabModel)
	case r.Cox != nil:
		a.cox.load(r.Request.Cox)
		a.cox.show(r)
		a.selectTab(TabCox)
	case r.IPW != nil:
		a.compare.show(r)
		a.selectTab(TabCompare)
	case r.Screen != nil:
		a.screen.show(r.Screen)
		a.selectTab(TabScreen)
	case r.Count != nil:
		dialog.ShowInformation(r.Name, "Pooled cohort size: "+FormatCount(r.Count.Total)+"\n"+report.PrivacyLine(r, a.opt.Now()), a.win)
	}
}

func (t *libraryTab) onRename() {
	s := t.current()
	if s == nil {
		return
	}
	id := s.ID
	e := widget.NewEntry()
	e.SetText(s.Name)
	e.Validator = func(v string) error {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("a name is needed")
		}
		return nil
	}
	dialog.ShowForm("Rename result", "Rename", "Cancel", []*widget.FormItem{widget.NewFormItem("Name", e)}, func(ok bool) {
		if !ok {
			return
		}
		name := strings.TrimSpace(e.Text)
		t.mutate("Rename", func(ctx context.Context) error { return t.svc.Rename(ctx, id, name) })
	}, t.host.window())
}

func (t *libraryTab) onPin() {
	s := t.current()
	if s == nil {
		return
	}
	id, pinned := s.ID, !s.Pinned
	t.mutate("Pin", func(ctx context.Context) error { return t.svc.Pin(ctx, id, pinned, nil) })
}

func (t *libraryTab) onDelete() {
	s := t.current()
	if s == nil {
		return
	}
	id, name := s.ID, s.Name
	dialog.ShowConfirm("Delete result", "Delete “"+name+"” and its stored aggregates? This cannot be undone.", func(ok bool) {
		if ok {
			t.mutate("Delete", func(ctx context.Context) error { return t.svc.Delete(ctx, id) })
		}
	}, t.host.window())
}

// mutate runs a cache change off the UI goroutine and reloads the list.
func (t *libraryTab) mutate(what string, f func(context.Context) error) {
	parent := t.host.context()
	t.host.goWork(func() func() {
		err := f(parent)
		return func() {
			if err != nil {
				t.host.showError(what, err)
			}
			t.onRefresh()
		}
	})
}

// onRerun runs the selected result's request again and says what changed.
func (t *libraryTab) onRerun() {
	s := t.current()
	if s == nil {
		return
	}
	if t.host.Offline() {
		dialog.ShowInformation("Re-run", "Offline: a result can be re-run once the network is back.", t.host.window())
		return
	}
	if s.Kind == protocol.KindScreen {
		t.host.rerunScreen(s.ID, s.Name) // on the Biomarkers tab, with progress and cancel
		return
	}
	id := s.ID
	t.state.SetText("Re-running “" + s.Name + "”…")
	svc := t.svc
	t.host.secondaryJob(func(ctx context.Context) func() {
		r, ch, err := svc.Rerun(ctx, id)
		return func() {
			t.onRefresh()
			if err != nil {
				t.host.showError("Re-run", err)
				return
			}
			t.host.showResult(r)
			t.host.showChanges(r, ch)
		}
	})
}

// showChanges says what changed in the re-run r since the result it re-ran.
func (a *App) showChanges(r *app.Result, ch *app.Changes) {
	lines := ch.Lines
	if len(lines) == 0 {
		lines = []string{"nothing changed"}
	}
	msg := fmt.Sprintf("Since %s:\n• %s", ch.From.Local().Format("2006-01-02 15:04"), strings.Join(lines, "\n• "))
	dialog.ShowInformation("What changed — "+r.Name, msg, a.win)
}

// pinnedResults opens every pinned result that has a figure (off the UI goroutine), each with
// the study its network's catalog last described, which names its figure.
func (t *libraryTab) pinnedResults(ctx context.Context) ([]slide, error) {
	items, _, err := t.svc.Library(ctx, app.ResultFilter{Pinned: true}) // a tumor board's pins, whichever hub
	if err != nil {
		return nil, err
	}
	var out []slide
	for i := len(items) - 1; i >= 0; i-- { // oldest pinned first: the order they were made
		r, err := t.svc.Open(ctx, items[i].ID)
		if err != nil {
			return nil, err
		}
		s := slide{r: r, names: report.Names{From: t.svc.StudyOf(ctx, r)}}
		if f, _ := report.Slide(r, s.names, chart.PresentationStyle(), t.host.now()); f != nil {
			out = append(out, s)
		}
	}
	return out, nil
}

func (t *libraryTab) onPresent() {
	t.withPinned("Presentation", "Pin a result with a figure first (Pin on the Survival, Cox or Compare treatments tab, or in the Library): each pinned figure is a slide, drawn as it was shown when pinned.",
		func(ss []slide) { t.host.present(ss) })
}

func (t *libraryTab) onExportDeck() {
	t.withPinned("Export deck", "Pin a result with a figure first (Survival, Cox or Compare treatments tab): each pinned figure is a page.", func(ss []slide) {
		now := t.host.now()
		t.host.saveFile("oncofed-deck.pdf", func(w io.Writer) error { return writeDeck(w, ss, now) })
	})
}

// withPinned opens the pinned results off the UI goroutine, then hands them to use on it; an
// error, or no pinned figure (the reason none says), is shown in a dialog titled what.
func (t *libraryTab) withPinned(what, none string, use func([]slide)) {
	a := t.host
	a.goWork(func() func() {
		ctx, cancel := context.WithTimeout(a.context(), 30*time.Second)
		defer cancel()
		rs, err := t.pinnedResults(ctx)
		return func() {
			switch {
			case err != nil:
				a.showError(what, err)
			case len(rs) == 0:
				dialog.ShowInformation(what, none, a.window())
			default:
				use(rs)
			}
		}
	})
}
