// Command plot draws the figures of ringkit's benchmark suite as PNG files:
//
//   - rings-producers.png: ns/elem against the number of producers, at
//     burst=1 and burst=32, for the MPSC and MPMC rings of the like-for-like
//     table (BenchmarkTry: ringkit, a buffered channel and xsync, all on
//     their try calls with one backoff) and the MPMC rings of the blocking
//     table (BenchmarkBest: ringkit, a channel and Workiva), shapes
//     p1c1/p4c1/p16c1 and p1c1/p4c4/p16c16;
//   - tc-shares.png: each traffic class's share of an output port over time,
//     from the sched package's scheduler run in simulated time in this
//     process (no benchmark output is needed): four saturated classes with
//     weights 1:2:4:8, the heaviest of which goes idle for a while, against
//     the share each should get among the classes that are backlogged;
//   - downtime-sessions.png: migration downtime against the number of
//     sessions, from BenchmarkDowntime/sessions=N (every metric whose unit
//     starts with "downtime" and ends in "-ms").
//
// It reads `go test -bench` output in the standard format (golang.org/design/14313),
// from any number of files. The figures of measurements draw a line through
// the median of each benchmark's samples (-count) and a whisker from the
// smallest to the largest sample, and say that lower is better. Lines it
// does not understand are skipped; a figure whose benchmarks are absent from
// the input is skipped with a message.
//
// Run it from the benchmarks directory (suite.sh does):
//
//	go run ./cmd/plot results/*.raw              # writes ../docs/*.png
//	go run ./cmd/plot -out /tmp/figs -plots tc   # only the scheduler figure
package main
