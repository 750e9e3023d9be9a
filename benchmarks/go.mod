module github.com/ringkit/ringkit/benchmarks

go 1.25.0

require (
	github.com/Workiva/go-datastructures v1.1.7
	github.com/puzpuzpuz/xsync/v4 v4.5.0
	github.com/ringkit/ringkit v0.0.0
)

require golang.org/x/sys v0.47.0 // indirect

replace github.com/ringkit/ringkit => ..
