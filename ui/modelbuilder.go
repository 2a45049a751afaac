package ui

import (
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/report"
)

const (
	formStratified = "Stratified by site"
	formPooled     = "Pooled (one baseline)"
)

// modelBuilder is the model choices the Cox and Model tabs share (one home): the covariates,
// a reference level per selected categorical covariate (app.ReferenceFirst, the CLI's
// --reference), the ties, and the baseline hazard (stratified by site or pooled; the pooled
// form is offered only when every site of the study allows it). Each tab embeds one.
type modelBuilder struct {
	host       builderHost
	covariates *covariateList // by their labels
	// refs holds a reference-level choice per selected categorical covariate (refBox shows
	// them); a covariate's reference is its first declared level until one is chosen.
	refBox   *fyne.Container
	refs     map[string]*widget.Select
	ties     *widget.RadioGroup
	form     *widget.RadioGroup
	formNote *widget.Label // why the pooled form is not offered, when it is not
	// preferred is the form selected when a study is chosen, if offered (the Cox tab starts
	// stratified, the Model tab pooled, which alone can predict).
	preferred string
}

// builderHost is what the model builder needs: the cohort, its study and the sites' policies,
// and the study's words for its variables.
type builderHost interface {
	cohortHost
	names() report.Names
	// dpAnalyst reports whether the analyst has the dp role at a site holding st: its models
	// are fitted on differentially private tables, the pooled one included (no opt-in).
	dpAnalyst(st *app.Study) bool
}

func newModelBuilder(host builderHost, preferred string) *modelBuilder {
	b := &modelBuilder{host: host, refs: map[string]*widget.Select{}, preferred: preferred}
	b.covariates = newCovariateList(func(v string) string { return host.names().Variable(v) }, func([]string) { b.offerReferences() })
	b.refBox = container.NewVBox()
	b.ties = widget.NewRadioGroup([]string{"Efron", "Breslow"}, nil)
	b.ties.Horizontal, b.ties.Selected, b.ties.Required = true, "Efron", true
	b.form = widget.NewRadioGroup([]string{formStratified, formPooled}, nil)
	b.form.Selected, b.form.Required = preferred, true
	b.formNote = widget.NewLabel("")
	b.formNote.Wrapping = fyne.TextWrapWord
	b.formNote.Hide()
	return b
}

// builderObjects are the builder's widgets under their headings, for a tab's left column.
func (b *modelBuilder) builderObjects() []fyne.CanvasObject {
	head := func(s string) fyne.CanvasObject {
		return widget.NewLabelWithStyle(s, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	}
	return []fyne.CanvasObject{head("Covariates"), b.covariates, b.refBox, head("Ties"), b.ties,
		head("Baseline hazard"), b.form, b.formNote}
}

// offerStudy offers the study's variables as covariates and the forms its sites allow.
func (b *modelBuilder) offerStudy(st *app.Study) {
	b.covariates.Options, b.covariates.Selected = covariateOptions(st), nil
	b.covariates.Refresh()
	b.refs = map[string]*widget.Select{}
	b.offerReferences()
	b.form.Selected = b.preferred
	b.offerForms(st)
}

// covariateOptions are the study's variables a model can take: those without a type conflict
// between sites.
func covariateOptions(st *app.Study) []string {
	var opts []string
	for _, v := range st.Variables {
		if len(v.TypeConflict) == 0 {
			opts = append(opts, v.Name)
		}
	}
	return opts
}

// offerReferences shows a reference-level choice for each selected categorical covariate, in
// the study's declared order (the first is the default, as in the CLI's --reference); a choice
// made earlier is kept while its covariate stays selected.
func (b *modelBuilder) offerReferences() {
	b.refBox.RemoveAll()
	st := b.host.currentStudy()
	if st == nil {
		return
	}
	for _, v := range b.covariates.Selected {
		vr := st.Variable(v)
		if vr == nil || vr.Type != protocol.Categorical || len(vr.Categories) < 2 {
			continue
		}
		sel, ok := b.refs[v]
		if !ok {
			sel = widget.NewSelect(vr.Categories, nil)
			sel.Selected = vr.Categories[0]
			b.refs[v] = sel
		}
		// The label above its choice: the tabs' left column is narrow at 1024 pixels.
		label := widget.NewLabel("Reference for " + b.host.names().Variable(v))
		label.Wrapping = fyne.TextWrapWord
		b.refBox.Add(container.NewVBox(label, sel))
	}
	if len(b.refBox.Objects) > 0 {
		head := widget.NewLabelWithStyle("Reference levels", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		b.refBox.Objects = append([]fyne.CanvasObject{head}, b.refBox.Objects...)
	}
	b.refBox.Refresh()
}

// offerForms offers the pooled form only when every site holding the study publishes a policy
// that allows it (allow_pooled_cox): one refusing site aborts a pooled fit, so offering it
// would only lead to a refusal. The note says which sites keep it off.
func (b *modelBuilder) offerForms(st *app.Study) {
	refuse := b.host.pooledRefusers(st)
	if b.host.dpAnalyst(st) {
		// Both forms are fitted on the sites' differentially private tables: the pooled one
		// is post-processing of that release and needs no site's pooled opt-in.
		refuse = nil
	}
	if len(refuse) == 0 {
		b.form.Options = []string{formStratified, formPooled}
		b.formNote.Hide()
	} else {
		b.form.Options = []string{formStratified}
		b.form.Selected = formStratified
		who := "no site's policy allows it"
		if len(refuse) < len(st.Sites) {
			who = "the policies of " + strings.Join(refuse, ", ") + " do not allow it"
		}
		b.formNote.SetText("A pooled baseline is not offered: " + who +
			" (allow_pooled_cox: its risk-set sums per time disclose covariate values).")
		b.formNote.Show()
	}
	b.form.Refresh()
}

// spec is the model of the builder's choices: a reference other than the first declared level
// reorders the covariate's levels; the others are left to the service, which fills them from
// the catalog.
func (b *modelBuilder) spec() *app.CoxSpec {
	form := protocol.CoxStratified
	if b.form.Selected == formPooled {
		form = protocol.CoxPooled
	}
	spec := &app.CoxSpec{Covariates: slices.Clone(b.covariates.Selected), Ties: strings.ToLower(b.ties.Selected), Form: form}
	st := b.host.currentStudy()
	if st == nil {
		return spec
	}
	for _, v := range spec.Covariates {
		sel, ok := b.refs[v]
		vr := st.Variable(v)
		if !ok || vr == nil || sel.Selected == "" || sel.Selected == vr.Categories[0] {
			continue
		}
		if levels, ok := app.ReferenceFirst(vr.Categories, sel.Selected); ok {
			if spec.Levels == nil {
				spec.Levels = map[string][]string{}
			}
			spec.Levels[v] = levels
		}
	}
	return spec
}

// request is the Cox request for the cohort and the builder's choices.
func (b *modelBuilder) request() app.Request {
	req := b.host.cohortRequest(protocol.KindCox)
	req.GroupBy = ""
	req.Cox = b.spec()
	return req
}

// load shows an opened model's choices: its covariates, their reference levels (the first of
// each covariate's levels), ties and form, so that the next fit starts from it.
func (b *modelBuilder) load(spec *app.CoxSpec) {
	if spec == nil {
		return
	}
	var sel []string
	for _, v := range spec.Covariates {
		if slices.Contains(b.covariates.Options, v) {
			sel = append(sel, v)
		}
	}
	b.covariates.SetSelected(sel) // offers the reference choices
	for v, levels := range spec.Levels {
		if s, ok := b.refs[v]; ok && len(levels) > 0 && slices.Contains(s.Options, levels[0]) {
			s.SetSelected(levels[0])
		}
	}
	if spec.Ties == "breslow" {
		b.ties.SetSelected("Breslow")
	} else {
		b.ties.SetSelected("Efron")
	}
	form := formStratified
	if spec.Form == protocol.CoxPooled {
		form = formPooled
	}
	if slices.Contains(b.form.Options, form) {
		b.form.SetSelected(form)
	}
}
