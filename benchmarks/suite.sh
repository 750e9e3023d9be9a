#!/usr/bin/env bash
# suite.sh runs ringkit's whole benchmark suite, summarizes it with benchstat
# and draws the figures of docs/ from it.
#
#   benchmarks/suite.sh                              # everything, -count 10 -benchtime 1s
#   COUNT=6 BENCHTIME=2s benchmarks/suite.sh
#   ONLY='rings|plot' benchmarks/suite.sh            # some parts only
#   COUNT=1 BENCHTIME=1x DOCS=/tmp/figs benchmarks/suite.sh   # check the tools
#
# The parts, selected by ONLY (an extended regular expression matched against
# each part's name; default: all of them):
#   rings       BenchmarkSPSC/MPSC/SPMC/MPMC of this module: ringkit's rings
#               against a channel, xsync and Workiva (RINGS narrows the -bench
#               pattern, as BENCH does for run.sh)
#   receive     BenchmarkReceive* of this module: receive paths in Mpps
#   jobring     BenchmarkJobRing of this module: jobring against a worker pool
#   classify, sched, descriptor, migrate, pipeline
#               every benchmark of the main module's package of that name
#               (pipeline for pipeline), with -benchmem; a package
#               that does not exist or has no benchmark is skipped
#   plot        go run ./cmd/plot over this run's raw outputs, writing
#               DOCS/*.png (default ../docs, the repository's docs/)
#
# It writes, under benchmarks/results/:
#   STAMP-PART.raw   the raw `go test -bench` output of each part (not
#                    committed, see .gitignore);
#   STAMP-suite.txt  the machine, then each part's benchstat summary (for the
#                    rings also each implementation side by side with ringkit).
#
# A part whose benchmarks fail is reported and the others still run; the
# script then exits non-zero. The full run takes hours and keeps every core
# busy: run it on a quiet machine.
set -euo pipefail

count=${COUNT:-10}
benchtime=${BENCHTIME:-1s}
only=${ONLY:-.}
rings=${RINGS:-'^Benchmark(Try|Best)$'}
docs=${DOCS:-../docs}

cd "$(dirname "$0")"
mkdir -p results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
summary=results/$stamp-suite.txt

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
	echo "run:    go test -run '^\$' -bench ... -count $count -benchtime $benchtime (ONLY='$only')"
}

# want reports whether part $1 is selected by ONLY.
want() { [[ $1 =~ $only ]]; }

raws=()
failed=()

# bench PART DIR PATTERN [FLAGS...] runs the benchmarks of the package in DIR
# (relative to benchmarks/) matching PATTERN into results/STAMP-PART.raw and
# appends its benchstat summary to the suite's summary.
bench() {
	local part=$1 dir=$2 pattern=$3
	shift 3
	local raw=results/$stamp-$part.raw
	echo "== $part: $dir -bench '$pattern'"
	# The timeout covers a whole part, which is long; a hang still ends it.
	if ! (cd "$dir" && go test -run '^$' -bench "$pattern" -count "$count" -benchtime "$benchtime" -timeout 6h "$@" .) | tee "$raw"; then
		echo "== $part: FAILED (see $raw)"
		failed+=("$part")
	fi
	raws+=("$raw")
	{
		echo
		echo "## $part"
		echo
		"${benchstat[@]}" "$raw" || echo "(benchstat could not read $raw)"
	} >>"$summary"
}

machine | tee "$summary"
echo

if want rings; then
	bench rings . "$rings"
	# The ring benchmark names end in the implementation, e.g.
	# BenchmarkMPMC/p4c4/burst=32/xsync-2. benchstat can only put name
	# parts of the form key=value in columns, so the side-by-side table
	# reads a copy with the shape and the implementation named as keys.
	keyed=$(mktemp)
	trap 'rm -f "$keyed"' EXIT
	sed -E 's#^(Benchmark[A-Z]+)/([a-z0-9]+)/(burst=[0-9]+)/([a-z]+)#\1/shape=\2/\3/impl=\4#' "results/$stamp-rings.raw" >"$keyed"
	{
		echo
		echo "## rings, each implementation against ringkit"
		echo
		"${benchstat[@]}" -col '/impl@(ringkit chan xsync workiva)' "$keyed"
	} >>"$summary"
fi
if want receive; then
	bench receive . '^BenchmarkReceive'
fi
if want jobring; then
	bench jobring . '^BenchmarkJobRing$'
fi

for pkg in classify sched descriptor migrate pipeline; do
	part=$(basename "$pkg")
	want "$part" || continue
	dir=../$pkg
	if [[ ! -d $dir ]] || ! grep -qs '^func Benchmark' "$dir"/*_test.go; then
		echo "== $part: no benchmarks in $pkg, skipped" | tee -a "$summary"
		continue
	fi
	bench "$part" "$dir" . -benchmem
done

if want plot; then
	echo "== plot: $docs"
	if ! go run ./cmd/plot -out "$docs" "${raws[@]}"; then
		failed+=(plot)
	fi
fi

echo
echo "summary: $summary"
if ((${#failed[@]} > 0)); then
	echo "failed:  ${failed[*]}" | tee -a "$summary"
	exit 1
fi
