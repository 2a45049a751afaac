package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// benchLine is one result line of `go test -bench`.
type benchStat struct {
	pkg, name      string
	ns, bytes, obj []float64
	extra          map[string][]float64 // custom metrics (b.ReportMetric), by unit
	units          []string
}

// parseGoBench reads `go test -bench` output.
func parseGoBench(data string) (stats []*benchStat, failed []string) {
	index := map[string]*benchStat{}
	pkg := ""
	for _, line := range strings.Split(data, "\n") {
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimPrefix(strings.TrimSpace(p), "github.com/oncofed/oncofed/")
			continue
		}
		if strings.HasPrefix(line, "FAIL") || strings.HasPrefix(line, "--- FAIL") {
			failed = append(failed, strings.TrimSpace(line))
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || f[3] != "ns/op" {
			continue
		}
		name := f[0]
		if i := strings.LastIndex(name, "-"); i > 0 {
			name = name[:i] // the GOMAXPROCS suffix
		}
		key := pkg + " " + name
		s := index[key]
		if s == nil {
			s = &benchStat{pkg: pkg, name: strings.TrimPrefix(name, "Benchmark")}
			index[key] = s
			stats = append(stats, s)
		}
		ns, _ := strconv.ParseFloat(f[2], 64)
		s.ns = append(s.ns, ns)
		for i := 4; i+1 < len(f); i += 2 {
			v, _ := strconv.ParseFloat(f[i], 64)
			switch f[i+1] {
			case "B/op":
				s.bytes = append(s.bytes, v)
			case "allocs/op":
				s.obj = append(s.obj, v)
			default:
				if s.extra == nil {
					s.extra = map[string][]float64{}
				}
				if _, ok := s.extra[f[i+1]]; !ok {
					s.units = append(s.units, f[i+1])
				}
				s.extra[f[i+1]] = append(s.extra[f[i+1]], v)
			}
		}
	}
	return stats, failed
}

// goBenchMedian returns the median ns/op and custom metrics of benchmark name (without the
// Benchmark prefix) in the Go results, if it ran.
func goBenchMedian(path, name string) (*benchStat, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	stats, _ := parseGoBench(string(data))
	for _, s := range stats {
		if s.name == name {
			return s, true
		}
	}
	return nil, false
}

// goBench summarises the Go benchmarks that scripts/bench.sh ran (go test -bench -count N,
// raw output in cfg.goResults): the median of each benchmark's runs.
func goBench(cfg config, r *report) {
	var b strings.Builder
	b.WriteString("## Go benchmarks (go test -bench)\n\n")
	data, err := os.ReadFile(cfg.goResults)
	if err != nil {
		fmt.Fprintf(&b, "Skipped: no benchmark output at %s (`make bench` writes it; run scripts/bench.sh).\n\n", cfg.goResults)
		r.add(b.String())
		return
	}
	stats, failed := parseGoBench(string(data))
	fmt.Fprintf(&b, "Medians over the runs in %s (`go test -run '^$' -bench . -benchmem -count N` on every package with benchmarks).\n\n", cfg.goResults)
	b.WriteString("| Package | Benchmark | Runs | Median time/op | B/op | allocs/op | Other metrics (median) |\n|---|---|---|---|---|---|---|\n")
	for _, s := range stats {
		var extra []string
		for _, u := range s.units {
			extra = append(extra, fmt.Sprintf("%.4g %s", medianFloat(s.extra[u]), u))
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %s |\n", s.pkg, s.name, len(s.ns),
			fmtDur(time.Duration(medianFloat(s.ns))), human(medianFloat(s.bytes)), human(medianFloat(s.obj)), strings.Join(extra, ", "))
	}
	if len(failed) > 0 {
		fmt.Fprintf(&b, "\nFailures reported by go test: %s\n", strings.Join(failed, "; "))
	}
	b.WriteString("\n")
	r.add(b.String())
}

func human(x float64) string {
	switch {
	case x != x:
		return "—"
	case x >= 1<<20:
		return fmt.Sprintf("%.1f Mi", x/(1<<20))
	case x >= 1<<10:
		return fmt.Sprintf("%.1f Ki", x/(1<<10))
	}
	return fmt.Sprintf("%.0f", x)
}
