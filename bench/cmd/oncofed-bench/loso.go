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
	"strings"
	"time"
)

// losoBench is issue 20's performance goal: leave-one-site-out validation of the stratified
// p5 model (cancer + age + sex) over the cli section's ten sites (a hub and ten oncofed-node
// processes, exact policy), one `oncofed-cli model --validate loso` process end to end, against
// R running the same loop on the pooled data in memory (bench/r/loso.R): ten coxph refits on
// the complements, each then evaluated on its held-out site. Goal: ≤ 0.1× R's refits.
func losoBench(ctx context.Context, cfg config, r *report) error {
	dir := filepath.Join(cfg.work, "loso")
	net, err := startPanCancerNetwork(ctx, cfg, dir, "loso")
	if err != nil {
		return err
	}
	defer net.stop()

	var rr *losoR
	rErr := "not run"
	if cfg.rscript != "" {
		log.Printf("loso: R, %d repetitions", cfg.rReps)
		if rr, err = runLOSOR(cfg, filepath.Join(dir, "pooled"), filepath.Join(dir, "r-loso.json")); err != nil {
			rErr = err.Error()
			log.Printf("loso: R failed: %v", err)
		}
	}
	run := cliRun{name: "loso_strat_p5", args: []string{"model", "--study", cliStudy, "--endpoint", "OS",
		"--covariates", strings.Join(cliModels[1].covariates, ","), "--strata", "site", "--validate", "loso"}}
	for rep := 0; rep < cfg.reps; rep++ {
		m, err := net.timeCLI(dir, run.args, cfg.cliTimeout)
		if err != nil {
			return fmt.Errorf("%s: %w", run.name, err)
		}
		log.Printf("loso: run %d: %s (cpu %s)%s", rep+1, fmtDur(m.wall), fmtDur(m.cpu), map[bool]string{true: ", KILLED"}[m.killed])
		run.runs = append(run.runs, m)
		if m.killed {
			break
		}
	}
	r.add(losoMarkdown(cfg, &run, rr, rErr))
	if rr != nil && !run.killed() {
		ratio := run.wall().Seconds() / rr.median("fits").Seconds()
		r.goal("LOSO validation, stratified p5, "+sizeName(cfg.cliSize)+" / 10 sites (oncofed-cli end to end vs R's 10 coxph refits)",
			"≤ 0.1× R", fmt.Sprintf("%.3f× (%s vs %s)", ratio, fmtDur(run.wall()), fmtDur(rr.median("fits"))), ratio <= 0.1)
	}
	return nil
}

// losoR is what bench/r/loso.R writes.
type losoR struct {
	RVersion string               `json:"r_version"`
	N        int                  `json:"n"`
	Sites    []float64            `json:"sites"`
	Seconds  map[string][]float64 `json:"seconds"`
	HarrellC []float64            `json:"harrell_c"`
}

func (r *losoR) median(name string) time.Duration { return secs(medianFloat(r.Seconds[name])) }

func runLOSOR(cfg config, dir, out string) (*losoR, error) {
	cmd := exec.Command(cfg.rscript, "bench/r/loso.R", dir, fmt.Sprint(cfg.rReps), out)
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%v: %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	var res losoR
	return &res, json.Unmarshal(b, &res)
}

// losoAgreement is the largest difference between the sites' Harrell's C from oncofed-cli and
// R's, site by site in the sites' order, or why they cannot be compared.
func losoAgreement(out []byte, r *losoR) string {
	if r == nil {
		return "no R"
	}
	var doc struct {
		Validation struct {
			Sites []struct {
				HarrellC *float64 `json:"harrell_c"`
				SatOut   string   `json:"sat_out"`
			}
		}
	}
	if err := json.Unmarshal(out, &doc); err != nil || len(doc.Validation.Sites) != len(r.HarrellC) {
		return "output not comparable"
	}
	worst := 0.0
	for i, s := range doc.Validation.Sites {
		if s.HarrellC == nil {
			return "site " + fmt.Sprint(i+1) + " sat out: " + s.SatOut
		}
		worst = math.Max(worst, math.Abs(*s.HarrellC-r.HarrellC[i]))
	}
	return fmt.Sprintf("%.1e (largest difference of a site's C)", worst)
}

func losoMarkdown(cfg config, run *cliRun, rr *losoR, rErr string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Leave-one-site-out validation (issue 20), %s patients on 10 sites\n\n", sizeName(cfg.cliSize))
	b.WriteString("`oncofed-cli model --strata site --validate loso` on cancer + age + sex, a new process per run against a hub and ten site-node processes (exact policy), ")
	b.WriteString("against R's same loop on the pooled data in memory (bench/r/loso.R: per site a `coxph(... + strata(site))` refit on the other sites, then Harrell's C and the calibration slope on the site).\n\n")
	b.WriteString("| | wall (median) | CPU | R, 10 refits | R, whole loop | ratio to the refits | agreement |\n|---|---|---|---|---|---|---|\n")
	rFits, rLoop, ratio, agree := rErr, rErr, "–", losoAgreement(last(run), rr)
	if rr != nil {
		rFits, rLoop = fmtDur(rr.median("fits")), fmtDur(rr.median("loop"))
		ratio = fmt.Sprintf("%.3f×", run.wall().Seconds()/rr.median("fits").Seconds())
	}
	wall := fmtDur(run.wall())
	if run.killed() {
		wall = "killed at " + wall
	}
	fmt.Fprintf(&b, "| LOSO, stratified p5 | %s | %s | %s | %s | %s | %s |\n\n", wall, fmtDur(run.cpu()), rFits, rLoop, ratio, agree)
	return b.String()
}
