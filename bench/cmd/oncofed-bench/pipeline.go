package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/protocol"
)

// answer is what the side-by-side computes, ours and R's, so that the two can be checked to
// agree before their times are compared.
type answer struct {
	Groups  []string  // KM groups (sex levels)
	N       []int     // patients per group
	Median  []float64 // median OS in days per group (NaN: not reached)
	ChiSq   float64   // log-rank
	Coef    []float64 // Cox (Efron): age, sexmale, ecog
	SE      []float64
	LogLik  float64
	CoxN    int
	Rounds  int // Cox scatter-gather rounds (ours)
	Partial bool
}

// phases are the parts of one federated run, for the table that says where the time goes.
type phases struct {
	KMQuery, KMMerge, Cox time.Duration
}

func (p phases) total() time.Duration { return p.KMQuery + p.KMMerge + p.Cox }

// coxCovariates are the model of the side-by-side: two numeric and one two-level covariate.
var coxCovariates = []string{"age", "sex", "ecog"}

// federatedKMCox is what `oncofed-cli km --group sex` followed by `oncofed-cli cox --form
// pooled` do over the network: one survival scatter-gather, the per-site tables merged per
// group, Kaplan–Meier with medians, the log-rank test; then the pooled Cox fit (WebDISCO), one
// scatter-gather per Newton–Raphson evaluation.
func federatedKMCox(ctx context.Context, net app.Network) (answer, phases, error) {
	var a answer
	var ph phases
	t0 := time.Now()
	g, err := net.Query(ctx, protocol.Query{Kind: protocol.KindSurvival, Study: benchStudy, Endpoint: "OS", GroupBy: "sex", Analyst: "bench"})
	if err != nil {
		return a, ph, err
	}
	ph.KMQuery = time.Since(t0)
	t1 := time.Now()
	a, err = mergeSurvival(g)
	if err != nil {
		return a, ph, err
	}
	ph.KMMerge = time.Since(t1)

	t2 := time.Now()
	cq := protocol.Query{Kind: protocol.KindCox, Study: benchStudy, Endpoint: "OS", Analyst: "bench",
		Cox: &protocol.CoxRequest{Form: protocol.CoxPooled, Ties: "efron", Covariates: coxCovariates,
			Levels: map[string][]string{"sex": {"female", "male"}}}}
	res, err := network.FederatedCox(ctx, net, cq, network.CoxOptions{})
	if err != nil {
		return a, ph, err
	}
	ph.Cox = time.Since(t2)
	a.Coef, a.SE, a.LogLik, a.CoxN, a.Rounds = res.Fit.Coef, res.Fit.SE, res.Fit.LogLik, res.Fit.N, res.Rounds
	a.Partial = a.Partial || res.First.Partial()
	return a, ph, nil
}

// mergeSurvival merges a gathered survival answer per group across sites, estimates each
// group's Kaplan–Meier curve and median, and runs the log-rank test.
func mergeSurvival(g *app.Gathered) (answer, error) {
	var a answer
	a.Partial = g.Partial()
	if len(g.Replies) == 0 {
		return a, fmt.Errorf("survival query: no site answered (missing %v, refused %v)", g.Missing, g.Refused)
	}
	byGroup := map[string][]analysis.SurvivalTable{}
	for _, r := range g.Replies {
		for _, sg := range r.Survival.Groups {
			byGroup[sg.Group] = append(byGroup[sg.Group], analysis.SurvivalTable{Time: sg.Time, Events: sg.Events, Censor: sg.Censor})
		}
	}
	for name := range byGroup {
		a.Groups = append(a.Groups, name)
	}
	sort.Strings(a.Groups)
	merged := make([]analysis.SurvivalTable, len(a.Groups))
	for i, name := range a.Groups {
		merged[i] = analysis.MergeTables(byGroup[name]...)
		km, err := analysis.KaplanMeier(merged[i], analysis.KMOptions{})
		if err != nil {
			return a, fmt.Errorf("KM %s: %w", name, err)
		}
		a.N = append(a.N, km.N)
		a.Median = append(a.Median, median(km))
	}
	lr, err := analysis.LogRank(merged)
	if err != nil {
		return a, err
	}
	a.ChiSq = lr.ChiSq
	return a, nil
}

func median(km *analysis.KMEstimate) float64 {
	q, err := km.Quantile(0.5)
	if err != nil || len(q) == 0 {
		return math.NaN()
	}
	return q[0].Time
}

// pooledData is the patient-level data of the whole federation in memory (what R gets).
type pooledData struct {
	time, event, sex, age, ecog []float64
}

func readPooled(dir string) (*pooledData, error) {
	read := func(name string) ([]float64, error) {
		b, err := os.ReadFile(filepath.Join(dir, name+".f64"))
		if err != nil {
			return nil, err
		}
		x := make([]float64, len(b)/8)
		for i := range x {
			x[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		}
		return x, nil
	}
	var d pooledData
	var err error
	for _, c := range []struct {
		name string
		dst  *[]float64
	}{{"time", &d.time}, {"event", &d.event}, {"sex", &d.sex}, {"age", &d.age}, {"ecog", &d.ecog}} {
		if *c.dst, err = read(c.name); err != nil {
			return nil, err
		}
	}
	return &d, nil
}

// pooledGo is the floor of the side-by-side: the same statistics by a plain Go program on the
// pooled patient-level columns in memory (no network, no policy, no JSON) — tabulate each
// group, Kaplan–Meier, log-rank, and the Cox fit with the data sorted once.
func pooledGo(d *pooledData) (answer, error) {
	var a answer
	a.Groups = []string{"female", "male"}
	var gt [2][]float64
	var ge [2][]bool
	for i, s := range d.sex {
		if math.IsNaN(s) {
			continue
		}
		k := int(s)
		gt[k] = append(gt[k], d.time[i])
		ge[k] = append(ge[k], d.event[i] == 1)
	}
	tables := make([]analysis.SurvivalTable, 2)
	for k := range tables {
		t, err := analysis.NewSurvivalTable(gt[k], ge[k])
		if err != nil {
			return a, err
		}
		tables[k] = t
		km, err := analysis.KaplanMeier(t, analysis.KMOptions{})
		if err != nil {
			return a, err
		}
		a.N = append(a.N, km.N)
		a.Median = append(a.Median, median(km))
	}
	lr, err := analysis.LogRank(tables)
	if err != nil {
		return a, err
	}
	a.ChiSq = lr.ChiSq
	const p = 3
	var tm []float64
	var ev []bool
	var x []float64
	for i := range d.time {
		if math.IsNaN(d.age[i]) || math.IsNaN(d.sex[i]) || math.IsNaN(d.ecog[i]) {
			continue
		}
		tm = append(tm, d.time[i])
		ev = append(ev, d.event[i] == 1)
		x = append(x, d.age[i], d.sex[i], d.ecog[i])
	}
	st, err := analysis.NewCoxStratum(tm, ev, x, p)
	if err != nil {
		return a, err
	}
	fit, err := analysis.FitCox(func(beta []float64) (analysis.CoxContribution, error) {
		return st.Contribution(beta, analysis.Efron)
	}, p, analysis.CoxOptions{Terms: []string{"age", "sexmale", "ecog"}})
	if err != nil {
		return a, err
	}
	a.Coef, a.SE, a.LogLik, a.CoxN = fit.Coef, fit.SE, fit.LogLik, fit.N
	return a, nil
}

// agreement is the largest relative difference between two answers over every number they
// both report.
func agreement(x, y answer) (float64, error) {
	if len(x.N) != len(y.N) || len(x.Coef) != len(y.Coef) {
		return math.Inf(1), fmt.Errorf("answers of different shapes")
	}
	worst := 0.0
	rel := func(a, b float64) {
		if math.IsNaN(a) && math.IsNaN(b) {
			return
		}
		d := math.Abs(a-b) / math.Max(math.Abs(b), 1e-300)
		if a == b {
			d = 0
		}
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		worst = math.Max(worst, d)
	}
	for i := range x.N {
		rel(float64(x.N[i]), float64(y.N[i]))
		rel(x.Median[i], y.Median[i])
	}
	rel(x.ChiSq, y.ChiSq)
	for i := range x.Coef {
		rel(x.Coef[i], y.Coef[i])
		rel(x.SE[i], y.SE[i])
	}
	rel(x.LogLik, y.LogLik)
	rel(float64(x.CoxN), float64(y.CoxN))
	return worst, nil
}

// inProcess is an app.Network that calls each site's engine directly, concurrently, with no
// hub, no JSON and no reply validation: the same federated computation with the transport
// taken out, to tell the cost of the statistics from the cost of moving the aggregates.
type inProcess struct {
	sites []*siteDB
}

func (n *inProcess) Sites(ctx context.Context) ([]app.SiteStatus, error) {
	var out []app.SiteStatus
	for _, s := range n.sites {
		out = append(out, app.SiteStatus{Site: s.name, Online: true, Studies: []string{benchStudy}})
	}
	return out, nil
}

func (n *inProcess) Query(ctx context.Context, q protocol.Query) (*app.Gathered, error) {
	start := time.Now()
	if q.Version == "" {
		q.Version = protocol.Version
	}
	if q.ID == "" {
		q.ID = fmt.Sprintf("inproc-%d", start.UnixNano())
	}
	g := &app.Gathered{Query: q}
	replies := make([]protocol.Reply, len(n.sites))
	done := make(chan int, len(n.sites))
	for i, s := range n.sites {
		go func() {
			replies[i] = s.engine.Handle(ctx, q)
			done <- i
		}()
	}
	for range n.sites {
		<-done
	}
	for i, s := range n.sites {
		g.Expected = append(g.Expected, s.name)
		if replies[i].Error != nil {
			g.Refused = append(g.Refused, app.SiteProblem{Site: s.name, Code: replies[i].Error.Code, Message: replies[i].Error.Message})
			continue
		}
		g.Replies = append(g.Replies, replies[i])
	}
	sort.Slice(g.Replies, func(i, j int) bool { return g.Replies[i].Site < g.Replies[j].Site })
	sort.Strings(g.Expected)
	g.Elapsed = time.Since(start)
	return g, nil
}

func (n *inProcess) Close() error { return nil }
