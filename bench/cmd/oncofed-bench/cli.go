package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/oncofed/oncofed/cache"
	"github.com/oncofed/oncofed/internal/sqlitedb"
	"github.com/oncofed/oncofed/node"
)

// cliBench is the section that times what a user runs (issue 14): oncofed-cli processes, each
// started afresh (process start, discovery, the scatter-gathers, the cache write, the JSON
// output), against a hub and ten site nodes that are processes of their own (oncofed-node hub
// and oncofed-node serve, exact policy) on loopback, over the pan-cancer study (clidata.go).
// R fits the same models on the pooled data in memory in the same run.
func cliBench(ctx context.Context, cfg config, r *report) error {
	dir := filepath.Join(cfg.work, "cli")
	net, err := startPanCancerNetwork(ctx, cfg, dir, "cli")
	if err != nil {
		return err
	}
	defer net.stop()

	var rres *cliR
	rErr := "not run"
	if cfg.rscript != "" {
		log.Printf("cli: R, %d repetitions", cfg.rReps)
		rres, err = runCLIR(cfg, filepath.Join(dir, "pooled"), filepath.Join(dir, "r.json"))
		if err != nil {
			rErr = err.Error()
			log.Printf("cli: R failed: %v", err)
		}
	}

	runs := []cliRun{{name: "km", args: []string{"km", "--study", cliStudy, "--endpoint", "OS", "--group", "cancer"}}}
	for _, m := range cliModels {
		runs = append(runs, cliRun{name: m.name, model: m, args: []string{"cox", "--study", cliStudy, "--endpoint", "OS",
			"--covariates", strings.Join(m.covariates, ","), "--strata", "none"}})
	}
	runs = append(runs, cliRun{name: "strat_p5", model: cliModels[1], args: []string{"cox", "--study", cliStudy, "--endpoint", "OS",
		"--covariates", strings.Join(cliModels[1].covariates, ",")}})
	for i := range runs {
		run := &runs[i]
		for rep := 0; rep < cfg.reps; rep++ {
			m, err := net.timeCLI(dir, run.args, cfg.cliTimeout)
			if err != nil {
				return fmt.Errorf("%s: %w", run.name, err)
			}
			log.Printf("cli: %s run %d: %s (cpu %s), cache %d bytes%s", run.name, rep+1, fmtDur(m.wall), fmtDur(m.cpu), m.cacheBytes, map[bool]string{true: ", KILLED"}[m.killed])
			run.runs = append(run.runs, m)
			if m.killed {
				break // one run past the limit says enough; the others would be too
			}
		}
	}
	md := cliMarkdown(cfg, runs, rres, rErr)
	if cfg.cliBaseline != "" {
		// Another build of oncofed-cli (e.g. the one before results were kept compact) on the
		// same network: the pooled p5 fit once, for its time and what it stores.
		p5 := runs[2]
		m, err := net.timeCLIWith(cfg.cliBaseline, dir, p5.args, cfg.cliTimeout)
		if err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		md += fmt.Sprintf("Baseline `%s` (%s), pooled Cox on cancer + age + sex, one run: %s (CPU %s), cache %s per result (this build: %s, %s).\n\n",
			cfg.cliBaseline, cfg.cliBaselineName, fmtDur(m.wall), fmtDur(m.cpu), fmtBytes(m.cacheBytes), fmtDur(p5.wall()), fmtBytes(last2Bytes(&p5)))
	}
	r.add(md)
	return nil
}

type cliRun struct {
	name  string
	model cliModel
	args  []string
	runs  []cliMeasure
}

type cliMeasure struct {
	wall, cpu  time.Duration
	killed     bool
	cacheBytes int64
	out        []byte
}

func (c *cliRun) wall() time.Duration {
	var ds []time.Duration
	for _, m := range c.runs {
		ds = append(ds, m.wall)
	}
	return medianDur(ds)
}

func (c *cliRun) cpu() time.Duration {
	var ds []time.Duration
	for _, m := range c.runs {
		ds = append(ds, m.cpu)
	}
	return medianDur(ds)
}

func (c *cliRun) killed() bool { return len(c.runs) > 0 && c.runs[len(c.runs)-1].killed }

// cliNetwork is the hub and site node processes.
type cliNetwork struct {
	url   string
	procs []*exec.Cmd
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startPanCancerNetwork builds oncofed-cli and oncofed-node into dir/bin, generates the
// pan-cancer study's sites (clidata.go) and starts their network: the setup of the sections
// that time oncofed-cli processes (section names the log lines).
func startPanCancerNetwork(ctx context.Context, cfg config, dir, section string) (*cliNetwork, error) {
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return nil, err
	}
	for _, cmd := range []string{"oncofed-cli", "oncofed-node"} {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, cmd), "./cmd/"+cmd).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build %s: %v\n%s", cmd, err, out)
		}
	}
	log.Printf("%s: generating %s patients on %d sites", section, sizeName(cfg.cliSize), len(cliSiteShares))
	dbs, err := buildPanCancer(ctx, dir, cfg.cliSize)
	if err != nil {
		return nil, err
	}
	return startCLINetwork(dir, bin, dbs)
}

func startCLINetwork(dir, bin string, dbs []string) (*cliNetwork, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	n := &cliNetwork{url: fmt.Sprintf("nats://127.0.0.1:%d", port)}
	policy, err := json.Marshal(node.ExactPolicy())
	if err != nil {
		return nil, err
	}
	policyFile := filepath.Join(dir, "exact-policy.json")
	if err := os.WriteFile(policyFile, policy, 0o644); err != nil {
		return nil, err
	}
	start := func(args ...string) error {
		cmd := exec.Command(filepath.Join(bin, "oncofed-node"), args...)
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("node-%d.log", len(n.procs))))
		if err != nil {
			return err
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			return err
		}
		n.procs = append(n.procs, cmd)
		return nil
	}
	if err := start("hub", "--listen", fmt.Sprintf("127.0.0.1:%d", port)); err != nil {
		return nil, err
	}
	time.Sleep(500 * time.Millisecond)
	for _, db := range dbs {
		if err := start("serve", "--hub", n.url, "--db", db, "--policy", policyFile, "--insecure-open"); err != nil {
			n.stop()
			return nil, err
		}
	}
	// Wait until every site is online.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, _ := exec.Command(filepath.Join(bin, "oncofed-cli"), "--hub", n.url, "--format", "json", "sites").Output()
		if strings.Count(string(out), `"online": true`) >= len(dbs) {
			return n, nil
		}
		if time.Now().After(deadline) {
			n.stop()
			return nil, fmt.Errorf("the %d site nodes did not come online: %s", len(dbs), out)
		}
		time.Sleep(time.Second)
	}
}

// stop ends the processes this harness started (by their own process handles).
func (n *cliNetwork) stop() {
	for i := len(n.procs) - 1; i >= 0; i-- {
		p := n.procs[i]
		_ = p.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = p.Process.Kill()
			<-done
		}
	}
	n.procs = nil
}

// timeCLI runs oncofed-cli once, with a new cache file, and measures it: wall clock from start
// to exit, the process's CPU (user + system), and the bytes its result takes in the cache. A run
// past limit is killed.
func (n *cliNetwork) timeCLI(dir string, args []string, limit time.Duration) (cliMeasure, error) {
	return n.timeCLIWith(filepath.Join(dir, "bin", "oncofed-cli"), dir, args, limit)
}

// timeCLIWith is timeCLI with the oncofed-cli binary at bin.
func (n *cliNetwork) timeCLIWith(bin, dir string, args []string, limit time.Duration) (cliMeasure, error) {
	cachePath := filepath.Join(dir, "run-cache.db")
	for _, s := range []string{"", "-wal", "-shm"} {
		os.Remove(cachePath + s)
	}
	full := append([]string{"--hub", n.url, "--cache", cachePath, "--timeout", "10m", "--format", "json"}, args...)
	cmd := exec.Command(bin, full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return cliMeasure{}, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var m cliMeasure
	select {
	case err := <-done:
		m.wall = time.Since(start)
		if err != nil {
			return m, fmt.Errorf("oncofed-cli %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-done
		m.wall, m.killed = limit, true
	}
	if ps := cmd.ProcessState; ps != nil {
		m.cpu = ps.UserTime() + ps.SystemTime()
	}
	m.out = stdout.Bytes()
	if !m.killed {
		b, err := resultBytes(cachePath)
		if err != nil {
			return m, err
		}
		m.cacheBytes = b
	}
	return m, nil
}

// resultBytes is what the one result in the cache at path takes (cache.StoredResultBytes).
func resultBytes(path string) (int64, error) {
	db, err := sqlitedb.Open(path, sqlitedb.ReadOnly)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	return cache.StoredResultBytes(context.Background(), db)
}

// cliR is what bench/r/models.R writes.
type cliR struct {
	RVersion string               `json:"r_version"`
	Survival string               `json:"survival_version"`
	N        int                  `json:"n"`
	Seconds  map[string][]float64 `json:"seconds"`
	KM       struct {
		GroupN []int     `json:"group_n"`
		Median []float64 `json:"median"`
		ChiSq  float64   `json:"chisq"`
	} `json:"km"`
	Fits map[string]struct {
		Coef   []float64 `json:"coef"`
		SE     []float64 `json:"se"`
		LogLik float64   `json:"loglik"`
		N      int       `json:"n"`
	} `json:"fits"`
}

func runCLIR(cfg config, dir, out string) (*cliR, error) {
	cmd := exec.Command(cfg.rscript, "bench/r/models.R", dir, fmt.Sprint(cfg.rReps), out)
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%v: %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	var res cliR
	return &res, json.Unmarshal(b, &res)
}

func (r *cliR) median(name string) time.Duration { return secs(medianFloat(r.Seconds[name])) }

// ourCox reads a cox JSON output: coefficients, standard errors, log-likelihood.
type ourCox struct {
	N      int       `json:"n"`
	LogLik []float64 `json:"loglik"`
	Terms  []struct {
		Column string  `json:"column"`
		Coef   float64 `json:"coef"`
		SE     float64 `json:"se"`
	} `json:"terms"`
}

// coxAgreement is the largest relative difference between our fit and R's — of the
// log-likelihood, of each standard error, and of each coefficient relative to the larger of
// its size and its standard error (a marker's coefficient near zero would otherwise turn
// agreement to the last digits of its SE into a large ratio) — or an explanation.
func coxAgreement(out []byte, r *cliR, name string) string {
	if r == nil {
		return "no R"
	}
	f, ok := r.Fits[name]
	if !ok {
		return "no R fit"
	}
	var o ourCox
	if err := json.Unmarshal(out, &o); err != nil || len(o.Terms) != len(f.Coef) || len(o.LogLik) != 2 {
		return "output not comparable"
	}
	worst, where := math.Abs(o.LogLik[1]-f.LogLik)/math.Abs(f.LogLik), "log-likelihood"
	for j, t := range o.Terms {
		if d := math.Abs(t.Coef-f.Coef[j]) / math.Max(math.Abs(f.Coef[j]), f.SE[j]); d > worst {
			worst, where = d, t.Column+" coefficient"
		}
		if d := math.Abs(t.SE-f.SE[j]) / f.SE[j]; d > worst {
			worst, where = d, t.Column+" SE"
		}
	}
	if o.N != f.N {
		return fmt.Sprintf("N %d vs R %d", o.N, f.N)
	}
	return fmt.Sprintf("%.1e (%s)", worst, where)
}

func cliMarkdown(cfg config, runs []cliRun, rr *cliR, rErr string) string {
	var b strings.Builder
	byName := map[string]*cliRun{}
	for i := range runs {
		byName[runs[i].name] = &runs[i]
	}
	fmt.Fprintf(&b, "## oncofed-cli end to end vs R (section cli): %s patients on %d sites, exact policy\n\n", sizeName(cfg.cliSize), len(cliSiteShares))
	b.WriteString("Each figure is one `oncofed-cli` process from start to exit (discovery, the scatter-gathers, the cache write to a new\n")
	b.WriteString("cache file, JSON output) against `oncofed-node hub` and ten `oncofed-node serve` processes on loopback; the study\n")
	b.WriteString("holds four cancers (a quarter each) with cancer (4 levels), age, sex, ECOG, year of diagnosis and 15 biomarker\n")
	fmt.Fprintf(&b, "scores. Medians of %d runs (a run past %s is killed and not repeated); R: medians of %d repetitions in one Rscript\n", cfg.reps, cfg.cliTimeout, cfg.rReps)
	b.WriteString("on the pooled data in memory (bench/r/models.R). Cox fits are pooled (`--strata none`, Efron) unless said.\n\n")
	if rr == nil {
		fmt.Fprintf(&b, "R: %s.\n\n", rErr)
	}
	b.WriteString("| analysis | design columns | ours (CPU of the CLI process) | R | ratio | max rel. diff to R | cache bytes per result |\n|---|---|---|---|---|---|---|\n")
	row := func(label, cols string, ours time.Duration, cpu string, killed bool, rName []string, agree string, bytes int64) {
		var rt time.Duration
		for _, n := range rName {
			if rr != nil {
				rt += rr.median(n)
			}
		}
		oursS := fmtDur(ours) + " (" + cpu + ")"
		rat := "–"
		if killed {
			oursS = "killed after " + fmtDur(ours)
		} else if rt > 0 {
			rat = fmt.Sprintf("**%.2f×**", ratio(ours, rt))
		}
		rs := "–"
		if rt > 0 {
			rs = fmtDur(rt)
		}
		bs := "–"
		if bytes > 0 {
			bs = fmtBytes(bytes)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", label, cols, oursS, rs, rat, agree, bs)
	}
	km, p5 := byName["km"], byName["p5"]
	if km != nil && p5 != nil {
		row("KM + log-rank by cancer, then pooled Cox on cancer + age + sex (two processes)", "5",
			km.wall()+p5.wall(), fmtDur(km.cpu()+p5.cpu()), p5.killed(), []string{"km", "p5"}, coxAgreement(last(p5), rr, "p5"), last2Bytes(km)+last2Bytes(p5))
	}
	if km != nil {
		row("KM + log-rank by cancer", "–", km.wall(), fmtDur(km.cpu()), km.killed(), []string{"km"}, kmAgreement(last(km), rr), last2Bytes(km))
	}
	for _, m := range cliModels {
		c := byName[m.name]
		row("pooled Cox on "+strings.Join(shortCovs(m.covariates), " + "), fmt.Sprint(m.columns), c.wall(), fmtDur(c.cpu()), c.killed(), []string{m.name}, coxAgreement(last(c), rr, m.name), last2Bytes(c))
	}
	if c := byName["strat_p5"]; c != nil {
		row("Cox stratified by site on cancer + age + sex", "5", c.wall(), fmtDur(c.cpu()), c.killed(), []string{"strat_p5"}, coxAgreement(last(c), rr, "strat_p5"), last2Bytes(c))
	}
	b.WriteString("\n")
	if rr != nil {
		fmt.Fprintf(&b, "R %s, survival %s, %d patients.\n\n", strings.TrimPrefix(rr.RVersion, "R version "), rr.Survival, rr.N)
	}
	return b.String()
}

func shortCovs(c []string) []string {
	var out []string
	var marks int
	for _, v := range c {
		if strings.HasPrefix(v, "m") && len(v) == 3 {
			marks++
			continue
		}
		out = append(out, v)
	}
	if marks > 0 {
		out = append(out, fmt.Sprintf("%d markers", marks))
	}
	return out
}

func last(c *cliRun) []byte {
	if c == nil || len(c.runs) == 0 {
		return nil
	}
	return c.runs[len(c.runs)-1].out
}

func last2Bytes(c *cliRun) int64 {
	if c == nil || len(c.runs) == 0 {
		return 0
	}
	return c.runs[len(c.runs)-1].cacheBytes
}

// kmAgreement compares the KM output's group sizes, medians and log-rank χ² with R's.
func kmAgreement(out []byte, r *cliR) string {
	if r == nil {
		return "no R"
	}
	var o struct {
		Groups []struct {
			N      int `json:"n"`
			Median struct {
				Value *float64 `json:"value"`
			} `json:"median"`
		} `json:"groups"`
		LogRank struct {
			ChiSq float64 `json:"chisq"`
		} `json:"logrank"`
	}
	if err := json.Unmarshal(out, &o); err != nil || len(o.Groups) != len(r.KM.GroupN) {
		return "output not comparable"
	}
	worst := math.Abs(o.LogRank.ChiSq-r.KM.ChiSq) / r.KM.ChiSq
	for i, g := range o.Groups {
		if g.N != r.KM.GroupN[i] {
			return fmt.Sprintf("group %d: n %d vs R %d", i, g.N, r.KM.GroupN[i])
		}
		if g.Median.Value != nil && *g.Median.Value != r.KM.Median[i] {
			return fmt.Sprintf("group %d: median %v vs R %v", i, *g.Median.Value, r.KM.Median[i])
		}
	}
	return fmt.Sprintf("%.1e", worst)
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
