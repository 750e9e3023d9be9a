// Package benchmarks measures ringkit's rings side by side with their peers
// in one run: a buffered channel, github.com/puzpuzpuz/xsync/v4 and
// github.com/Workiva/go-datastructures. It is a module of its own so that a
// user of ringkit never downloads the peers. It has no API; everything is in
// the tests:
//
//	go test -run '^$' -bench '^Benchmark(Try|Best)$' -count 5   # or ./run.sh
//
// The rings come in two tables, told apart by the benchmark's name:
//
//   - BenchmarkTry, like for like: every contender is driven only through
//     calls that make one attempt and return (ringkit's TryEnqueue and
//     TryDequeue at burst 1 and EnqueueBurst and DequeueBurst above it;
//     xsync's TryEnqueue and TryDequeue; a channel's select with a default
//     case), and every failed attempt is followed by the same backoff
//     (harness_test.go). xsync has no burst calls, so its burst is that many
//     single tries. Workiva is not in this table: its RingBuffer has no
//     non-blocking take.
//   - BenchmarkBest, each at its best: every contender through its blocking
//     calls, waiting in its own way (ringkit's Enqueue and Dequeue, which
//     spin briefly and then park; a channel's send and receive; Workiva's
//     Put and Get, which yield the processor between attempts). xsync is not
//     in this table: v4 has no blocking calls.
//
// Sub-benchmarks are named table/ring/shape/burst/implementation, for
// example BenchmarkTry/MPMC/p4c4/burst=32/xsync:
//
//   - uncontended: one goroutine enqueues a burst and dequeues it again, so
//     the figure is the cost of the operations with no other core involved.
//   - pXcY: X producer and Y consumer goroutines move b.N elements between
//     them; the figure is wall time divided by the elements moved.
//
// Every figure is also reported as ns/elem (per element, whatever the burst).
// Every implementation holds 1024 elements and moves uint64 values. A run
// fails if the consumers did not receive exactly the elements the producers
// sent, so a broken queue cannot post a fast number.
//
// cmd/ratios turns the raw output of several -count samples into markdown
// tables: each contender's median ns/elem with the spread of its samples,
// and ringkit ÷ each peer (below 1 means ringkit is faster), plus ringkit's
// bursts against DPDK's rte_ring from ../shared/anchors/dpdk-ringbench.
//
// The module also holds the receive-path and job-ring benchmarks
// (receive_test.go, jobring_test.go). suite.sh runs everything, these and
// the benchmarks of the main module's packages, with the cache-line
// calibration before and after each part, writes the machine, the
// calibration, the benchstat and ratio summaries under results/, and draws
// the plots in ../docs with cmd/plot:
//
//	COUNT=5 BENCHTIME=0.2s ./suite.sh      # ONLY='rings|plot' for a part
package benchmarks
