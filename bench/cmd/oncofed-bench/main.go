// Command oncofed-bench is the side-by-side and network-scale performance harness behind
// `make bench` (issue 8). It builds synthetic federations with synth, serves every site with
// a real node engine on its own SQLite file over an embedded NATS hub on loopback, runs the
// analyses end to end as the CLI does, runs R's survival on the same pooled data in the same
// run, and writes bench/RESULTS.md with medians over repeated runs and the ratios.
//
// It is a main package (no tests), so `go test ./...` never runs it.
//
//	go run ./bench/cmd/oncofed-bench [-sizes 100k,1M] [-reps 5] [-r-reps 3] [-sections all] [-out bench/RESULTS.md]
//
// Every flag has an environment variable (BENCH_SIZES, BENCH_REPS, BENCH_R_REPS,
// BENCH_SECTIONS, BENCH_GO_RESULTS) so that `make bench` can be tuned without editing it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
)

type config struct {
	sizes     []int
	reps      int
	rReps     int
	sections  map[string]bool
	out       string
	goResults string
	work      string
	rscript   string
	latencyN  int
	offlineN  int
	deadline  time.Duration
	slow      time.Duration
	keep      bool
	cpuprof   string
	// cli section: patients of the pan-cancer federation, and the longest one CLI run may take.
	cliSize    int
	cliTimeout time.Duration
	// cliBaseline, when set, is another oncofed-cli binary timed once on the pooled p5 fit
	// (cliBaselineName says what it is).
	cliBaseline, cliBaselineName string
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// parseSize reads 100k, 1M, 10M or a plain number.
func parseSize(s string) (int, error) {
	s = strings.TrimSpace(s)
	orig := s
	mult := 1
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1000, s[:len(s)-1]
	case strings.HasSuffix(s, "M"), strings.HasSuffix(s, "m"):
		mult, s = 1000000, s[:len(s)-1]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n*mult < 10 {
		return 0, fmt.Errorf("bad size %q (want e.g. 100k, 1M, 10M)", orig)
	}
	return n * mult, nil
}

func sizeName(n int) string {
	switch {
	case n >= 1000000 && n%1000000 == 0:
		return fmt.Sprintf("%dM", n/1000000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return strconv.Itoa(n)
}

var allSections = []string{"sidebyside", "cli", "loso", "latency", "node", "app", "gobench"}

func main() {
	log.SetFlags(log.Ltime)
	log.SetPrefix("bench: ")
	var cfg config
	sizes := flag.String("sizes", env("BENCH_SIZES", "100k,1M"), "side-by-side federation sizes, comma-separated (100k, 1M, 10M)")
	flag.IntVar(&cfg.reps, "reps", atoi(env("BENCH_REPS", "5")), "repetitions of each timed figure (the median is reported)")
	flag.IntVar(&cfg.rReps, "r-reps", atoi(env("BENCH_R_REPS", "3")), "repetitions inside R")
	sections := flag.String("sections", env("BENCH_SECTIONS", "all"), "sections to run: all or a list of "+strings.Join(allSections, ","))
	flag.StringVar(&cfg.out, "out", "bench/RESULTS.md", "the results file to write")
	flag.StringVar(&cfg.goResults, "go-results", env("BENCH_GO_RESULTS", "bench/go-bench.txt"), "output of go test -bench to summarise")
	flag.StringVar(&cfg.work, "work", env("BENCH_WORK", ""), "scratch directory (default: a new temporary directory, removed at the end)")
	flag.StringVar(&cfg.rscript, "rscript", env("RSCRIPT", "Rscript"), "the Rscript command")
	flag.IntVar(&cfg.latencyN, "latency-queries", atoi(env("BENCH_LATENCY_QUERIES", "200")), "KM queries per 100-site latency run")
	flag.IntVar(&cfg.offlineN, "offline-queries", atoi(env("BENCH_OFFLINE_QUERIES", "20")), "KM queries with 10% of the sites offline (each waits for the deadline)")
	flag.DurationVar(&cfg.deadline, "deadline", 1*time.Second, "query deadline in the offline run")
	flag.DurationVar(&cfg.slow, "slow", 200*time.Millisecond, "extra delay of each slow site")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the scratch directory")
	flag.StringVar(&cfg.cpuprof, "cpuprofile", "", "write a CPU profile of the whole run (go tool pprof) to this file")
	cliSize := flag.String("cli-size", env("BENCH_CLI_SIZE", "1M"), "patients of the cli section's pan-cancer federation (10 sites)")
	flag.DurationVar(&cfg.cliTimeout, "cli-timeout", mustDuration(env("BENCH_CLI_TIMEOUT", "120s")), "longest one oncofed-cli run of the cli section may take before it is killed")
	flag.StringVar(&cfg.cliBaseline, "cli-baseline", env("BENCH_CLI_BASELINE", ""), "another oncofed-cli `BINARY` to time once on the cli section's pooled Cox fit (before/after)")
	flag.StringVar(&cfg.cliBaselineName, "cli-baseline-name", env("BENCH_CLI_BASELINE_NAME", "baseline"), "what the baseline binary is, for the results")
	flag.Parse()
	var err error
	if cfg.cliSize, err = parseSize(*cliSize); err != nil {
		log.Fatal(err)
	}
	for _, s := range strings.Split(*sizes, ",") {
		if strings.TrimSpace(s) == "" {
			continue
		}
		n, err := parseSize(s)
		if err != nil {
			log.Fatal(err)
		}
		cfg.sizes = append(cfg.sizes, n)
	}
	cfg.sections = map[string]bool{}
	for _, s := range strings.Split(*sections, ",") {
		s = strings.TrimSpace(s)
		if s == "all" {
			for _, a := range allSections {
				cfg.sections[a] = true
			}
		} else if s != "" {
			cfg.sections[s] = true
		}
	}
	if cfg.reps < 1 || cfg.rReps < 1 {
		log.Fatal("reps must be at least 1")
	}
	if cfg.work == "" {
		dir, err := os.MkdirTemp("", "oncofed-bench-")
		if err != nil {
			log.Fatal(err)
		}
		cfg.work = dir
		if !cfg.keep {
			defer os.RemoveAll(dir)
		}
	}
	if cfg.cpuprof != "" {
		f, err := os.Create(cfg.cpuprof)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if err := run(context.Background(), cfg); err != nil {
		log.Fatal(err)
	}
}

func mustDuration(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		log.Fatalf("bad duration %q", s)
	}
	return d
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		log.Fatalf("bad number %q", s)
	}
	return n
}

// report collects the sections of RESULTS.md.
type report struct {
	cfg      config
	started  time.Time
	sections []string
	goals    []goal
	notes    []string
}

type goal struct {
	what, target, measured string
	met                    bool
	skipped                bool
}

func (r *report) add(md string) { r.sections = append(r.sections, md) }

func (r *report) goal(what, target, measured string, met bool) {
	r.goals = append(r.goals, goal{what: what, target: target, measured: measured, met: met})
}

func (r *report) skipGoal(what, target, why string) {
	r.goals = append(r.goals, goal{what: what, target: target, measured: why, skipped: true})
}

func run(ctx context.Context, cfg config) error {
	r := &report{cfg: cfg, started: time.Now()}
	if cfg.sections["sidebyside"] {
		if err := sideBySide(ctx, cfg, r); err != nil {
			return fmt.Errorf("side by side: %w", err)
		}
	}
	if cfg.sections["cli"] {
		if err := cliBench(ctx, cfg, r); err != nil {
			return fmt.Errorf("cli: %w", err)
		}
	}
	if cfg.sections["loso"] {
		if err := losoBench(ctx, cfg, r); err != nil {
			return fmt.Errorf("loso: %w", err)
		}
	}
	if cfg.sections["latency"] {
		if err := latency(ctx, cfg, r); err != nil {
			return fmt.Errorf("latency: %w", err)
		}
	}
	if cfg.sections["node"] {
		if err := nodeFloor(ctx, cfg, r); err != nil {
			return fmt.Errorf("node: %w", err)
		}
	}
	if cfg.sections["app"] {
		if err := appFigures(ctx, cfg, r); err != nil {
			return fmt.Errorf("app: %w", err)
		}
	}
	if cfg.sections["gobench"] {
		goBench(cfg, r)
	}
	return os.WriteFile(cfg.out, []byte(r.markdown()), 0o644)
}

func (r *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Oncofed performance: side by side with R, and at network scale\n\n")
	fmt.Fprintf(&b, "Written by `make bench` (bench/cmd/oncofed-bench, scripts/bench.sh); issue 8. Every figure is the\n")
	fmt.Fprintf(&b, "median over repeated runs in one run of the harness, on one machine; the ratios compare medians.\n\n")
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| Date | %s (run took %s) |\n", r.started.UTC().Format("2006-01-02 15:04 MST"), time.Since(r.started).Round(time.Second))
	fmt.Fprintf(&b, "| Machine | %s |\n", machine())
	fmt.Fprintf(&b, "| Go | %s, GOMAXPROCS %d |\n", runtime.Version(), runtime.GOMAXPROCS(0))
	fmt.Fprintf(&b, "| R | %s |\n", rVersion(r.cfg.rscript))
	fmt.Fprintf(&b, "| Commit | %s |\n", commit())
	fmt.Fprintf(&b, "| Settings | sizes %s; %d repetitions (Go), %d inside R; BENCH_SIZES=10M adds the 10,000,000-patient run |\n\n",
		sizesList(r.cfg.sizes), r.cfg.reps, r.cfg.rReps)
	b.WriteString("The machine has 2 cores shared with other work; figures are medians, and small differences are noise.\n\n")
	if len(r.goals) > 0 {
		b.WriteString("## Goals\n\n| Goal | Target | Measured | |\n|---|---|---|---|\n")
		for _, g := range r.goals {
			mark := "missed"
			if g.met {
				mark = "**met**"
			}
			if g.skipped {
				mark = "skipped"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", g.what, g.target, g.measured, mark)
		}
		b.WriteString("\n")
	}
	for _, s := range r.sections {
		b.WriteString(s)
		if !strings.HasSuffix(s, "\n\n") {
			b.WriteString("\n")
		}
	}
	if notes, err := os.ReadFile(filepath.Join("bench", "NOTES.md")); err == nil {
		b.WriteString("\n")
		b.Write(notes)
	}
	if len(r.notes) > 0 {
		b.WriteString("## Notes\n\n")
		for _, n := range r.notes {
			b.WriteString("- " + n + "\n")
		}
	}
	return b.String()
}

func sizesList(s []int) string {
	var p []string
	for _, n := range s {
		p = append(p, sizeName(n))
	}
	if len(p) == 0 {
		return "none"
	}
	return strings.Join(p, ", ")
}

func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				if _, v, ok := strings.Cut(line, ":"); ok {
					cpu = strings.TrimSpace(v)
				}
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "MemTotal:") {
				fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "MemTotal:")), "%d", &kb)
			}
		}
		mem = fmt.Sprintf(", %.0f GiB RAM", float64(kb)/(1<<20))
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s, %d logical CPUs%s, %s/%s (host %s)", cpu, runtime.NumCPU(), mem, runtime.GOOS, runtime.GOARCH, host)
}

func rVersion(rscript string) string {
	out, err := exec.Command(rscript, "-e", `cat(R.version.string, "/ survival", as.character(packageVersion("survival")))`).Output()
	if err != nil {
		return "not available"
	}
	return strings.TrimSpace(string(out))
}

func commit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		c += " (working tree has uncommitted changes of parallel work)"
	}
	return c
}
