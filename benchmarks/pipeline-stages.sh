#!/usr/bin/env bash
# pipeline-stages.sh: the pipeline against DPDK testpmd, back to back, and
# where the pipeline's time goes, per stage, from one run.
#
#   benchmarks/pipeline-stages.sh                  # BENCHTIME=3s COUNT=3 SECS=10
#
# Prints, and writes to benchmarks/results/STAMP-pipeline.txt:
#   1. ../shared/anchors/calibrate (the machine's state: one-way cache line)
#   2. BenchmarkPipeline/mode=run and mode=auto, verify=sample, COUNT times
#      (Mpps, ns/pkt; mode=auto logs the layout Run chose)
#   3. ../shared/anchors/testpmd-anchor SECS (testpmd io forwarding between
#      two null ports), right after, and the ratio pipeline ÷ testpmd in Mpps
#      (the median of the COUNT runs; above 1 is better here, as for any
#      rate, and the target is ≥ 0.2)
#   4. BenchmarkPipeline/mode=step/verify=sample with a CPU profile, and the
#      per-stage table cmd/stages makes of it (ns/pkt per stage: one
#      goroutine runs every stage, so a stage's share of the samples is its
#      share of the time)
#   5. the stages' own benchmarks: nicsim receive, classify, sched
#   6. calibrate again
# Needs the anchors (ANCHORS, default ../../shared/anchors from here) and,
# for testpmd, root or dpdk-dev already installed. Run it on a quiet machine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
anchors=${ANCHORS:-$(cd "$root/.." && pwd)/shared/anchors}
benchtime=${BENCHTIME:-3s}
count=${COUNT:-3}
secs=${SECS:-10}
mkdir -p "$here/results"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=$here/results/$stamp-pipeline.txt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

calibrate() {
	if [ -x "$anchors/calibrate" ]; then "$anchors/calibrate"; else echo "calibrate: not found at $anchors/calibrate"; fi
}

{
	echo "# pipeline-stages.sh $stamp on $(uname -n), $(go version | cut -d' ' -f3-4), GOMAXPROCS=$(nproc)"
	echo "## calibration before"
	calibrate
	echo "## pipeline, mode=run and mode=auto, verify=sample ($count runs of $benchtime)"
	(cd "$root" && go test -run '^$' -bench 'Pipeline/mode=(run|auto)/verify=sample$' -benchtime "$benchtime" -count "$count" -benchmem -v ./pipeline) | tee "$tmp/run.txt" | grep -E 'Benchmark|layout chosen'
	echo "## testpmd anchor, right after"
	"$anchors/testpmd-anchor" "$secs" | tee "$tmp/testpmd.txt"
	pmd_mpps=$(sed -n 's/.*Mpps=\([0-9.]*\).*/\1/p' "$tmp/testpmd.txt")
	for mode in run auto; do
		go_mpps=$(awk -v m="$mode" '$1 ~ "^BenchmarkPipeline/mode=" m "/verify=sample" { for (i = 1; i < NF; i++) if ($(i+1) == "Mpps") print $i }' "$tmp/run.txt" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
		awk -v m="$mode" -v g="$go_mpps" -v t="$pmd_mpps" 'BEGIN { printf "pipeline mode=%s %.2f Mpps (median) ÷ testpmd %.2f Mpps = %.3f (target ≥ 0.2)\n", m, g, t, g / t }'
	done
	echo "## where the time goes: mode=step/verify=sample with a CPU profile"
	(cd "$root" && go test -run '^$' -bench 'Pipeline/mode=step/verify=sample$' -benchtime "$benchtime" -benchmem \
		-cpuprofile "$tmp/cpu.prof" -o "$tmp/pipeline.test" ./pipeline) | tee "$tmp/step.txt" | grep Benchmark
	go tool pprof -traces "$tmp/pipeline.test" "$tmp/cpu.prof" >"$tmp/traces.txt" 2>/dev/null
	(cd "$here" && go run ./cmd/stages -traces "$tmp/traces.txt" -bench "$tmp/step.txt")
	echo "## the stages' own benchmarks"
	(cd "$root" && go test -run '^$' -bench . -benchtime 0.5s -benchmem ./classify ./sched 2>&1 | grep -E '^Benchmark|^ok|FAIL')
	(cd "$here" && go test -run '^$' -bench 'BenchmarkReceive$' -benchtime 0.5s -benchmem . 2>&1 | grep -E '^Benchmark|^ok|FAIL')
	echo "## calibration after"
	calibrate
} 2>&1 | tee "$out"
echo "written to $out"
