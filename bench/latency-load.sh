#!/bin/bash
# The 100-site KM latency with the load controlled (bench/NOTES.md, "The 100-site latency and the
# load"). Linux with scheduler autogroups (/proc/sys/kernel/sched_autogroup_enabled = 1), run as
# root: this shell's scheduling group is put at nice -19, so other sessions' groups at nice 0 get
# little CPU, and K busy loops are started each in a group of its own at nice -19 too, so the
# benchmark gets about 2/(K+1) of the 2 cores. The group's nice is set back to 0 at the end.
#
#   bench/latency-load.sh K [QUERIES] [OUT.md]     e.g. for k in 0 1 3; do bench/latency-load.sh $k 100; done
set -eu
K=${1:?number of competing busy loops}
Q=${2:-100}
OUT=${3:-/tmp/latency-load-$K.md}
BENCH=$(mktemp -d)/oncofed-bench
go build -o "$BENCH" ./bench/cmd/oncofed-bench
echo -19 > /proc/self/autogroup
trap 'echo 0 > /proc/self/autogroup; for p in ${pids[@]+"${pids[@]}"}; do kill "$p" 2>/dev/null || true; done' EXIT
pids=()
for _ in $(seq 1 "$K"); do
	setsid sh -c 'echo -19 > /proc/self/autogroup; exec timeout 1800 sh -c "while :; do :; done"' &
	pids+=($!)
done
"$BENCH" -sections latency -latency-queries "$Q" -offline-queries 5 -out "$OUT"
