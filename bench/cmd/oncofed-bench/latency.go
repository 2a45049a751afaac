package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/oncofed/oncofed/app"
	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/protocol"
	"github.com/oncofed/oncofed/synth"
)

const (
	latencySites    = 100
	latencyPatients = 10000
)

// latencyRun is one series of KM queries over the 100-site network.
type latencyRun struct {
	name      string
	elapsed   []time.Duration
	partial   int // answers labelled partial
	missing   []int
	answered  []int
	deadline  time.Duration
	overshoot []time.Duration // elapsed − deadline, for the offline run
	// cpu is this process's CPU (user + system: the 100 nodes, the hub and the client) over
	// the series, span its wall clock, and load the 1-minute load average at its start and end.
	cpu, span time.Duration
	load      [2]string
}

// loadAverage is the machine's 1-minute load average (/proc/loadavg), or "?" where there is none.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

// latencyPolicy is the demo sites' policy (minimum cohort 10, minimum cell 5, overlap guard,
// exact times) without the daily query budget, which 200 identical queries would exhaust.
func latencyPolicy() protocol.Policy {
	p := node.DefaultPolicy()
	p.BinDays = 0
	p.DailyQueryBudget = 0
	return p
}

func kmQuery() protocol.Query {
	return protocol.Query{Kind: protocol.KindSurvival, Study: benchStudy, Endpoint: "OS", GroupBy: "sex", Analyst: "bench"}
}

// queries sends n KM queries one after the other, each with the given deadline (0: the
// client's default), and merges the answer as the app would.
func queries(ctx context.Context, client *network.Client, n int, deadline time.Duration, name string) (*latencyRun, error) {
	run := &latencyRun{name: name, deadline: deadline}
	for i := 0; i < n; i++ {
		t := time.Now()
		qctx, cancel := ctx, context.CancelFunc(func() {})
		if deadline > 0 {
			qctx, cancel = context.WithTimeout(ctx, deadline)
		}
		g, err := client.Query(qctx, kmQuery())
		if err == nil {
			err = mergeKM(g)
		}
		d := time.Since(t)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("%s: query %d: %w", name, i+1, err)
		}
		run.elapsed = append(run.elapsed, d)
		if g.Partial() {
			run.partial++
		}
		run.missing = append(run.missing, len(g.Missing))
		run.answered = append(run.answered, len(g.Replies))
		if deadline > 0 {
			run.overshoot = append(run.overshoot, d-deadline)
		}
	}
	return run, nil
}

// mergeKM is the client's work on a gathered KM answer: merge per group, KM, log-rank.
func mergeKM(g *app.Gathered) error {
	if len(g.Replies) == 0 {
		return fmt.Errorf("no site answered")
	}
	_, err := mergeSurvival(g)
	return err
}

func latency(ctx context.Context, cfg config, r *report) error {
	dir := filepath.Join(cfg.work, "latency")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sizes := make([]int, latencySites)
	for i := range sizes {
		sizes[i] = latencyPatients
	}
	log.Printf("latency: generating %d sites of %d patients", latencySites, latencyPatients)
	dbs, err := buildSites(ctx, dir, synth.Spec{Study: synth.NSCLC, SiteSizes: sizes, Seed: synth.DemoSeed}, latencyPolicy(), nil)
	if err != nil {
		return err
	}
	defer closeSites(dbs)

	var runs []*latencyRun
	profPath := filepath.Join(cfg.work, "latency.prof")
	// All sites up. The client keeps its default discovery TTL (5 s), as the app does.
	runAll := func(name string, delays map[int]time.Duration, offline []int, n int, deadline time.Duration) error {
		fed, err := serveFederation(ctx, dbs, delays)
		if err != nil {
			return err
		}
		defer fed.close()
		client, err := network.Dial(ctx, fed.hub.URL(), network.WithName("oncofed-bench"))
		if err != nil {
			return err
		}
		defer client.Close()
		// Warm up: discovery, and the engines load their columns on the first query.
		if _, err := queries(ctx, client, 3, 0, name+" warm-up"); err != nil {
			return err
		}
		for _, i := range offline {
			fed.stop(i)
		}
		log.Printf("latency: %s: %d queries", name, n)
		stop := func() {}
		if len(runs) == 0 {
			if stop, err = startProfile(profPath); err != nil {
				return err
			}
		}
		load, cpu0, t0 := loadAverage(), cpuTime(), time.Now()
		run, err := queries(ctx, client, n, deadline, name)
		stop()
		if err != nil {
			return err
		}
		run.cpu, run.span, run.load = cpuTime()-cpu0, time.Since(t0), [2]string{load, loadAverage()}
		runs = append(runs, run)
		log.Printf("latency: %s: p50 %s p95 %s max %s, %d partial; CPU %s a query, %.0f%% of a core, load %s–%s", name, fmtDur(percentile(run.elapsed, 50)),
			fmtDur(percentile(run.elapsed, 95)), fmtDur(percentile(run.elapsed, 100)), run.partial, fmtDur(run.cpu/time.Duration(n)),
			run.share()*100, run.load[0], run.load[1])
		return nil
	}
	tenth := func() []int {
		var s []int
		for i := 5; i < latencySites; i += 10 {
			s = append(s, i)
		}
		return s
	}
	if err := runAll("all 100 sites up", nil, nil, cfg.latencyN, 0); err != nil {
		return err
	}
	slow := map[int]time.Duration{}
	for _, i := range tenth() {
		slow[i] = cfg.slow
	}
	if err := runAll(fmt.Sprintf("10 sites slow (+%s each)", cfg.slow), slow, nil, cfg.latencyN, 0); err != nil {
		return err
	}
	if err := runAll(fmt.Sprintf("10 sites offline, deadline %s", cfg.deadline), nil, tenth(), cfg.offlineN, cfg.deadline); err != nil {
		return err
	}

	var b strings.Builder
	b.WriteString("## 3. 100 sites × 10,000 patients: KM query latency\n\n")
	fmt.Fprintf(&b, "%d sites of %d patients (synthetic NSCLC), each a node engine on its own SQLite file with the demo policy\n", latencySites, latencyPatients)
	b.WriteString("(minimum cohort 10, minimum cell 5, overlap guard on, exact times; daily budget off) and its own connection to one\n")
	b.WriteString("embedded hub on loopback, all in this process on the 2 cores. Each query is a KM by sex (2 groups), timed from send\n")
	b.WriteString("to merged curves + log-rank at the client (network.Client with its default options, as the app uses it: discovery\n")
	b.WriteString("is cached for 5 s, so a few queries include one). Every node also appends each query to its SQLite audit log.\n")
	fmt.Fprintf(&b, "Slow sites sleep %s before answering; offline sites are stopped after the client discovered them.\n\n", cfg.slow)
	b.WriteString("| Scenario | Queries | p50 | p95 | max | Labelled partial | Sites answered (median) | CPU a query (whole network) | CPU share (CPU ÷ wall) | load average (start–end) |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, run := range runs {
		var ans []float64
		for _, a := range run.answered {
			ans = append(ans, float64(a))
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %d of %d | %.0f | %s | %.2f cores | %s–%s |\n", run.name, len(run.elapsed), fmtDur(percentile(run.elapsed, 50)),
			fmtDur(percentile(run.elapsed, 95)), fmtDur(percentile(run.elapsed, 100)), run.partial, len(run.elapsed), medianFloat(ans),
			fmtDur(run.cpu/time.Duration(len(run.elapsed))), run.share(), run.load[0], run.load[1])
	}
	b.WriteString("\n")
	b.WriteString("The latency is the CPU a query costs the whole network in this process divided by the share of the 2 cores\n")
	b.WriteString("the process gets: on a machine busy with other work (load average above 2) the share falls and the latency\n")
	b.WriteString("rises with it while the CPU a query costs stays put (bench/NOTES.md, \"The 100-site latency and the load\").\n\n")
	off := runs[2]
	fmt.Fprintf(&b, "With 10 sites offline every answer came after the %s deadline by p50 %s / max %s, and %d of %d were labelled\n",
		cfg.deadline, fmtDur(percentile(off.overshoot, 50)), fmtDur(percentile(off.overshoot, 100)), off.partial, len(off.elapsed))
	fmt.Fprintf(&b, "partial with %d sites missing (median).\n\n", int(medianFloat(intsToFloats(off.missing))))
	if sum, err := profileTable(profPath, latencySpots, len(runs[0].elapsed)); err != nil {
		fmt.Fprintf(&b, "Profile not summarised: %v.\n\n", err)
	} else {
		fmt.Fprintf(&b, "### Where the time goes (all 100 sites up, %d queries)\n\n", len(runs[0].elapsed))
		b.WriteString("All 100 nodes, the hub and the client share this process and its 2 cores, so a query's latency here is\n")
		b.WriteString("bounded by the CPU of the whole network; in a deployment each node has its own machine and the client's\n")
		b.WriteString("own work (decode, validate, merge) plus the slowest node bound it.\n\n")
		b.WriteString(sum + "\n")
	}
	r.add(b.String())

	all := runs[0]
	p95 := percentile(all.elapsed, 95)
	r.goal("100 sites × 10,000: KM p95 on loopback", "< 300 ms", fmt.Sprintf("p95 %s (p50 %s)", fmtDur(p95), fmtDur(percentile(all.elapsed, 50))), p95 < 300*time.Millisecond)
	atDeadline := off.partial == len(off.elapsed) && percentile(off.overshoot, 0.0001) > -10*time.Millisecond && percentile(off.overshoot, 100) < 250*time.Millisecond
	r.goal("10% of sites offline: answer at the deadline, labelled partial", fmt.Sprintf("answer at the %s deadline, partial", cfg.deadline),
		fmt.Sprintf("%d/%d partial, %d missing; after the deadline by p50 %s, max %s", off.partial, len(off.elapsed),
			int(medianFloat(intsToFloats(off.missing))), fmtDur(percentile(off.overshoot, 50)), fmtDur(percentile(off.overshoot, 100))), atDeadline)
	return nil
}

// share is the cores the series had on average: its CPU over its wall clock.
func (r *latencyRun) share() float64 {
	if r.span <= 0 {
		return 0
	}
	return r.cpu.Seconds() / r.span.Seconds()
}

func intsToFloats(x []int) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}
