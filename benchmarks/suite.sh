#!/usr/bin/env bash
# suite.sh runs ringkit's whole benchmark suite, summarizes it with benchstat
# and cmd/ratios, and draws the figures of docs/ from it.
#
#   benchmarks/suite.sh                              # everything, -count 10 -benchtime 1s
#   COUNT=5 BENCHTIME=0.2s benchmarks/suite.sh
#   ONLY='rings|plot' benchmarks/suite.sh            # some parts only
#   COUNT=1 BENCHTIME=1x CALIBRATE_ROUNDS=20000 DPDK_ELEMENTS=100000 \
#     DOCS=/tmp/figs benchmarks/suite.sh             # check the tools
#
# The parts, selected by ONLY (an extended regular expression matched against
# each part's name; default: all of them):
#   rings       BenchmarkTry and BenchmarkBest of this module (RINGS narrows
#               the -bench pattern, as BENCH does for run.sh):
#                 Try   like for like: ringkit, a channel and xsync, each
#                       through calls that make one attempt and return, each
#                       failed attempt followed by the same backoff; xsync has
#                       no burst calls (its bursts are single tries); Workiva
#                       is not in it (no non-blocking take);
#                 Best  each at its best: ringkit's blocking Enqueue/Dequeue,
#                       a channel's send/receive, Workiva's Put/Get; xsync is
#                       not in it (v4 has no blocking calls);
#               and DPDK's rte_ring (DPDK_RINGBENCH) before and after them,
#               for the bursts against a C ring in the same run
#   receive     BenchmarkReceive* of this module: receive paths in Mpps
#   jobring     BenchmarkJobRing of this module: jobring against a worker pool
#   classify, sched, descriptor, migrate, pipeline
#               every benchmark of the main module's package of that name
#               (pipeline for pipeline), with -benchmem; a package
#               that does not exist or has no benchmark is skipped
#   plot        go run ./cmd/plot over this run's raw outputs, writing
#               DOCS/*.png (default ../docs, the repository's docs/)
#
# Every part runs between two calibrations, CALIBRATE's one-way cache-line
# time between the two CPUs: the machine moves between a fast and a slow
# state and every cross-core figure moves with it, so each table is stored
# with the state it was measured in.
#
# Environment:
#   COUNT, BENCHTIME   go test -count and -benchtime (default 10, 1s)
#   ONLY, RINGS, DOCS  see above
#   CALIBRATE          the calibration (default: the repository's
#                      ../shared/anchors/calibrate); CALIBRATE_ROUNDS its
#                      argument (default: its own, 2000000)
#   DPDK_RINGBENCH     the rte_ring anchor (default: the repository's
#                      ../shared/anchors/dpdk-ringbench); DPDK_ELEMENTS its
#                      argument (default: its own, 20000000)
# A calibration or anchor that is missing is skipped with a note, in the
# output and in the summary.
#
# It writes, under benchmarks/results/:
#   STAMP-PART.raw          the raw `go test -bench` output of each part (not
#                           committed, see .gitignore);
#   STAMP-calibration.txt   every calibration, labelled "before PART:" and
#                           "after PART:";
#   STAMP-dpdk.txt          dpdk-ringbench's output, both runs;
#   STAMP-suite.txt         the machine, then per part its calibrations and
#                           benchstat summary; for the rings and the job ring
#                           also cmd/ratios' tables: each contender's median
#                           with the spread of its samples and ringkit ÷ peer
#                           (below 1 means ringkit is faster), the rings
#                           against DPDK, and the machine state they come from.
#
# A part whose benchmarks fail is reported and the others still run; the
# script then exits non-zero. The full run keeps every core busy: run it on a
# quiet machine. The rings part has 180 sub-benchmarks (Try 126, Best 54),
# each taking about 1.5 to 3 times BENCHTIME per sample: at COUNT=5
# BENCHTIME=0.2s about 5 to 8 minutes, the whole suite about 10 to 15.
set -euo pipefail

count=${COUNT:-10}
benchtime=${BENCHTIME:-1s}
only=${ONLY:-.}
rings=${RINGS:-'^Benchmark(Try|Best)$'}
docs=${DOCS:-../docs}

cd "$(dirname "$0")"
anchors="$(git rev-parse --show-toplevel)/../shared/anchors"
calibrate=${CALIBRATE:-$anchors/calibrate}
dpdk_ringbench=${DPDK_RINGBENCH:-$anchors/dpdk-ringbench}

mkdir -p results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
summary=results/$stamp-suite.txt
calibration=results/$stamp-calibration.txt
dpdk=results/$stamp-dpdk.txt

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
	echo "calibrate:      $calibrate ${CALIBRATE_ROUNDS:-}"
	echo "dpdk-ringbench: $dpdk_ringbench ${DPDK_ELEMENTS:-}"
}

# want reports whether part $1 is selected by ONLY.
want() { [[ $1 =~ $only ]]; }

raws=()
failed=()

# calibrate LABEL runs the calibration and appends its line, labelled, to
# the calibration file and the summary.
calibrate() {
	local label=$1 out
	if [[ ! -e $calibrate ]]; then
		echo "$label: calibrate: $calibrate not found, skipped (set CALIBRATE)" | tee -a "$calibration" "$summary"
		return
	fi
	if out=$("$calibrate" ${CALIBRATE_ROUNDS:+"$CALIBRATE_ROUNDS"}); then
		sed "s/^/$label: /" <<<"$out" | tee -a "$calibration" "$summary"
	else
		echo "$label: calibrate: $calibrate failed" | tee -a "$calibration" "$summary"
	fi
}

# ringbench LABEL runs DPDK's rte_ring anchor and appends its output to the
# DPDK file; its lines start with "dpdk ", which is what cmd/ratios reads.
ringbench() {
	local label=$1
	if [[ ! -e $dpdk_ringbench ]]; then
		echo "== dpdk-ringbench ($label): $dpdk_ringbench not found, skipped (set DPDK_RINGBENCH)" | tee -a "$summary"
		return
	fi
	echo "== dpdk-ringbench ($label)"
	if ! "$dpdk_ringbench" ${DPDK_ELEMENTS:+"$DPDK_ELEMENTS"} | tee -a "$dpdk"; then
		echo "== dpdk-ringbench ($label): FAILED" | tee -a "$summary"
		failed+=(dpdk-ringbench)
	fi
}

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
		"${benchstat[@]}" "$raw" || echo "(benchstat could not read $raw)"
		echo
	} >>"$summary"
}

# ratios TITLE NOTE ARGS... appends cmd/ratios' tables for ARGS to the
# summary under TITLE, NOTE first.
ratios() {
	local title=$1 note=$2
	shift 2
	{
		echo
		echo "## $title"
		echo
		echo "$note"
		echo
	} >>"$summary"
	if ! go run ./cmd/ratios "$@" >>"$summary"; then
		echo "(cmd/ratios failed)" >>"$summary"
		failed+=("ratios: $title")
	fi
}

# part_begin PART and part_end PART open a part's section of the summary
# and put the calibrations around it.
part_begin() {
	printf '\n## %s\n\n' "$1" >>"$summary"
	calibrate "before $1"
}
part_end() { calibrate "after $1"; }

machine | tee "$summary"
echo

if want rings; then
	part_begin rings
	ringbench "before rings"
	bench rings . "$rings"
	ringbench "after rings"
	part_end rings
	if [[ -s $dpdk ]]; then
		printf '\n### dpdk-ringbench, before and after the Go rings\n\n```\n' >>"$summary"
		grep '^dpdk ' "$dpdk" >>"$summary" || true
		printf '```\n' >>"$summary"
	fi
	cal=$(mktemp)
	trap 'rm -f "$cal"' EXIT
	grep -E '^(before|after) rings: ' "$calibration" >"$cal" || true
	dpdk_args=()
	if grep -qs '^dpdk ' "$dpdk"; then
		dpdk_args=(-dpdk "$dpdk")
	fi
	ratios "rings: ringkit ÷ peer" \
		"Try is like for like: every contender through calls that make one attempt (ringkit TryEnqueue/TryDequeue at burst 1, EnqueueBurst/DequeueBurst above; xsync TryEnqueue/TryDequeue; chan select with default), each failed attempt followed by the same backoff. xsync has no burst calls: its bursts are single tries. Workiva is not in Try: it has no non-blocking take. Best is each at its best: blocking calls (ringkit Enqueue/Dequeue, which spin about a microsecond and then park, and at bursts above 1 EnqueueBurst/DequeueBurst with Enqueue/Dequeue for one element when a burst finds nothing; chan send/receive; Workiva Put/Get, which yield between attempts). xsync is not in Best: v4 has no blocking calls. The DPDK table compares ringkit's Try rows with rte_ring's bursts (C, polling with rte_pause) run before and after them." \
		-calibration "$cal" "${dpdk_args[@]}" "results/$stamp-rings.raw"
fi
if want receive; then
	part_begin receive
	bench receive . '^BenchmarkReceive'
	part_end receive
fi
if want jobring; then
	part_begin jobring
	bench jobring . '^BenchmarkJobRing$'
	part_end jobring
	ratios "jobring: jobring ÷ peer" \
		"jobring retires on the producer, jobring-callback through OnRetire, chanpool is a channel worker pool with a reorder buffer; ratios are jobring ÷ each, below 1 means jobring is faster." \
		-ref jobring -unit ns/job "results/$stamp-jobring.raw"
fi

for pkg in classify sched descriptor migrate pipeline; do
	part=$(basename "$pkg")
	want "$part" || continue
	dir=../$pkg
	if [[ ! -d $dir ]] || ! grep -qs '^func Benchmark' "$dir"/*_test.go; then
		echo "== $part: no benchmarks in $pkg, skipped" | tee -a "$summary"
		continue
	fi
	part_begin "$part"
	bench "$part" "$dir" . -benchmem
	part_end "$part"
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
