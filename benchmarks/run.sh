#!/usr/bin/env bash
# run.sh runs the ring benchmarks and summarizes them with benchstat.
#
#   benchmarks/run.sh                  # every benchmark, -count 10 -benchtime 1s
#   COUNT=6 BENCHTIME=2s BENCH='SPSC/p1c1' benchmarks/run.sh
#
# It writes, under benchmarks/results/:
#   STAMP.raw  the raw `go test -bench` output (not committed, see .gitignore);
#   STAMP.txt  the machine and the benchstat summary: first every result with
#              its confidence interval, then each implementation side by side
#              with ringkit (the "vs base" columns are relative to ringkit).
#
# The full run takes a long time (roughly COUNT x 170 benchmarks x 1.5 x
# BENCHTIME) and keeps every core busy: run it on a quiet machine.
set -euo pipefail

count=${COUNT:-10}
benchtime=${BENCHTIME:-1s}
bench=${BENCH:-.}

cd "$(dirname "$0")"
mkdir -p results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
raw=results/$stamp.raw
summary=results/$stamp.txt

if command -v benchstat >/dev/null 2>&1; then
	benchstat=(benchstat)
else
	benchstat=(go run golang.org/x/perf/cmd/benchstat@latest)
fi

machine() {
	echo "cpu:    $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	echo "nproc:  $(nproc)"
	echo "go:     $(go version)"
	echo "kernel: $(uname -sr)"
	echo "run:    go test -run '^\$' -bench '$bench' -count $count -benchtime $benchtime"
}

machine | tee "$summary"
echo

# The timeout covers the whole run, which is long; a hang still ends it.
go test -run '^$' -bench "$bench" -count "$count" -benchtime "$benchtime" -timeout 6h . | tee "$raw"

# The benchmark names end in the implementation, e.g.
# BenchmarkMPMC/p4c4/burst=32/xsync-2. benchstat can only put name parts of
# the form key=value in columns, so the side-by-side table reads a copy with
# the shape and the implementation named as keys.
keyed=$(mktemp)
trap 'rm -f "$keyed"' EXIT
sed -E 's#^(Benchmark[A-Z]+)/([a-z0-9]+)/(burst=[0-9]+)/([a-z]+)#\1/shape=\2/\3/impl=\4#' "$raw" >"$keyed"

{
	echo
	"${benchstat[@]}" "$raw"
	echo
	"${benchstat[@]}" -col '/impl@(ringkit chan xsync workiva)' "$keyed"
} | tee -a "$summary"

echo
echo "raw output: $raw"
echo "summary:    $summary"
