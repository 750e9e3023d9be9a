//go:build !linux

package main

import (
	"fmt"
	"os"
	"runtime"
)

// kernelMain reports that the -kernel mode needs Linux.
func kernelMain(role string, _ kernelOptions) {
	fmt.Fprintf(os.Stderr, "%s: -kernel needs Linux (network namespaces, a bridge, TAP devices), not %s\n", role, runtime.GOOS)
	os.Exit(1)
}
