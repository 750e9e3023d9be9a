// Package benchmarks measures ringkit's rings side by side with their peers
// in one run: a buffered channel, github.com/puzpuzpuz/xsync/v4 and
// github.com/Workiva/go-datastructures. It is a module of its own so that a
// user of ringkit never downloads the peers. It has no API; everything is in
// the tests:
//
//	go test -run '^$' -bench . -count 6   # or ./run.sh, which adds benchstat
//
// Each benchmark function covers one ring type; its sub-benchmarks are named
// shape/burst/implementation, for example BenchmarkMPMC/p4c4/burst=32/xsync:
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
// The module also holds the receive-path and job-ring benchmarks
// (receive_test.go, jobring_test.go). suite.sh runs everything, these and
// the benchmarks of the main module's packages, writes the machine and a
// benchstat summary under results/, and draws the plots in ../docs with
// cmd/plot:
//
//	COUNT=6 BENCHTIME=0.2s ./suite.sh      # ONLY='rings|plot' for a part
package benchmarks
