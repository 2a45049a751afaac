package ui

import (
	"context"
	"fmt"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/assets"
	"github.com/oncofed/oncofed/chart"
	"github.com/oncofed/oncofed/report"
)

// Options configures the desktop app. The zero value works: no live feasibility, fyne.Do for
// posting to the UI goroutine, a 400 ms debounce.
type Options struct {
	// Network answers the live feasibility counts, which go straight to the sites and are not
	// stored in the results library; nil turns live feasibility off.
	Network app.Network
	// Analyst is the identity sent with feasibility counts (the same the Service uses, so the
	// sites' feasibility budget and audit log see one analyst; feasibility counts are
	// approximate and the sites' overlap guard does not remember them).
	Analyst string
	// NetworkLabel names the network in the header ("Demo network").
	NetworkLabel string
	// Notices are the Service's connectivity changes (wire app.WithNotify to send on it).
	Notices <-chan app.Notice
	// Do runs f on the UI goroutine; nil means fyne.Do. Tests inject a queue they drain.
	Do func(f func())
	// Debounce is how long the cohort must stay unchanged before feasibility is asked.
	Debounce time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// QueryTimeout bounds one analysis; 0 means 60 s.
	QueryTimeout time.Duration
	// Keyring keeps the hub credentials chosen in the Network dialog (oskeyring's); nil, or one
	// that is not Available, stores none and has them asked for at each start.
	Keyring app.Keyring
}

// App is the desktop app's main window: a header with the network status and the study, the
// cohort panel on the left, and the analyses of that cohort in tabs. Every network and disk
// call runs on a goroutine of its own and comes back through Options.Do, so a slow site never
// freezes the window.
type App struct {
	fy  fyne.App
	win fyne.Window
	svc *app.Service
	opt Options

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// UI state: read and written on the UI goroutine only.
	catalog   *app.Catalog
	study     string
	offline   bool
	offlineAt time.Time
	sitesUp   int
	sitesAll  int
	running   int
	runCancel context.CancelFunc
	runGen    int
	runParts  runParts // the results of the latest Run, to compare their sites

	header   *header
	banner   *offlineBanner
	cohort   *cohortPanel
	summary  *summaryTab
	survival *survivalTab
	cox      *coxTab
	compare  *compareTab
	screen   *screenTab
	model    *modelTab
	sites    *sitesTab
	library  *libraryTab
	tabs     *container.AppTabs
}

// Tab names, in order.
const (
	TabSummary  = "Summary"
	TabSurvival = "Survival"
	TabCox      = "Cox"
	TabCompare  = "Compare treatments"
	TabScreen   = "Biomarkers"
	TabSites    = "Sites"
	TabLibrary  = "Library"
)

// New builds the main window of fy on svc. Call Start to load the catalog and begin.
func New(fy fyne.App, svc *app.Service, opt Options) *App {
	if svc == nil {
		panic("ui: New needs a service")
	}
	if opt.Do == nil {
		opt.Do = fyne.Do
	}
	if opt.Debounce <= 0 {
		opt.Debounce = 400 * time.Millisecond
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.QueryTimeout <= 0 {
		opt.QueryTimeout = 60 * time.Second
	}
	if opt.NetworkLabel == "" {
		opt.NetworkLabel = svc.Network().Name
	}
	a := &App{fy: fy, svc: svc, opt: opt}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.win = fy.NewWindow("Oncofed")
	a.win.SetIcon(Icon())
	a.buildWindow()
	return a
}

// Icon is the application icon as a Fyne resource.
func Icon() fyne.Resource { return fyne.NewStaticResource("oncofed.png", assets.IconPNG) }

// Window returns the main window.
func (a *App) Window() fyne.Window { return a.win }

func (a *App) buildWindow() {
	a.header = newHeader(a)
	a.banner = newOfflineBanner()
	a.cohort = newCohortPanel(a)
	a.summary = newSummaryTab(a, a.opt.Do)
	a.survival = newSurvivalTab(a, a.opt.Do)
	a.cox = newCoxTab(a, a.svc, a.opt.Do)
	a.compare = newCompareTab(a, a.opt.Do)
	a.screen = newScreenTab(a, a.svc, a.opt.Do)
	a.model = newModelTab(a, a.svc, a.opt.Do)
	a.sites = newSitesTab(a)
	a.library = newLibraryTab(a, a.svc)
	a.tabs = container.NewAppTabs(
		container.NewTabItem(TabSummary, a.summary.content),
		container.NewTabItem(TabSurvival, a.survival.content),
		container.NewTabItem(TabCox, a.cox.content),
		container.NewTabItem(TabCompare, a.compare.content),
		container.NewTabItem(TabScreen, a.screen.content),
		container.NewTabItem(TabModel, a.model.content),
		container.NewTabItem(TabSites, a.sites.content),
		container.NewTabItem(TabLibrary, a.library.content),
	)
	a.tabs.OnSelected = func(t *container.TabItem) { a.onTabSelected(t.Text) }
	left := container.New(fixedWidth{width: 290}, a.cohort.content)
	top := container.NewVBox(a.header.content, a.banner.content)
	a.win.SetContent(container.NewBorder(top, nil, container.NewHBox(left, widget.NewSeparator()), nil, a.tabs))
	w := float32(a.fy.Preferences().FloatWithFallback("window.width", 1280))
	h := float32(a.fy.Preferences().FloatWithFallback("window.height", 800))
	a.win.Resize(fyne.NewSize(w, h))
	a.win.SetCloseIntercept(a.quit)
	a.addShortcuts()
}

// FitScreen keeps the window within a screen (its work area) of width × height pixels: a
// window larger than it — the default 1280×800 on a 1024×700 display, or a size remembered
// from a larger screen — is shrunk to it and centred. Fyne has no screen size to offer, so
// main.go asks GLFW and calls this once the window is shown (its canvas knows its scale).
func (a *App) FitScreen(width, height int) {
	scale := a.win.Canvas().Scale()
	if scale <= 0 {
		scale = 1
	}
	size := a.win.Canvas().Size()
	fit := fitWithin(size, fyne.NewSize(float32(width)/scale, float32(height)/scale))
	if fit != size {
		a.win.Resize(fit)
		a.win.CenterOnScreen()
	}
}

// fitWithin is size shrunk to screen where it is larger (an unknown screen, 0, shrinks
// nothing).
func fitWithin(size, screen fyne.Size) fyne.Size {
	if screen.Width > 0 {
		size.Width = min(size.Width, screen.Width)
	}
	if screen.Height > 0 {
		size.Height = min(size.Height, screen.Height)
	}
	return size
}

// quit remembers the window's size, stops the app's work and closes the window (Ctrl+Q, or
// the window's close button).
func (a *App) quit() {
	s := a.win.Canvas().Size()
	a.fy.Preferences().SetFloat("window.width", float64(s.Width))
	a.fy.Preferences().SetFloat("window.height", float64(s.Height))
	a.Close()
	a.win.Close()
}

func (a *App) addShortcuts() {
	c := a.win.Canvas()
	c.AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyReturn, Modifier: fyne.KeyModifierShortcutDefault}, func(fyne.Shortcut) { a.cohort.onRun() })
	c.AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyE, Modifier: fyne.KeyModifierShortcutDefault}, func(fyne.Shortcut) { a.survival.onExport() })
	c.AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyP, Modifier: fyne.KeyModifierShortcutDefault}, func(fyne.Shortcut) { a.library.onPresent() })
	c.AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyQ, Modifier: fyne.KeyModifierShortcutDefault}, func(fyne.Shortcut) { a.quit() })
}

// Start loads the cached catalog at once, refreshes it and the site list from the network in
// the background, and starts listening for connectivity notices.
func (a *App) Start() {
	if a.opt.Notices != nil {
		a.goWork(func() func() {
			for {
				select {
				case <-a.ctx.Done():
					return nil
				case n, ok := <-a.opt.Notices:
					if !ok {
						return nil
					}
					a.opt.Do(func() { a.onNotice(n) })
				}
			}
		})
	}
	a.header.setStatus("connecting…", widget.MediumImportance)
	a.goWork(func() func() {
		cached, updates, err := a.svc.LoadCatalog(a.ctx)
		if err != nil {
			return func() { a.showError("Loading the study catalog", err) }
		}
		a.opt.Do(func() {
			if cached != nil {
				a.onCatalog(cached)
			}
		})
		u, ok := <-updates
		if !ok {
			return func() { a.setOffline(true, a.catalogTime(cached)) }
		}
		if u.Err != nil {
			return func() {
				if app.ErrorCode(u.Err) == app.EUnavailable {
					a.setOffline(true, a.catalogTime(cached))
				} else {
					a.showError("Refreshing the study catalog", u.Err)
				}
			}
		}
		return func() {
			a.setOffline(false, time.Time{})
			a.onCatalog(u.Catalog)
			a.sites.onRefresh()
			if len(u.Changes) > 0 && !u.First {
				a.cohort.setNote("Since last time: " + joinMax(u.Changes, 3))
			} else if w := dictionaryWarnings(u.Catalog); len(w) > 0 {
				// Sites of a study that publish different dictionaries mix definitions.
				a.cohort.setNote("Warning: " + joinMax(w, 2))
			}
		}
	})
	a.library.onRefresh()
}

// dictionaryWarnings lists the studies of c whose sites publish different dictionaries.
func dictionaryWarnings(c *app.Catalog) []string {
	if c == nil {
		return nil
	}
	var out []string
	for i := range c.Studies {
		if w := c.Studies[i].DictionaryWarning(); w != "" {
			out = append(out, w)
		}
	}
	return out
}

func (a *App) catalogTime(c *app.Catalog) time.Time {
	if c == nil {
		return time.Time{}
	}
	return c.FetchedAt
}

// ShowAndRun shows the window and runs the app's event loop.
func (a *App) ShowAndRun() {
	a.Start()
	a.win.ShowAndRun()
}

// Close cancels every call in flight and waits for their goroutines.
func (a *App) Close() {
	a.cancel()
	a.wg.Wait()
}

// goWork runs work on a goroutine of its own; the function it returns (if any) then runs on
// the UI goroutine.
func (a *App) goWork(work func() func()) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if f := work(); f != nil {
			a.opt.Do(f)
		}
	}()
}

// onCatalog installs a catalog: the study list, and the cohort panel for the chosen study.
func (a *App) onCatalog(c *app.Catalog) {
	a.catalog = c
	var names []string
	for _, s := range c.Studies {
		names = append(names, s.Name)
	}
	a.sitesAll = len(c.Sites) + len(c.Missing)
	a.sitesUp = len(c.Sites)
	a.header.setStudies(c.Studies)
	study := a.study
	if c.Study(study) == nil {
		study = a.fy.Preferences().StringWithFallback("study", "")
	}
	if c.Study(study) == nil && len(names) > 0 {
		study = names[0]
		for _, n := range names { // the demo's flagship study first
			if n == "nsclc" {
				study = n
			}
		}
	}
	a.header.updateStatus()
	if study != "" {
		a.header.selectStudy(study) // calls onStudy
	}
	if st := c.Study(a.study); st != nil {
		a.cox.offerForms(st) // a refreshed catalog may carry changed policies for the same study
	}
}

// onStudy switches the study.
func (a *App) onStudy(name string) {
	if name == a.study || a.catalog == nil {
		return
	}
	st := a.catalog.Study(name)
	if st == nil {
		return
	}
	if a.study != "" {
		// Results of the previous study stay in the Library; the tabs start afresh.
		a.survival.clear()
		a.summary.clear()
		a.cox.clear()
		a.compare.clear()
	}
	a.study = name
	a.fy.Preferences().SetString("study", name)
	a.cohort.setStudy(st)
	a.cox.setStudy(st)
	a.compare.setStudy(st)
	a.screen.setStudy(st)
	a.model.setStudy(st)
	a.sites.refreshTable()
}

// names are the current study's words for its codes (titles, labels, units).
func (a *App) names() report.Names { return report.Names{From: a.currentStudy()} }

func (a *App) currentStudy() *app.Study {
	if a.catalog == nil {
		return nil
	}
	return a.catalog.Study(a.study)
}

func (a *App) onTabSelected(name string) {
	if name == TabLibrary {
		a.library.onRefresh()
	}
	if name == TabSites {
		a.sites.onRefresh()
	}
}

// selectTab shows the named tab.
func (a *App) selectTab(name string) {
	for _, t := range a.tabs.Items {
		if t.Text == name {
			a.tabs.Select(t)
			return
		}
	}
}

// onNotice shows a connectivity change from the service.
func (a *App) onNotice(n app.Notice) {
	a.setOffline(n.Offline, n.At)
}

// setOffline switches the offline banner and the Run button.
func (a *App) setOffline(off bool, since time.Time) {
	if off == a.offline && (!off || !a.offlineAt.IsZero()) {
		return
	}
	a.offline = off
	if off {
		asOf := since
		if c := a.catalog; c != nil && asOf.IsZero() {
			asOf = c.FetchedAt
		}
		a.offlineAt = asOf
		text := "Offline — showing cached results"
		if !asOf.IsZero() {
			text += " as of " + asOf.Local().Format("2 Jan 2006 15:04") + " (" + app.Age(a.opt.Now(), asOf) + ")"
		}
		a.banner.show(text)
		if a.catalog == nil {
			a.cohort.feasState.SetText("Offline, and nothing is cached for this network yet: connect once to load its studies.")
		}
	} else {
		a.offlineAt = time.Time{}
		a.banner.hide()
	}
	a.header.updateStatus()
	a.cohort.updateRunState()
}

// Offline reports whether the window is in its offline state.
func (a *App) Offline() bool { return a.offline }

// showError shows err in words: what was being done, the code's sentence and the detail.
func (a *App) showError(doing string, err error) {
	if err == nil {
		return
	}
	msg := ErrorText(err)
	d := dialog.NewInformation(doing, msg, a.win)
	d.Show()
}

// ErrorText is the analyst-facing text of err: the code's sentence, then what happened.
func ErrorText(err error) string {
	code := app.ErrorCode(err)
	head := app.CodeMessage(code)
	detail := app.ErrorMessage(err)
	if detail == "" || detail == head {
		return head
	}
	if code == app.EInternal && detail == app.CodeMessage(app.EInternal) {
		return head
	}
	return head + "\n" + capitalize(detail) + "."
}

// chartStyle is the chart style matching the app's theme variant.
func (a *App) chartStyle() chart.Style {
	s := chart.PublicationStyle()
	if a.fy.Settings().ThemeVariant() == theme.VariantDark {
		return s.Dark()
	}
	return s
}

// newRunContext starts a new analysis run: it cancels the previous one and returns the
// context and the generation that results must still match to be shown.
func (a *App) newRunContext() (context.Context, int) {
	if a.runCancel != nil {
		a.runCancel()
	}
	a.runGen++
	// The superseded runs' results are dropped without counting down: start the count afresh.
	a.running = 0
	ctx, cancel := context.WithTimeout(a.ctx, a.opt.QueryTimeout)
	a.runCancel = cancel
	gen, do := a.runGen, a.opt.Do
	if a.cohort != nil && a.cohort.sites != nil {
		a.cohort.sites.reset()
		// The network reports each site of each query of the run; only this run's are shown.
		ctx = app.WithProgress(ctx, func(p app.Progress) {
			do(func() {
				if gen == a.runGen {
					a.cohort.sites.update(p)
				}
			})
		})
	}
	return ctx, gen
}

// dropRuns cancels the analyses in flight and makes their results stale (the cohort changed).
func (a *App) dropRuns() {
	if a.runCancel != nil {
		a.runCancel()
		a.runCancel = nil
	}
	a.runGen++
	a.running = 0
	a.cohort.updateRunState()
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	if r[0] >= 'a' && r[0] <= 'z' {
		r[0] -= 'a' - 'A'
	}
	return string(r)
}

func joinMax(lines []string, n int) string {
	if len(lines) <= n {
		return joinComma(lines)
	}
	return joinComma(lines[:n]) + fmt.Sprintf(" and %d more", len(lines)-n)
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += "; "
		}
		out += x
	}
	return out
}
