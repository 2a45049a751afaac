#!/usr/bin/env bash
# make bench: the Go benchmarks of every package that has some, then the side-by-side and
# network-scale harness (bench/cmd/oncofed-bench), which writes bench/RESULTS.md.
#
# Tunable through the environment (defaults finish in about 10–15 minutes on 2 cores):
#   BENCH_SIZES=100k,1M      side-by-side federation sizes; add 10M for the 10,000,000-patient run
#   BENCH_REPS=5             repetitions of each timed Go figure (medians are reported)
#   BENCH_R_REPS=3           repetitions inside R
#   BENCH_SECTIONS=all       or a list of sidebyside,cli,latency,node,app,gobench
#   BENCH_CLI_SIZE=1M, BENCH_CLI_TIMEOUT=120s   the cli section: oncofed-cli processes end to end
#                            (bench/NOTES.md); BENCH_CLI_BASELINE=BIN times another oncofed-cli build once
#   BENCH_LATENCY_QUERIES=200, BENCH_OFFLINE_QUERIES=20
#   BENCH_GO_COUNT=3, BENCH_GO_TIME=1s   go test -count / -benchtime
#   BENCH_OMOP_PATIENTS=1000000          the hospital of node/omop/pg's BenchmarkImport1M (CSV
#                                        import vs OMOP snapshot; PostgreSQL from make test-deps)
#   BENCH_SCREEN_PATIENTS=1000000, BENCH_SCREEN_MARKERS=100   the biomarker screen (section
#                                 screen: that many NSCLC candidate markers at ten sites, stratified
#                                 and pooled, then R's coxph loop on the same rows; ratios at the end)
# Extra arguments go to the harness (go run ./bench/cmd/oncofed-bench -h lists them).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench

# R with survival (and jsonlite, for the results) comes from Debian; install it when missing.
# Where that is impossible the harness skips the R comparison with a line saying why.
if ! Rscript -e 'suppressPackageStartupMessages({library(survival); library(jsonlite)})' >/dev/null 2>&1; then
	echo "bench: R with survival and jsonlite is missing: installing r-base-core r-cran-survival r-cran-jsonlite (apt-get)"
	sudo=""
	if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; fi
	if command -v apt-get >/dev/null 2>&1 &&
		$sudo apt-get update -qq &&
		$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq r-base-core r-cran-survival r-cran-jsonlite; then
		echo "bench: R installed"
	else
		echo "bench: could not install R here; the R comparison will be SKIPPED (see bench/RESULTS.md)"
	fi
fi

# Go benchmarks: only the packages that have some (compiling the others' tests is wasted time).
pkgs=$(find . -name '*_test.go' -not -path './bench/*' -print0 |
	xargs -0 grep -l '^func Benchmark' | xargs -n1 dirname | sort -u)
out=bench/go-bench.txt
if [ -n "$pkgs" ] && { [ "${BENCH_SECTIONS:-all}" = all ] || [[ "${BENCH_SECTIONS:-}" == *gobench* ]]; }; then
	echo "bench: go test -bench on" $pkgs
	# shellcheck disable=SC2086
	if ! go test -run '^$' -bench . -benchmem -count "${BENCH_GO_COUNT:-3}" -benchtime "${BENCH_GO_TIME:-1s}" \
		-timeout 30m $pkgs 2>&1 | tee "$out"; then
		echo "bench: some Go benchmarks failed; see $out (the summary lists them)"
	fi
fi

# The biomarker screen against R's loop in the same run (issue 15): bench/screen-timing.txt.
if [ "${BENCH_SECTIONS:-all}" = all ] || [[ "${BENCH_SECTIONS:-}" == *screen* ]]; then
	csv=$(mktemp --suffix=.csv)
	echo "bench: biomarker screen, ${BENCH_SCREEN_MARKERS:-100} markers, ${BENCH_SCREEN_PATIENTS:-1000000} patients at ten sites"
	{
		date -u +"run %Y-%m-%d %H:%M UTC on $(nproc) cores"
		ONCOFED_SCREEN_PATIENTS="${BENCH_SCREEN_PATIENTS:-1000000}" ONCOFED_SCREEN_MARKERS="${BENCH_SCREEN_MARKERS:-100}" \
			ONCOFED_SCREEN_CSV="$csv" go test -count=1 -run TestScreenTiming -v -timeout 120m ./network/demo |
			grep -E 'screen_timing|^(ok|FAIL)' | sed 's/^ *screen_timing_test.go:[0-9]*: //'
		if command -v Rscript >/dev/null 2>&1; then Rscript bench/r/screen_timing.R "$csv"; else echo "R missing: no comparison"; fi
	} 2>&1 | tee bench/screen-timing.txt
	# Oncofed's time over R's, per form (goals: stratified ≤ 0.05, pooled ≤ 0.1); and the CPU
	# times' ratio (the whole federation's, ten sites and the client in one process, over R's),
	# which says more than the elapsed times when other work shares the machine.
	awk 'function val(name,   i, kv) { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == name) return kv[2] } return 0 }
		/^screen_timing form=/ { k = val("form"); t[k] = val("seconds"); tc[k] = val("cpu_seconds") }
		/^R_timing form=/ { k = val("form"); r[k] = val("seconds"); rc[k] = val("cpu_seconds") }
		END { for (k in t) if (r[k] > 0) {
			printf "ratio form=%s oncofed=%.2fs R=%.2fs ratio=%.3f", k, t[k], r[k], t[k] / r[k]
			if (tc[k] > 0 && rc[k] > 0) printf " cpu_oncofed=%.2fs cpu_R=%.2fs cpu_ratio=%.3f", tc[k], rc[k], tc[k] / rc[k]
			printf "\n" } }' \
		bench/screen-timing.txt | sort | tee -a bench/screen-timing.txt
	rm -f "$csv"
fi

go run ./bench/cmd/oncofed-bench -go-results "$out" "$@"
echo "bench: wrote bench/RESULTS.md (raw Go benchmark output: $out)"
