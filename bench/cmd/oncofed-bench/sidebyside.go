package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/oncofed/oncofed/network"
	"github.com/oncofed/oncofed/node"
	"github.com/oncofed/oncofed/synth"
)

// sbsRow is one federation size of the side-by-side.
type sbsRow struct {
	n, sites      int
	build         time.Duration // synth + SQLite import of every site (not part of any figure)
	discovery     time.Duration
	setup         time.Duration // cache.Open + catalog refresh, as every oncofed-cli command starts
	cold          time.Duration // first run: engines load their study from SQLite
	tmpfs         string        // the tmpfs directory of the cache in the tmpfs runs ("" = none)
	oursTmpfs     []phases      // the same runs with the cache on tmpfs
	cacheBytes    int64         // size of the cache file (with its WAL) after the timed runs
	cacheResults  int           // results stored in it by then
	ours          []time.Duration
	inProc        []time.Duration // the same, engines called in process (no hub, no JSON)
	oursCPU       []time.Duration // process CPU (client + hub + 10 nodes, all in this process)
	profile       string          // CPU profile of the timed federated runs
	phases        []phases
	rounds        int
	goPooled      []time.Duration
	heapPerM      float64 // MiB held by the 10 engines per million patients
	r             *rResult
	rSkip         string
	agreeR        float64
	agreeGo       float64
	ourAnswer     answer
	partialSeen   bool
	replyBytesCox int
}

// rResult is what bench/r/sidebyside.R writes.
type rResult struct {
	RVersion        string    `json:"r_version"`
	SurvivalVersion string    `json:"survival_version"`
	N               int       `json:"n"`
	Reps            int       `json:"reps"`
	CPUSeconds      []float64 `json:"cpu_seconds"`
	Seconds         struct {
		Total   []float64 `json:"total"`
		KM      []float64 `json:"km"`
		Logrank []float64 `json:"logrank"`
		Cox     []float64 `json:"cox"`
	} `json:"seconds"`
	GroupN  []int      `json:"group_n"`
	Median  []*float64 `json:"median"`
	ChiSq   float64    `json:"chisq"`
	Coef    []float64  `json:"coef"`
	SE      []float64  `json:"se"`
	LogLik  float64    `json:"loglik"`
	CoxN    int        `json:"cox_n"`
	CoxIter int        `json:"cox_iter"`
}

func (r *rResult) answer() answer {
	a := answer{Groups: []string{"female", "male"}, N: r.GroupN, ChiSq: r.ChiSq, Coef: r.Coef, SE: r.SE, LogLik: r.LogLik, CoxN: r.CoxN}
	for _, m := range r.Median {
		if m == nil {
			a.Median = append(a.Median, math.NaN())
		} else {
			a.Median = append(a.Median, *m)
		}
	}
	return a
}

// rStatus says whether R with survival and jsonlite can run, and why not.
func rStatus(rscript string) string {
	out, err := exec.Command(rscript, "-e", `suppressPackageStartupMessages({library(survival); library(jsonlite)})`).CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if msg == "" {
			msg = err.Error()
		}
		return "R cannot run here (" + firstLine(msg) + ")"
	}
	return ""
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func sideBySideSize(ctx context.Context, cfg config, n int, rSkip string) (*sbsRow, error) {
	row := &sbsRow{n: n, sites: 10, rSkip: rSkip}
	reps := cfg.reps
	if n >= 5000000 {
		reps = min(reps, 3)
	}
	dir := filepath.Join(cfg.work, "sbs-"+sizeName(n))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	base := heapInUse()
	log.Printf("side by side %s: generating 10 sites and importing them into SQLite", sizeName(n))
	t0 := time.Now()
	pw, err := newPooledWriter(dir)
	if err != nil {
		return nil, err
	}
	dbs, err := buildSites(ctx, dir, synth.Spec{Study: synth.NSCLC, Sites: 10, Patients: n, Seed: synth.DemoSeed}, node.ExactPolicy(), pw)
	if cerr := pw.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	defer closeSites(dbs)
	row.build = time.Since(t0)

	fed, err := serveFederation(ctx, dbs, nil)
	if err != nil {
		return nil, err
	}
	nc, err := network.Dial(ctx, fed.hub.URL(), network.WithName("oncofed-bench"),
		network.WithTimeout(30*time.Minute), network.WithDiscoveryTTL(24*time.Hour))
	if err != nil {
		fed.close()
		return nil, err
	}
	t1 := time.Now()
	if _, err := nc.Sites(ctx); err != nil {
		return nil, err
	}
	row.discovery = time.Since(t1)
	// The result cache is where oncofed-cli puts it by default: a file in a new temporary
	// directory (here the scratch directory, on the same file system).
	client, setup, err := newClient(ctx, nc, filepath.Join(dir, "cache.db"))
	if err != nil {
		return nil, err
	}
	defer client.close()
	row.setup = setup
	log.Printf("side by side %s: first (cold) federated run", sizeName(n))
	t2 := time.Now()
	a, _, err := federatedKMCox(ctx, client)
	if err != nil {
		return nil, err
	}
	row.cold = time.Since(t2)
	row.heapPerM = float64(heapInUse()-min(base, heapInUse())) / (1 << 20) / (float64(n) / 1e6)
	// The same runs with the cache on a RAM file system, interleaved with the timed runs so that
	// both see the same neighbours: the difference is the cache's disk I/O (its JSON encoding
	// and SQLite work are the same).
	var tmpClient *analystClient
	if shm := tmpfsDir(); shm != "" {
		tdir, err := os.MkdirTemp(shm, "oncofed-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tdir)
		if tmpClient, _, err = newClient(ctx, nc, filepath.Join(tdir, "cache.db")); err != nil {
			return nil, err
		}
		defer tmpClient.close()
		row.tmpfs = shm
		// Its first run, like the cold run for the disk cache, is not timed.
		if _, _, err := federatedKMCox(ctx, tmpClient); err != nil {
			return nil, fmt.Errorf("cache on tmpfs: %w", err)
		}
	}
	row.profile = filepath.Join(cfg.work, "federated-"+sizeName(n)+".prof")
	stopProfile, err := startProfile(row.profile)
	if err != nil {
		return nil, err
	}
	for i := 0; i < reps; i++ {
		t, c := time.Now(), cpuTime()
		a, ph, err := federatedKMCox(ctx, client)
		if err != nil {
			stopProfile()
			return nil, err
		}
		row.ours = append(row.ours, time.Since(t))
		row.oursCPU = append(row.oursCPU, cpuTime()-c)
		row.phases = append(row.phases, ph)
		row.rounds = a.Rounds
		row.partialSeen = row.partialSeen || a.Partial
		row.ourAnswer = a
		log.Printf("side by side %s: federated run %d: %s (KM %s, Cox %s in %d rounds: scatter-gathers %s, cache write %s)",
			sizeName(n), i+1, fmtDur(row.ours[i]), fmtDur(ph.KM), fmtDur(ph.Cox), a.Rounds, fmtDur(ph.CoxNet), fmtDur(ph.CoxSave))
		if tmpClient != nil {
			_, ph, err := federatedKMCox(ctx, tmpClient)
			if err != nil {
				stopProfile()
				return nil, fmt.Errorf("cache on tmpfs: %w", err)
			}
			row.oursTmpfs = append(row.oursTmpfs, ph)
			log.Printf("side by side %s: federated run %d, cache on %s: %s (Cox %s, cache write %s)",
				sizeName(n), i+1, row.tmpfs, fmtDur(ph.total()), fmtDur(ph.Cox), fmtDur(ph.CoxSave))
		}
	}
	stopProfile()
	_ = a
	row.cacheResults = 2 * (reps + 1)
	row.cacheBytes = fileSize(client.path) + fileSize(client.path+"-wal")
	nc.Close()
	fed.close()
	local, _, err := newClient(ctx, &inProcess{sites: dbs}, filepath.Join(dir, "cache-inprocess.db"))
	if err != nil {
		return nil, fmt.Errorf("in process: %w", err)
	}
	for i := -1; i < reps; i++ { // run -1 is the new cache's first, not timed
		if i < 0 {
			if _, _, err := federatedKMCox(ctx, local); err != nil {
				local.close()
				return nil, fmt.Errorf("in process: %w", err)
			}
			continue
		}
		t := time.Now()
		if _, _, err := federatedKMCox(ctx, local); err != nil {
			local.close()
			return nil, fmt.Errorf("in process: %w", err)
		}
		row.inProc = append(row.inProc, time.Since(t))
	}
	local.close()
	log.Printf("side by side %s: in process (no hub, no JSON): median %s", sizeName(n), fmtDur(medianDur(row.inProc)))
	// Let the engines go before R and the Go floor run.
	closeSites(dbs)
	dbs = nil
	runtime.GC()

	pooled, err := readPooled(dir)
	if err != nil {
		return nil, err
	}
	var goAns answer
	for i := 0; i < reps; i++ {
		t := time.Now()
		goAns, err = pooledGo(pooled)
		if err != nil {
			return nil, fmt.Errorf("pooled Go: %w", err)
		}
		row.goPooled = append(row.goPooled, time.Since(t))
	}
	log.Printf("side by side %s: pooled Go in memory: median %s", sizeName(n), fmtDur(medianDur(row.goPooled)))
	if row.agreeGo, err = agreement(row.ourAnswer, goAns); err != nil {
		return nil, err
	}
	pooled = nil
	runtime.GC()

	if rSkip == "" {
		log.Printf("side by side %s: R survfit + survdiff + coxph, %d repetitions", sizeName(n), cfg.rReps)
		out := filepath.Join(dir, "r.json")
		cmd := exec.CommandContext(ctx, cfg.rscript, filepath.Join("bench", "r", "sidebyside.R"), dir, fmt.Sprint(cfg.rReps), out)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			row.rSkip = "R failed: " + err.Error()
		} else {
			b, err := os.ReadFile(out)
			if err != nil {
				return nil, err
			}
			var rr rResult
			if err := json.Unmarshal(b, &rr); err != nil {
				return nil, fmt.Errorf("R output: %w", err)
			}
			row.r = &rr
			if row.agreeR, err = agreement(row.ourAnswer, rr.answer()); err != nil {
				return nil, err
			}
			log.Printf("side by side %s: R median %.2f s; largest relative difference ours vs R %.2g", sizeName(n), medianFloat(rr.Seconds.Total), row.agreeR)
		}
	}
	return row, nil
}

func sideBySide(ctx context.Context, cfg config, r *report) error {
	rSkip := rStatus(cfg.rscript)
	if rSkip != "" {
		log.Printf("SKIP the R comparison: %s", rSkip)
	}
	var rows []*sbsRow
	for _, n := range cfg.sizes {
		row, err := sideBySideSize(ctx, cfg, n, rSkip)
		if err != nil {
			return fmt.Errorf("%s: %w", sizeName(n), err)
		}
		rows = append(rows, row)
	}
	var b strings.Builder
	b.WriteString("## 1–2. Federated KM + log-rank + pooled Cox vs R on the pooled data\n\n")
	b.WriteString("Synthetic NSCLC federation (synth, seed 2026) of 10 sites, exact policy (no binning, no suppression).\n")
	b.WriteString("**Ours**: each site a node engine on its own SQLite file, served over its own connection to an embedded NATS hub\n")
	b.WriteString("on loopback. The client is wired as `oncofed-cli` wires it: `app.Service` on `network.Client`, with a SQLite result\n")
	b.WriteString("cache (`cache.Open`, a file in a temporary directory on disk, the CLI's default) whose catalog was refreshed once\n")
	b.WriteString("before the timed runs. One run is two `Service.Run` calls: the KM of `oncofed-cli km --group sex` (one `survival`\n")
	b.WriteString("scatter-gather, the per-site tables merged per group, Kaplan–Meier with medians, log-rank pooled and by site, the\n")
	b.WriteString("result stored), then the Cox model of `oncofed-cli cox --covariates age,sex,ecog --strata none` (the pooled form,\n")
	b.WriteString("WebDISCO, Efron: one scatter-gather of risk-set sums per Newton–Raphson evaluation, and the result stored in\n")
	b.WriteString("its compact form — each round's query and reply digests and the fit's trace — in one transaction). Timed after one\n")
	b.WriteString("cold run (which loads the columns from SQLite into the engines); site discovery and the cache's opening with its\n")
	b.WriteString("catalog refresh are timed apart. **R**: `survfit` (+ its median table) + `survdiff` + `coxph(ties = \"efron\")` on\n")
	b.WriteString("the same pooled patients, already in memory (bench/r/sidebyside.R), timed inside R. **Go pooled floor**: the same\n")
	b.WriteString("statistics by a plain Go program on the pooled columns in memory (analysis.NewSurvivalTable/KaplanMeier/LogRank,\n")
	b.WriteString("NewCoxStratum + FitCox), no network, no cache. **In process**: the same `app.Service` runs, cache included, with\n")
	b.WriteString("the transport taken out — its network calls the 10 engines directly (node.Engine.Handle, concurrently), no hub, no\n")
	b.WriteString("JSON on the wire, no reply validation — so the difference to *ours* is the cost of moving the aggregates.\n\n")
	b.WriteString("Wall-clock time is what the analyst waits for; the machine is shared (other engineers' builds and tests ran at the\n")
	b.WriteString("same time), so CPU time (user + system, of the whole federation — client, hub and 10 nodes in this process — and of\n")
	b.WriteString("R) is reported too: it is less sensitive to the neighbours.\n\n")
	b.WriteString("| Patients | Runs | Ours end to end (wall) | Ours min–max | KM run | Cox run (rounds) | R total (wall; min–max) | R survfit / survdiff / coxph | **Ours / R (wall)** | Ours CPU | R CPU | Ours / R (CPU) | In process (no hub) | In process / R | Go pooled floor | Ours / floor | Agreement with R (max rel. diff) |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, row := range rows {
		ours := medianDur(row.ours)
		oursCPU := medianDur(row.oursCPU)
		rTot, rParts, ratioR, agree, rCPU, ratioCPU, ratioIn := "skipped", "—", "—", "—", "—", "—", "—"
		runs := fmt.Sprintf("%d", len(row.ours))
		if row.r != nil {
			runs += fmt.Sprintf(" (R %d)", len(row.r.Seconds.Total))
			rt := secs(medianFloat(row.r.Seconds.Total))
			rTot = fmt.Sprintf("%s (%s–%s)", fmtDur(rt), fmtDur(secs(slices.Min(row.r.Seconds.Total))), fmtDur(secs(slices.Max(row.r.Seconds.Total))))
			rParts = fmt.Sprintf("%s / %s / %s", fmtDur(secs(medianFloat(row.r.Seconds.KM))), fmtDur(secs(medianFloat(row.r.Seconds.Logrank))), fmtDur(secs(medianFloat(row.r.Seconds.Cox))))
			ratioR = fmt.Sprintf("**%.2f×**", ratio(ours, rt))
			agree = fmt.Sprintf("%.1e", row.agreeR)
			rc := secs(medianFloat(row.r.CPUSeconds))
			rCPU = fmtDur(rc)
			ratioCPU = fmt.Sprintf("%.2f×", ratio(oursCPU, rc))
			ratioIn = fmt.Sprintf("%.2f×", ratio(medianDur(row.inProc), rt))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s–%s | %s | %s (%d) | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.1f× | %s |\n",
			sizeName(row.n), runs, fmtDur(ours), fmtDur(slices.Min(row.ours)), fmtDur(slices.Max(row.ours)), fmtDur(medianPhase(row.phases, func(p phases) time.Duration { return p.KM })),
			fmtDur(medianPhase(row.phases, func(p phases) time.Duration { return p.Cox })), row.rounds,
			rTot, rParts, ratioR, fmtDur(oursCPU), rCPU, ratioCPU, fmtDur(medianDur(row.inProc)), ratioIn,
			fmtDur(medianDur(row.goPooled)), ratio(ours, medianDur(row.goPooled)), agree)
	}
	b.WriteString("\n### Where a run's wall-clock time goes, and what the cache costs\n\n")
	b.WriteString("Each `Service.Run` is split by wrapping the service's network and cache (medians over the timed runs; medians of\n")
	b.WriteString("parts need not add up to the median of the whole): the **scatter-gathers** (`Network.Query`: send, the nodes' work,\n")
	b.WriteString("gather, decode, validate; one per Cox round), the **cache write** (`Cache.SaveResult`: every round's query and\n")
	b.WriteString("reply digests and the fit's trace, inserted in one SQLite transaction, WAL, committed to the file system), and\n")
	b.WriteString("the client's own work in between (the live fit, which is the result's payload, the provenance, the digests of the\n")
	b.WriteString("replies as received and the content hash). The **tmpfs** columns are the same runs,\n")
	b.WriteString("right after, with the cache file on a RAM file system: what is left of the cache write there is its\n")
	b.WriteString("SQLite work, the difference to the disk figure its I/O.\n\n")
	b.WriteString("| Patients | Cox run | its scatter-gathers | its cache write (disk) | client work (rest) | stored per Cox result | Cox run, cache on tmpfs | its cache write (tmpfs) | Ours end to end, cache on tmpfs | KM run | its scatter-gather | its cache write |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, row := range rows {
		med := func(ps []phases, f func(phases) time.Duration) string {
			if len(ps) == 0 {
				return "—"
			}
			return fmtDur(medianPhase(ps, f))
		}
		cox := func(p phases) time.Duration { return p.Cox }
		rest := func(p phases) time.Duration { return p.Cox - p.CoxNet - p.CoxSave }
		stored := 0
		if len(row.phases) > 0 {
			stored = row.phases[len(row.phases)-1].CoxStored
		}
		fmt.Fprintf(&b, "| %s | %s | %s (%d) | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			sizeName(row.n), med(row.phases, cox), med(row.phases, func(p phases) time.Duration { return p.CoxNet }), row.rounds,
			med(row.phases, func(p phases) time.Duration { return p.CoxSave }), med(row.phases, rest), fmtBytes(int64(stored)),
			med(row.oursTmpfs, cox), med(row.oursTmpfs, func(p phases) time.Duration { return p.CoxSave }),
			med(row.oursTmpfs, func(p phases) time.Duration { return p.total() }),
			med(row.phases, func(p phases) time.Duration { return p.KM }), med(row.phases, func(p phases) time.Duration { return p.KMNet }),
			med(row.phases, func(p phases) time.Duration { return p.KMSave }))
	}
	b.WriteString("\n")
	for _, row := range rows {
		if row.tmpfs == "" {
			fmt.Fprintf(&b, "%s: no tmpfs directory here (/dev/shm), so no run with the cache in RAM.\n\n", sizeName(row.n))
		}
	}
	b.WriteString("| Patients | Build (synth + SQLite import, not timed above) | Discovery | Cache open + catalog refresh | Cold first run | Cache file after the runs | Engine heap per 1M patients | Ours vs Go floor (max rel. diff) | Cox N | Groups n (female, male) | Median OS, days |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, row := range rows {
		a := row.ourAnswer
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %.1f MiB, %d results | %.0f MiB | %.1e | %d | %v | %v |\n", sizeName(row.n), fmtDur(row.build), fmtDur(row.discovery),
			fmtDur(row.setup), fmtDur(row.cold), float64(row.cacheBytes)/(1<<20), row.cacheResults, row.heapPerM, row.agreeGo, a.CoxN, a.N, a.Median)
	}
	b.WriteString("\n")
	if rSkip != "" {
		fmt.Fprintf(&b, "**R comparison skipped**: %s.\n\n", rSkip)
	}
	if len(rows) > 1 {
		first, last := rows[0], rows[len(rows)-1]
		grow := float64(last.n) / float64(first.n)
		line := fmt.Sprintf("Growth from %s to %s patients (×%.0f): ours ×%.1f", sizeName(first.n), sizeName(last.n), grow,
			ratio(medianDur(last.ours), medianDur(first.ours)))
		if first.r != nil && last.r != nil {
			line += fmt.Sprintf(", R ×%.1f", medianFloat(last.r.Seconds.Total)/medianFloat(first.r.Seconds.Total))
		}
		line += fmt.Sprintf(", Go pooled floor ×%.1f.", ratio(medianDur(last.goPooled), medianDur(first.goPooled)))
		b.WriteString(line + " The federated cost grows with the number of distinct event times a site releases (whole days:\n")
		b.WriteString("at most a few thousand per site), not with the number of patients, once the nodes hold their columns; the\n")
		b.WriteString("node's own work per query is a pass over its patients.\n\n")
	}
	skipped := []string{}
	for _, n := range []int{100000, 1000000, 10000000} {
		found := false
		for _, s := range cfg.sizes {
			found = found || s == n
		}
		if !found {
			skipped = append(skipped, sizeName(n))
		}
	}
	if len(skipped) > 0 {
		fmt.Fprintf(&b, "Not run this time: %s (select with BENCH_SIZES=100k,1M,10M; 10M takes about half an hour on 2 cores, mostly R).\n\n", strings.Join(skipped, ", "))
	}
	if len(rows) > 0 {
		prof := rows[len(rows)-1]
		for _, row := range rows {
			if row.n == 1000000 {
				prof = row
			}
		}
		if sum, err := profileSummary(prof.profile); err != nil {
			fmt.Fprintf(&b, "Profile of the %s runs not summarised: %v.\n\n", sizeName(prof.n), err)
		} else {
			fmt.Fprintf(&b, "### Where the federated CPU goes (%s patients)\n\nA CPU profile of the timed runs (the runs with the cache on tmpfs included, interleaved with them;\n"+
				"`go tool pprof -top -cum`). The client, the hub and the 10 nodes share this process, so the profile holds all of them.\n\n%s\n", sizeName(prof.n), sum)
		}
	}
	r.add(b.String())
	for _, row := range rows {
		if row.n != 1000000 {
			continue
		}
		if row.r == nil {
			r.skipGoal("Federated KM + log-rank + Cox, 1M / 10 sites", "≤ 0.1× R", "R comparison skipped: "+row.rSkip)
			continue
		}
		rt := secs(medianFloat(row.r.Seconds.Total))
		rr := ratio(medianDur(row.ours), rt)
		r.goal("Federated KM + log-rank + Cox, 1M / 10 sites, end to end through the hub (app.Service, cache writes included)", "≤ 0.1× R",
			fmt.Sprintf("%s vs R %s = %.3f× (agree to %.0e)", fmtDur(medianDur(row.ours)), fmtDur(rt), rr, row.agreeR), rr <= 0.1)
	}
	return nil
}

// medianPhase is the median of one part of the runs' phases.
func medianPhase(ps []phases, f func(phases) time.Duration) time.Duration {
	return medianDur(phaseDurs(ps, f))
}

func phaseDurs(ps []phases, f func(phases) time.Duration) []time.Duration {
	out := make([]time.Duration, len(ps))
	for i, p := range ps {
		out[i] = f(p)
	}
	return out
}

// fileSize is the size of the file at path, 0 when there is none.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// tmpfsDir returns /dev/shm when it is a RAM file system (tmpfs) this process may write to,
// else "".
func tmpfsDir() string {
	const tmpfsMagic = 0x01021994
	var st syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &st); err != nil || st.Type != tmpfsMagic {
		return ""
	}
	if syscall.Access("/dev/shm", 2) != nil {
		return ""
	}
	return "/dev/shm"
}
