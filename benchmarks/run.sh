#!/usr/bin/env bash
# run.sh runs the ring benchmarks alone and summarizes them with benchstat:
# the rings part of suite.sh, which writes the machine, the raw output and
# the benchstat tables (plain, and each implementation against ringkit)
# under benchmarks/results/.
#
#   benchmarks/run.sh                  # every ring benchmark, -count 10 -benchtime 1s
#   COUNT=6 BENCHTIME=2s BENCH='SPSC/p1c1' benchmarks/run.sh
set -euo pipefail
ONLY='^rings$' RINGS=${BENCH:-'^Benchmark(Try|Best)$'} exec "$(dirname "$0")/suite.sh"
