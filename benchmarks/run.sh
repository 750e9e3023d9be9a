#!/usr/bin/env bash
# run.sh runs the ring benchmarks alone and summarizes them: the rings part
# of suite.sh, which writes the machine, the calibrations before and after,
# the raw output, DPDK's rte_ring run before and after, benchstat's table
# and cmd/ratios' tables (each contender's median and spread, ringkit ÷
# peer) under benchmarks/results/.
#
#   benchmarks/run.sh                  # both ring tables, -count 10 -benchtime 1s
#   COUNT=5 BENCHTIME=0.2s BENCH='^BenchmarkTry$/^(SPSC|MPMC)$/^p1c1$' benchmarks/run.sh
set -euo pipefail
ONLY='^rings$' RINGS=${BENCH:-'^Benchmark(Try|Best)$'} exec "$(dirname "$0")/suite.sh"
