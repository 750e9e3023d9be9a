// Package benchfmt reads `go test -bench` output in the standard format
// (golang.org/design/14313) and summarizes the samples of one benchmark, for
// the commands that turn a suite run into figures (cmd/plot) and tables
// (cmd/ratios).
package benchfmt
