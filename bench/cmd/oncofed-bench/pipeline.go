package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/cache"
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

// phases are the parts of one federated run, for the tables that say where the time goes: each
// analysis is one app.Service.Run, of which the scatter-gathers (Network.Query) and the cache
// write (Cache.SaveResult) are timed by wrapping the service's network and cache; the rest is
// the client's own work (merge, fit, the render from the stored rounds, the content hash).
type phases struct {
	KM, KMNet, KMSave    time.Duration
	Cox, CoxNet, CoxSave time.Duration
	CoxStored            int // bytes of the Cox result as the cache keeps it (queries, reply digests, trace)
}

func (p phases) total() time.Duration { return p.KM + p.Cox }

// coxCovariates are the model of the side-by-side: two numeric and one two-level covariate.
var coxCovariates = []string{"age", "sex", "ecog"}

// kmRequest and coxRequest are what `oncofed-cli km --study nsclc --endpoint OS --group sex` and
// `oncofed-cli cox --study nsclc --endpoint OS --covariates age,sex,ecog --strata none` send to
// app.Service.Run (the CLI fills the levels of a categorical covariate from the catalog; the
// synthetic sites' sex levels are female and male).
var (
	kmRequest  = app.Request{Kind: protocol.KindSurvival, Study: benchStudy, Endpoint: "OS", GroupBy: "sex"}
	coxRequest = app.Request{Kind: protocol.KindCox, Study: benchStudy, Endpoint: "OS", Cox: &app.CoxSpec{
		Covariates: coxCovariates, Ties: "efron", Form: protocol.CoxPooled,
		Levels: map[string][]string{"sex": {"female", "male"}}}}
)

// analystClient is the analyst's side as oncofed-cli wires it: an app.Service on a network and a
// SQLite result cache (cache.Open), with the network and the cache wrapped to time them.
type analystClient struct {
	svc   *app.Service
	net   *timedNetwork
	cache *timedCache
	path  string // the cache file
}

// newClient opens a cache at path and refreshes the catalog, as every oncofed-cli analysis
// command does before it runs (timed apart from the analyses).
func newClient(ctx context.Context, net app.Network, path string) (*analystClient, time.Duration, error) {
	t0 := time.Now()
	db, err := cache.Open(ctx, path)
	if err != nil {
		return nil, 0, err
	}
	c := &analystClient{net: &timedNetwork{Network: net}, cache: &timedCache{Cache: db}, path: path}
	c.svc = app.NewService(c.net, c.cache, app.NetworkInfo{ID: "bench", Name: "bench"}, app.WithAnalyst("bench"))
	if _, err := c.svc.RefreshCatalog(ctx); err != nil {
		db.Close()
		return nil, 0, fmt.Errorf("catalog: %w", err)
	}
	return c, time.Since(t0), nil
}

// close closes the cache only: the network belongs to the caller.
func (c *analystClient) close() error { return c.cache.Cache.Close() }

// stopwatch adds up time spent from several goroutines until taken.
type stopwatch struct {
	mu    sync.Mutex
	spent time.Duration
}

func (w *stopwatch) since(t time.Time) {
	w.mu.Lock()
	w.spent += time.Since(t)
	w.mu.Unlock()
}

// take returns the time added up since the last take.
func (w *stopwatch) take() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	d := w.spent
	w.spent = 0
	return d
}

// timedNetwork adds up the time spent in scatter-gathers.
type timedNetwork struct {
	app.Network
	stopwatch
}

func (n *timedNetwork) Query(ctx context.Context, q protocol.Query) (*app.Gathered, error) {
	defer n.since(time.Now())
	return n.Network.Query(ctx, q)
}

func (n *timedNetwork) QueryEach(ctx context.Context, qs map[string]protocol.Query) (*app.Gathered, error) {
	defer n.since(time.Now())
	return n.Network.QueryEach(ctx, qs)
}

// timedCache adds up the time spent storing results.
type timedCache struct {
	app.Cache
	stopwatch
}

func (c *timedCache) SaveResult(ctx context.Context, r *app.Result) error {
	defer c.since(time.Now())
	return c.Cache.SaveResult(ctx, r)
}

// federatedKMCox is what `oncofed-cli km --group sex` followed by `oncofed-cli cox --strata none`
// do over the network, through app.Service.Run as the CLI and the desktop app run them: one
// survival scatter-gather, the per-site tables merged per group, Kaplan–Meier with medians and
// the log-rank tests, stored in the cache; then the pooled Cox fit (WebDISCO), one scatter-gather
// per Newton–Raphson evaluation, stored with every round's replies as received.
func federatedKMCox(ctx context.Context, c *analystClient) (answer, phases, error) {
	var a answer
	var ph phases
	c.net.take()
	c.cache.take()
	t0 := time.Now()
	km, err := c.svc.Run(ctx, kmRequest)
	if err != nil {
		return a, ph, fmt.Errorf("km: %w", err)
	}
	ph.KM, ph.KMNet, ph.KMSave = time.Since(t0), c.net.take(), c.cache.take()
	if km.Cached {
		return a, ph, fmt.Errorf("km: answered from the cache (the network was lost)")
	}
	if a, err = kmAnswer(km); err != nil {
		return a, ph, err
	}

	t1 := time.Now()
	cox, err := c.svc.Run(ctx, coxRequest)
	if err != nil {
		return a, ph, fmt.Errorf("cox: %w", err)
	}
	ph.Cox, ph.CoxNet, ph.CoxSave = time.Since(t1), c.net.take(), c.cache.take()
	if cox.Cached || cox.Cox == nil || cox.Cox.Fit == nil || cox.Cox.FitError != "" {
		return a, ph, fmt.Errorf("cox: no fit (cached %v, fit error %q)", cox.Cached, cox.Cox.FitError)
	}
	// What the cache keeps of the fit: each round's query and reply digests, and the trace.
	for _, r := range cox.Rounds {
		for _, v := range []any{r.Query, r.Digests} {
			b, err := json.Marshal(v)
			if err != nil {
				return a, ph, err
			}
			ph.CoxStored += len(b)
		}
	}
	if b, err := json.Marshal(cox.Trace); err == nil {
		ph.CoxStored += len(b)
	}
	fit := cox.Cox.Fit
	a.Coef, a.SE, a.LogLik, a.CoxN, a.Rounds = fit.Coef, fit.SE, fit.LogLik, fit.N, len(cox.Rounds)
	a.Partial = a.Partial || cox.Provenance.Partial()
	return a, ph, nil
}

// kmAnswer reads the groups, their sizes and medians and the log-rank test off a KM result.
func kmAnswer(r *app.Result) (answer, error) {
	var a answer
	a.Partial = r.Provenance.Partial()
	if r.KM == nil || r.KM.LogRank == nil {
		return a, fmt.Errorf("km: no curves or no log-rank test (%s)", r.KM.LogRankError)
	}
	for _, g := range r.KM.Groups {
		if g.Curve == nil {
			return a, fmt.Errorf("km: group %q has no curve", g.Group)
		}
		a.Groups = append(a.Groups, g.Group)
		a.N = append(a.N, g.Curve.N)
		a.Median = append(a.Median, g.Median.Time)
	}
	a.ChiSq = r.KM.LogRank.ChiSq
	return a, nil
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
	qs := make(map[string]protocol.Query, len(n.sites))
	for _, s := range n.sites {
		qs[s.name] = q
	}
	return n.QueryEach(ctx, qs)
}

// QueryEach asks each site its own query (phase 2 of a pooled Cox round).
func (n *inProcess) QueryEach(ctx context.Context, qs map[string]protocol.Query) (*app.Gathered, error) {
	start := time.Now()
	var sites []*siteDB
	for _, s := range n.sites {
		if _, ok := qs[s.name]; ok {
			sites = append(sites, s)
		}
	}
	if len(sites) == 0 {
		return nil, fmt.Errorf("no site to query")
	}
	for name, q := range qs {
		if q.Version == "" {
			q.Version = protocol.Version
		}
		if q.ID == "" {
			q.ID = fmt.Sprintf("inproc-%d-%s", start.UnixNano(), name)
		}
		qs[name] = q
	}
	g := &app.Gathered{Query: qs[sites[0].name]}
	replies := make([]protocol.Reply, len(sites))
	done := make(chan int, len(sites))
	for i, s := range sites {
		go func() {
			replies[i] = s.engine.Handle(ctx, qs[s.name])
			done <- i
		}()
	}
	for range sites {
		<-done
	}
	for i, s := range sites {
		g.Expected = append(g.Expected, s.name)
		if replies[i].Error != nil {
			g.Refused = append(g.Refused, app.Refusal(s.name, replies[i].Error))
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
