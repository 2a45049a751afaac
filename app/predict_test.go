package app_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/protocol"
)

// predictService is the "service" part of analysis/testdata/predict_goldens.json: R's
// survfit(coxph(Surv(time, event) ~ sex + age, lung.csv), newdata = profile).
type predictService map[string]struct {
	Coef     []float64          `json:"coef"`
	Profiles []predictedProfile `json:"profiles"`
}

// predictedProfile is R's prediction for one profile.
type predictedProfile struct {
	Profile map[string]any `json:"profile"`
	LP      float64        `json:"lp"`
	Time    []float64      `json:"time"`
	Surv    []float64      `json:"surv"`
	StdErr  []float64      `json:"std_err"`
	Lower   []float64      `json:"lower"`
	Upper   []float64      `json:"upper"`
	AtTime  []float64      `json:"at_time"`
	AtSurv  []float64      `json:"at_surv"`
	AtLower []float64      `json:"at_lower"`
	AtUpper []float64      `json:"at_upper"`
}

func loadPredictService(t *testing.T) predictService {
	t.Helper()
	b, err := os.ReadFile("../analysis/testdata/predict_goldens.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Service predictService `json:"service"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Service) != 2 {
		t.Fatalf("%d service goldens", len(g.Service))
	}
	return g.Service
}

// profileText renders a golden profile as an analyst types it.
func profileText(p map[string]any) string {
	var parts []string
	for k, v := range p {
		b, _ := json.Marshal(v)
		parts = append(parts, k+"="+strings.Trim(string(b), `"`))
	}
	return strings.Join(parts, ",")
}

func checkPrediction(t *testing.T, what string, pr *app.Prediction, want predictedProfile) {
	t.Helper()
	const tol = 1e-6
	c := pr.Curve
	if len(c.Time) != len(want.Time) || !scalar.EqualWithinAbsOrRel(c.LP, want.LP, tol, tol) {
		t.Fatalf("%s: %d times (R %d), lp %v (R %v)", what, len(c.Time), len(want.Time), c.LP, want.LP)
	}
	for i := range want.Time {
		for _, f := range [][2]float64{{c.Surv[i], want.Surv[i]}, {c.StdErr[i], want.StdErr[i]}, {c.Lower[i], want.Lower[i]}, {c.Upper[i], want.Upper[i]}} {
			if c.Time[i] != want.Time[i] || !scalar.EqualWithinAbsOrRel(f[0], f[1], tol, tol) {
				t.Fatalf("%s: at %v: %v, R %v", what, want.Time[i], f[0], f[1])
			}
		}
	}
	for i, a := range pr.At {
		if a.Time != want.AtTime[i] || !scalar.EqualWithinAbsOrRel(a.Surv, want.AtSurv[i], tol, tol) ||
			!scalar.EqualWithinAbsOrRel(a.Lower, want.AtLower[i], tol, tol) || !scalar.EqualWithinAbsOrRel(a.Upper, want.AtUpper[i], tol, tol) {
			t.Errorf("%s: at landmark %v: %+v, R %v [%v, %v]", what, a.Time, a, want.AtSurv[i], want.AtLower[i], want.AtUpper[i])
		}
	}
}

// TestPredictThroughService: the pooled model fitted over the lung sites predicts R's
// survfit(fit, newdata = profile) for typed profiles, from the live fit and from the result
// reopened offline (the baseline is kept in the stored trace), with no query sent for it;
// the model stratified by site refuses with the reason.
func TestPredictThroughService(t *testing.T) {
	g := loadPredictService(t)
	for _, ties := range []string{"efron", "breslow"} {
		t.Run(ties, func(t *testing.T) {
			f := newFixture(t)
			req := app.Request{Kind: protocol.KindCox, Study: "lung", Endpoint: "os",
				Cox: &app.CoxSpec{Covariates: []string{"sex", "age"}, Ties: ties, Form: protocol.CoxPooled}}
			r, err := f.svc.Run(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if r.Cox.Baseline == nil {
				t.Fatalf("no baseline: %s", r.Cox.NoBaseline)
			}
			calls := f.net.coxCalls
			f.net.down = true
			o, err := f.svc.Open(context.Background(), r.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range g[ties].Profiles {
				profile, err := app.ParseProfile(profileText(want.Profile))
				if err != nil {
					t.Fatal(err)
				}
				for name, res := range map[string]*app.Result{"live": r, "reopened": o} {
					pr, err := app.Predict(res, profile, []float64{180, 365, 730})
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					checkPrediction(t, name+" "+profileText(want.Profile), pr, want)
				}
			}
			if f.net.coxCalls != calls {
				t.Errorf("prediction sent %d queries", f.net.coxCalls-calls)
			}
		})
	}
	f := newFixture(t)
	req := app.Request{Kind: protocol.KindCox, Study: "lung", Endpoint: "os", Cox: &app.CoxSpec{Covariates: []string{"sex", "age"}}}
	r, err := f.svc.Run(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	_, err = app.Predict(r, map[string]string{"sex": "male", "age": "60"}, nil)
	if app.ErrorCode(err) != app.EInvalid || !strings.Contains(err.Error(), "stratified by site has no shared baseline") {
		t.Errorf("stratified model: %v", err)
	}
}

// TestProfileDesign: a profile becomes the sites' design row (treatment contrasts in the
// model's level order, indicators, interactions); every bad profile is refused naming the item.
func TestProfileDesign(t *testing.T) {
	spec := &app.CoxSpec{Covariates: []string{"trt", "ecog", "age"},
		Levels:       map[string][]string{"ecog": {"ecog1", "ecog0", "ecog2"}},
		Indicators:   map[string]string{"trt": "pembro"},
		Interactions: []protocol.CoxInteraction{{A: "trt", B: "age"}}}
	x, err := app.ProfileDesign(spec, map[string]string{"trt": "chemo", "ecog": "ecog2", "age": "61.5"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{0, 0, 1, 61.5, 0}; !sameBits(x, want) {
		t.Errorf("design %v, want %v", x, want)
	}
	x, err = app.ProfileDesign(spec, map[string]string{"trt": "pembro", "ecog": "ecog0", "age": "70"})
	if err != nil || !sameBits(x, []float64{1, 1, 0, 70, 70}) {
		t.Errorf("design %v, %v", x, err)
	}
	for _, tc := range []struct {
		profile string
		msg     string
	}{
		{"trt=chemo,ecog=ecog2", "no value for age"},
		{"trt=chemo,ecog=ecog5,age=60", `"ecog5" is not a level of ecog`},
		{"trt=chemo,ecog=ecog1,age=old", `age="old" is not a number`},
		{"trt=chemo,ecog=ecog1,age=60,kras=yes", "kras is not a covariate"},
		{"trt=chemo,ecog=ecog1,age=Inf", "is not a number"},
	} {
		p, err := app.ParseProfile(tc.profile)
		if err == nil {
			_, err = app.ProfileDesign(spec, p)
		}
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want %q", tc.profile, err, tc.msg)
		}
	}
	for _, bad := range []string{"", "age", "age=1,age=2", "=3"} {
		if _, err := app.ParseProfile(bad); err == nil {
			t.Errorf("profile %q parsed", bad)
		}
	}
}
