// Command ratios turns the raw output of a benchmark run into markdown
// tables that compare ringkit with its peers in one direction: for every
// row, each contender's median with the spread of its samples, and the
// ratio ringkit ÷ peer of the medians, so that below 1 means ringkit is
// faster (lower is better) everywhere.
//
//	go run ./cmd/ratios [-ref ringkit] [-unit ns/elem] [-dpdk FILE]... [-calibration FILE] BENCH-OUTPUT...
//
// It reads `go test -bench` output (any number of files, -count samples in
// any order). A benchmark name is read as TABLE/.../ROW1/ROW2/CONTENDER:
// the last element names the contender, the two before it the row, and the
// rest the table, so BenchmarkTry/MPMC/p4c4/burst=32/xsync is contender
// xsync in row (p4c4, burst=32) of table Try/MPMC. The figure is the metric
// named by -unit; results without it, or with fewer than four name
// elements, are counted and left out. -ref names the contender every other
// one is divided into.
//
// With -dpdk it also compares ringkit with DPDK's rte_ring, from the output
// of ../shared/anchors/dpdk-ringbench (lines such as
// "dpdk SPSC 1p1c burst=32 ns/elem=2.01 Melem/s=498.0"; other lines, such
// as its install notes, are skipped): each DPDK case against the row of
// the same ring type, shape and burst of the -dpdk-table table (default
// Try, the like-for-like table, whose rings poll as DPDK's do). Several
// files, or several runs in one, give DPDK samples of its own.
//
// With -calibration it first lists the cache-line calibrations of the run,
// the lines of ../shared/anchors/calibrate as suite.sh labels them
// ("before rings: calibration: cache line one-way between CPU 0 and 1:
// 62.3 ns"), with the machine state each shows, so that a reader knows which
// state a table comes from.
package main
