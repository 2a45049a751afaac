package ui

import (
	"slices"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
)

// covariateRows is the text of each row of a covariate list, in order.
func covariateRows(l *covariateList) []string {
	var out []string
	for i := range l.box.Objects {
		out = append(out, rowLabel(l, i).Text)
	}
	return out
}

// rowLabel is the label of row i.
func rowLabel(l *covariateList, i int) *tapLabel {
	for _, c := range l.box.Objects[i].(*fyne.Container).Objects {
		if t, ok := c.(*tapLabel); ok {
			return t
		}
	}
	return nil
}

// TestCovariateLabels: the one model builder (Cox and Model tabs) shows each covariate by its
// dictionary label, chosen by name; a tap on a label ticks it. With every covariate chosen, the
// long labels and the reference levels they bring still fit a 1024×700 window.
func TestCovariateLabels(t *testing.T) {
	f := startApp(t)
	a := f.ui
	st := a.currentStudy()
	for _, b := range []*modelBuilder{a.cox.modelBuilder, a.model.modelBuilder} {
		rows := covariateRows(b.covariates)
		if len(rows) != len(b.covariates.Options) {
			t.Fatalf("%d rows for %d covariates", len(rows), len(b.covariates.Options))
		}
		for i, name := range b.covariates.Options {
			want := st.Variable(name).Label
			if want == "" {
				want = name
			}
			if rows[i] != want {
				t.Errorf("covariate %s shown as %q, want its label %q", name, rows[i], want)
			}
		}
		i := slices.Index(b.covariates.Options, "pdl1_tps")
		if i < 0 || rows[i] != "PD-L1 tumour proportion score, %" {
			t.Fatalf("pdl1_tps: %q", rows)
		}
		// A tap on the label chooses the variable by name and offers its reference level.
		test.Tap(rowLabel(b.covariates, i))
		if !slices.Equal(b.covariates.Selected, []string{"pdl1_tps"}) || !contains(texts(b.refBox), "Reference for PD-L1 tumour proportion score, %") {
			t.Fatalf("after tapping its label: selected %q, references %q", b.covariates.Selected, texts(b.refBox))
		}
		b.covariates.SetSelected(slices.Clone(b.covariates.Options))
		if got := b.spec().Covariates; !slices.Equal(got, b.covariates.Options) {
			t.Errorf("spec covariates %q", got)
		}
	}
	a.selectTab(TabCox)
	shoot(t, f, "cox_labels")
	a.selectTab(TabModel)
	shoot(t, f, "model_labels")
	for _, tab := range a.tabs.Items {
		if m := tab.Content.MinSize(); m.Width > 1024-300 || m.Height > 700-120 {
			t.Errorf("with every covariate chosen, tab %s needs %v", tab.Text, m)
		}
	}
}

// The treatment selects show dictionary labels and give names back: the Compare tab's offers
// "first-line regimen" for treatment, and the single-arm trial as itself.
func TestTreatmentSelectsShowLabels(t *testing.T) {
	f := startApp(t)
	c, s := f.ui.compare, f.ui.screen
	st := f.ui.currentStudy()
	v := st.Variable("treatment")
	if v == nil || v.Label == "" || v.Label == "treatment" {
		t.Fatalf("the test study's treatment variable has no label: %+v", v)
	}
	for _, sel := range []*variableSelect{c.treatment, s.treatment} {
		if !slices.Contains(sel.Options, v.Label) || slices.Contains(sel.Options, "treatment") {
			t.Errorf("options %q: want the label %q, not the name", sel.Options, v.Label)
		}
	}
	c.treatment.SetSelected(v.Label)
	if c.treatment.Name() != "treatment" || len(c.treated.Options) == 0 {
		t.Errorf("choosing the label %q gave name %q and treated levels %q", v.Label, c.treatment.Name(), c.treated.Options)
	}
	c.treatment.SetName(compareBySite)
	if c.treatment.Selected != compareBySite || c.treatment.Name() != compareBySite || c.treated.PlaceHolder != "Trial site…" {
		t.Errorf("single-arm trial: shown %q, name %q, treated %q", c.treatment.Selected, c.treatment.Name(), c.treated.PlaceHolder)
	}
}
