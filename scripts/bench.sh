#!/usr/bin/env bash
# make bench: Go benchmarks of every package; results summarised in bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench
out=bench/go-bench.txt
go test -run '^$' -bench . -benchmem -count 5 ./... | tee "$out"
echo "raw benchmark output: $out"
