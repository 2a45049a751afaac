package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/oncofed/oncofed/analysis"
	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/internal/lungtest"
	"github.com/oncofed/oncofed/protocol"
)

// patient is one row of analysis/testdata/lung.csv (R's survival::lung with sites by
// institution, written by analysis/testdata/gen_lung.R).
type patient struct {
	site  string
	time  float64
	event bool
	num   map[string]float64 // age, karno, wt.loss; absent = missing
	cat   map[string]string  // sex, ecog; absent = missing
}

func loadLung(t testing.TB) []patient {
	t.Helper()
	header, rows := lungtest.Read(t)
	col := func(name string) int { return lungtest.Column(t, header, name) }
	site, tm, event, sex, ecog := col("site"), col("time"), col("event"), col("sex"), col("ecog")
	nums := map[string]int{"age": col("age"), "karno": col("karno"), "wt.loss": col("wt.loss")}
	var ps []patient
	for i, r := range rows {
		p := patient{site: r[site], num: map[string]float64{}, cat: map[string]string{}}
		var err error
		if p.time, err = strconv.ParseFloat(r[tm], 64); err != nil {
			t.Fatalf("lung.csv line %d: %v", i+2, err)
		}
		p.event = r[event] == "1"
		for name, c := range nums {
			if r[c] != "" {
				v, err := strconv.ParseFloat(r[c], 64)
				if err != nil {
					t.Fatalf("lung.csv line %d: %v", i+2, err)
				}
				p.num[name] = v
			}
		}
		if r[sex] != "" {
			p.cat["sex"] = r[sex]
		}
		if r[ecog] != "" {
			p.cat["ecog"] = r[ecog]
		}
		ps = append(ps, p)
	}
	return ps
}

// fakeNetwork is a hand-written app.Network: every site of the lung data answers from its own
// patients, computing the aggregates as a node would (analysis.NewSurvivalTable, the Cox
// contributions). The real NATS path is tested in package network.
type fakeNetwork struct {
	mu       sync.Mutex
	bySite   map[string][]patient
	down     bool            // the hub is unreachable: Query fails with code unavailable
	silent   map[string]bool // sites that do not answer (Missing)
	refuse   map[string]string
	dataCut  string
	binDays  float64
	coxCalls int
	// eachCalls counts the queries sent to single sites (phase 2 of a pooled Cox round).
	eachCalls int
	// dropAfter: the site stops answering Cox queries after this many Cox rounds.
	dropSite  string
	dropAfter int
	// dropRefuses: the dropping site refuses (by policy) instead of going silent.
	dropRefuses bool
	queries     []protocol.Query
	// feasMinCohort: feasibility counts of fewer patients are refused, in the node's words.
	feasMinCohort int
	// noJSON: replies are handed over as values, without the JSON they came in (an in-process
	// network); otherwise each goes through JSON as network.Client receives it.
	noJSON bool
	// wire, when set, writes a reply's JSON as the site sends it (default json.Marshal).
	wire func(protocol.Reply) ([]byte, error)
	// betaLimit, when positive, is every site's limit on |β_j| (CoxReply.BetaLimit);
	// overLimit counts the Cox queries asked beyond it (a node refuses them).
	betaLimit float64
	overLimit int
}

func newFakeNetwork(ps []patient) *fakeNetwork {
	n := &fakeNetwork{bySite: map[string][]patient{}, silent: map[string]bool{}, refuse: map[string]string{}, dataCut: "2026-10-31"}
	for _, p := range ps {
		n.bySite[p.site] = append(n.bySite[p.site], p)
	}
	return n
}

func (n *fakeNetwork) sites() []string {
	var s []string
	for site := range n.bySite {
		s = append(s, site)
	}
	sort.Strings(s)
	return s
}

func (n *fakeNetwork) Sites(ctx context.Context) ([]app.SiteStatus, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.down {
		return nil, app.Errorf(app.EUnavailable, "hub unreachable")
	}
	var out []app.SiteStatus
	for _, s := range n.sites() {
		out = append(out, app.SiteStatus{Site: s, Online: !n.silent[s], Studies: []string{"lung"}, Latency: time.Millisecond})
	}
	return out, nil
}

func (n *fakeNetwork) Close() error { return nil }

func (n *fakeNetwork) Query(ctx context.Context, q protocol.Query) (*app.Gathered, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.down {
		return nil, app.Errorf(app.EUnavailable, "nats: no servers available for connection")
	}
	n.queries = append(n.queries, q)
	if q.Kind == protocol.KindCox {
		n.coxCalls++
	}
	qs := map[string]protocol.Query{}
	for _, site := range n.sites() {
		qs[site] = q
	}
	return n.scatter(q, qs)
}

// QueryEach sends qs[site] to each site alone, as network.Client does.
func (n *fakeNetwork) QueryEach(ctx context.Context, qs map[string]protocol.Query) (*app.Gathered, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.down {
		return nil, app.Errorf(app.EUnavailable, "nats: no servers available for connection")
	}
	var first protocol.Query
	for _, site := range slices.Sorted(maps.Keys(qs)) {
		n.queries = append(n.queries, qs[site])
		if first.ID == "" {
			first = qs[site]
		}
		n.eachCalls++
	}
	return n.scatter(first, qs)
}

// scatter answers qs[site] at every site of qs; n.mu is held.
func (n *fakeNetwork) scatter(q protocol.Query, qs map[string]protocol.Query) (*app.Gathered, error) {
	g := &app.Gathered{Query: q, Expected: slices.Sorted(maps.Keys(qs))}
	for _, site := range g.Expected {
		q := qs[site]
		dropping := site == n.dropSite && q.Kind == protocol.KindCox && n.coxCalls > n.dropAfter
		if dropping && n.dropRefuses {
			g.Refused = append(g.Refused, app.SiteProblem{Site: site, Code: protocol.CodeRefusedByPolicy, Message: "this analyst's daily budget is spent"})
			continue
		}
		if n.silent[site] || dropping {
			g.Missing = append(g.Missing, site)
			continue
		}
		if msg, ok := n.refuse[site]; ok {
			g.Refused = append(g.Refused, app.SiteProblem{Site: site, Code: protocol.CodeRefusedByPolicy, Message: msg})
			continue
		}
		if q.Feasibility && n.feasMinCohort > 0 {
			size := 0
			for _, p := range n.bySite[site] {
				if match(q.Cohort, p) {
					size++
				}
			}
			if size < n.feasMinCohort {
				g.Refused = append(g.Refused, app.SiteProblem{Site: site, Code: protocol.CodeRefusedByPolicy,
					Message: fmt.Sprintf("cohort has fewer than min_cohort=%d patients", n.feasMinCohort),
					Reason:  protocol.ReasonSmallCohort, Limit: float64(n.feasMinCohort)})
				continue
			}
		}
		rep, err := n.answer(site, q)
		if err != nil {
			g.Refused = append(g.Refused, app.SiteProblem{Site: site, Code: protocol.CodeInvalid, Message: err.Error()})
			continue
		}
		if !n.noJSON {
			// As network.Client: the reply is what the site's JSON decodes to, and the JSON is kept.
			wire := n.wire
			if wire == nil {
				wire = func(r protocol.Reply) ([]byte, error) { return json.Marshal(r) }
			}
			b, err := wire(rep)
			if err != nil {
				return nil, err
			}
			rep = protocol.Reply{}
			if err := json.Unmarshal(b, &rep); err != nil {
				return nil, err
			}
			if g.ReplyJSON == nil {
				g.ReplyJSON = map[string][]byte{}
			}
			g.ReplyJSON[site] = b
		}
		g.Replies = append(g.Replies, rep)
	}
	return g, nil
}

func (n *fakeNetwork) policy() protocol.Policy {
	return protocol.Policy{MinCohort: 0, MinCell: 0, BinDays: n.binDays}
}

func (n *fakeNetwork) answer(site string, q protocol.Query) (protocol.Reply, error) {
	rep := protocol.Reply{Version: protocol.Version, QueryID: q.ID, Site: site, Kind: q.Kind, Policy: protocol.PolicyEffects{BinDays: n.binDays}}
	var cohort []patient
	for _, p := range n.bySite[site] {
		if match(q.Cohort, p) {
			cohort = append(cohort, p)
		}
	}
	group := func(p patient) (string, bool) {
		if q.GroupBy == "" {
			return "", true
		}
		v, ok := p.cat[q.GroupBy]
		return v, ok
	}
	switch q.Kind {
	case protocol.KindCatalog:
		cats := map[string]map[string]bool{"sex": {}, "ecog": {}}
		for _, p := range n.bySite[site] {
			for k, v := range p.cat {
				cats[k][v] = true
			}
		}
		st := protocol.StudyCatalog{Name: "lung", DataCut: n.dataCut, Patients: len(n.bySite[site]),
			Endpoints: []protocol.Endpoint{{Name: "os", Label: "Overall survival"}}}
		// Age's declared range is the lung dictionary's (a pooled Cox fit centres it on 59).
		lo, hi := 18.0, 100.0
		st.Variables = append(st.Variables, protocol.Variable{Name: "age", Type: protocol.Numeric, Min: &lo, Max: &hi})
		for _, name := range []string{"karno", "wt.loss"} {
			st.Variables = append(st.Variables, protocol.Variable{Name: name, Type: protocol.Numeric})
		}
		// The study's declared dictionary, the same at every site; a site holding a value
		// outside it (a test's doing) publishes a dictionary of its own with it appended.
		declared := map[string][]string{"ecog": {"ecog0", "ecog1", "ecog2", "ecog3"}, "sex": {"female", "male"}}
		for _, name := range []string{"ecog", "sex"} {
			cs := slices.Clone(declared[name])
			var extra []string
			for c := range cats[name] {
				if !slices.Contains(cs, c) {
					extra = append(extra, c)
				}
			}
			sort.Strings(extra)
			st.Variables = append(st.Variables, protocol.Variable{Name: name, Type: protocol.Categorical, Categories: append(cs, extra...)})
		}
		st.StudyVersion = "1"
		st.DictionaryHash = protocol.DictionaryHash(st.StudyVersion, st.Variables, st.Endpoints)
		rep.Catalog = &protocol.Catalog{Site: site, Policy: n.policy(), Studies: []protocol.StudyCatalog{st}}
	case protocol.KindCount:
		c := &protocol.CountReply{Total: protocol.Count{N: len(cohort)}}
		if q.GroupBy != "" {
			c.Groups = map[string]protocol.Count{}
		}
		for _, p := range cohort {
			g, ok := group(p)
			switch {
			case !ok:
				c.Missing.N++
			case q.GroupBy != "":
				gc := c.Groups[g]
				gc.N++
				c.Groups[g] = gc
			}
		}
		if q.Feasibility {
			// As a node with feasibility_rounding 10 and no noise would answer.
			c.Total.N = (len(cohort) + 5) / 10 * 10
			rep.Policy.FeasibilityRounding = 10
		}
		rep.Count = c
	case protocol.KindSurvival:
		s := &protocol.SurvivalReply{Endpoint: q.Endpoint}
		times, events := map[string][]float64{}, map[string][]bool{}
		for _, p := range cohort {
			g, ok := group(p)
			if !ok {
				s.MissingGroup.N++
				continue
			}
			times[g] = append(times[g], analysis.CoarsenTime(p.time, n.binDays))
			events[g] = append(events[g], p.event)
		}
		var names []string
		for g := range times {
			names = append(names, g)
		}
		sort.Strings(names)
		for _, g := range names {
			t, err := analysis.NewSurvivalTable(times[g], events[g])
			if err != nil {
				return rep, err
			}
			s.Groups = append(s.Groups, protocol.SurvivalGroup{Group: g, Time: t.Time, Events: t.Events, Censor: t.Censor})
		}
		rep.Survival = s
	case protocol.KindSummary:
		s := &protocol.SummaryReply{}
		byGroup := map[string][]patient{}
		for _, p := range cohort {
			g, ok := group(p)
			if !ok {
				s.MissingGroup.N++
				continue
			}
			byGroup[g] = append(byGroup[g], p)
		}
		var names []string
		for g := range byGroup {
			names = append(names, g)
		}
		sort.Strings(names)
		edges := map[string][]float64{}
		for _, b := range q.Bins {
			edges[b.Variable] = b.Edges
		}
		for _, g := range names {
			gs := protocol.GroupSummary{Group: g, N: protocol.Count{N: len(byGroup[g])}}
			for _, v := range q.Variables {
				vs := protocol.VariableSummary{Variable: v}
				if v == "sex" || v == "ecog" {
					vs.Categories = map[string]protocol.Count{}
					for _, p := range byGroup[g] {
						c, ok := p.cat[v]
						if !ok {
							vs.Missing.N++
							continue
						}
						k := vs.Categories[c]
						k.N++
						vs.Categories[c] = k
					}
				} else {
					vs.Edges = edges[v]
					if vs.Edges != nil {
						vs.Histogram = make([]protocol.Count, len(vs.Edges)+1)
					}
					for _, p := range byGroup[g] {
						x, ok := p.num[v]
						if !ok {
							vs.Missing.N++
							continue
						}
						vs.N.N++
						vs.Sum += x
						vs.SumSq += x * x
						if vs.Edges != nil {
							vs.Histogram[sort.Search(len(vs.Edges), func(i int) bool { return vs.Edges[i] > x })].N++
						}
					}
				}
				gs.Variables = append(gs.Variables, vs)
			}
			s.Groups = append(s.Groups, gs)
		}
		rep.Summary = s
	case protocol.KindCox:
		return n.cox(rep, cohort, q)
	default:
		return rep, fmt.Errorf("unsupported kind %s", q.Kind)
	}
	return rep, nil
}

func (n *fakeNetwork) cox(rep protocol.Reply, cohort []patient, q protocol.Query) (protocol.Reply, error) {
	var cols []analysis.CovariateColumn
	for _, v := range q.Cox.Covariates {
		c := analysis.CovariateColumn{Name: v}
		for _, p := range cohort {
			if v == "sex" || v == "ecog" {
				c.Categorical = append(c.Categorical, p.cat[v])
			} else {
				x, ok := p.num[v]
				if !ok {
					x = math.NaN()
				}
				c.Numeric = append(c.Numeric, x)
			}
		}
		if c.Categorical == nil && c.Numeric == nil {
			if v == "sex" || v == "ecog" {
				c.Categorical = []string{}
			} else {
				c.Numeric = []float64{}
			}
		}
		cols = append(cols, c)
	}
	x, p, names, keep, err := analysis.BuildDesign(cols, q.Cox.Levels)
	if err != nil {
		return rep, err
	}
	var time []float64
	var event []bool
	for i, pt := range cohort {
		if keep[i] {
			time = append(time, analysis.CoarsenTime(pt.time, n.binDays))
			event = append(event, pt.event)
		}
	}
	ties, _ := analysis.ParseTies(q.Cox.Ties)
	c := &protocol.CoxReply{Columns: names, N: len(time), Excluded: analysis.IncompleteCases(keep)}
	for _, e := range event {
		if e {
			c.Events++
		}
	}
	switch q.Cox.Form {
	case protocol.CoxPooled:
		return rep, fmt.Errorf("the one-phase pooled form is no longer served")
	case protocol.CoxPooledSums, protocol.CoxPooledHessian:
		// As a node does (node.centreColumns): each named covariate's column shifted by its origin.
		for v, o := range q.Cox.Origin {
			if j := slices.Index(names, v); j >= 0 {
				for i := j; i < len(x); i += p {
					x[i] -= o
				}
			}
		}
		st, err := analysis.NewCoxStratum(time, event, x, p)
		if err != nil {
			return rep, err
		}
		if q.Cox.Form == protocol.CoxPooledHessian {
			if q.Cox.Site != rep.Site {
				return rep, fmt.Errorf("addressed to %s", q.Cox.Site)
			}
			if c.SecondMoment, err = st.WeightedSecondMoment(q.Cox.Beta, q.Cox.Weights.A, q.Cox.Weights.B); err != nil {
				return rep, err
			}
			break
		}
		rows, exs, err := st.TimeSums(q.Cox.Beta)
		if err != nil {
			return rep, err
		}
		for _, r := range rows {
			c.Rows = append(c.Rows, protocol.CoxRiskSetRow{Time: r.Time, D: r.D, R0: r.R0, R1: r.R1, E0: r.E0, E1: r.E1})
		}
		c.EventXSum = exs
	case protocol.CoxValidate:
		st, err := analysis.NewCoxStratum(time, event, x, p)
		if err != nil {
			return rep, err
		}
		v, err := st.Validate(q.Cox.Beta, ties, q.Cox.Landmarks, q.Cox.BaselineCumHaz)
		if err != nil {
			return rep, err
		}
		c.Validation = &protocol.CoxValidation{HarrellC: v.Harrell.C, HarrellSE: v.Harrell.SE, UnoC: v.Uno.C, UnoSE: v.Uno.SE,
			CalibrationSlope: &v.Slope, CalibrationSlopeSE: &v.SlopeSE}
		for _, pt := range v.Calibration {
			c.Validation.Calibration = append(c.Validation.Calibration, protocol.CalibrationAt{Time: pt.Time, Observed: pt.Observed, Predicted: pt.Predicted, Brier: &pt.Brier})
		}
	default:
		contrib, err := analysis.CoxStratumContribution(time, event, x, p, q.Cox.Beta, ties)
		if err != nil {
			return rep, err
		}
		c.LogLik, c.Gradient, c.Hessian = contrib.LogLik, contrib.Gradient, contrib.Hessian
	}
	if n.betaLimit > 0 {
		for _, b := range q.Cox.Beta {
			if math.Abs(b) > n.betaLimit {
				n.overLimit++
			}
		}
		c.BetaLimit = slices.Repeat([]float64{n.betaLimit}, p)
	}
	rep.Cox = c
	return rep, nil
}

// match evaluates a cohort filter on a patient as a node does (missing fails eq, in, range).
func match(f *protocol.Filter, p patient) bool {
	if f == nil {
		return true
	}
	switch f.Op {
	case protocol.OpAnd:
		for _, a := range f.Args {
			if !match(a, p) {
				return false
			}
		}
		return true
	case protocol.OpOr:
		for _, a := range f.Args {
			if match(a, p) {
				return true
			}
		}
		return false
	case protocol.OpNot:
		return !match(f.Args[0], p)
	case protocol.OpEq:
		v, ok := p.cat[f.Var]
		return ok && v == f.Value
	case protocol.OpIn:
		v, ok := p.cat[f.Var]
		for _, x := range f.Values {
			if ok && v == x {
				return true
			}
		}
		return false
	case protocol.OpRange:
		x, ok := p.num[f.Var]
		if f.Var == "time" {
			x, ok = p.time, true
		}
		if !ok {
			return false
		}
		if f.Min != nil && (x < *f.Min || f.MinOpen && x == *f.Min) {
			return false
		}
		if f.Max != nil && (x > *f.Max || f.MaxOpen && x == *f.Max) {
			return false
		}
		return true
	case protocol.OpMissing, protocol.OpPresent:
		_, ok1 := p.num[f.Var]
		_, ok2 := p.cat[f.Var]
		return (ok1 || ok2) == (f.Op == protocol.OpPresent)
	}
	panic("fake network: unknown op " + string(f.Op))
}
