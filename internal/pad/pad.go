// Package pad holds the cache-line padding the rings put between fields that
// different goroutines write.
package pad

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// Line separates two hot fields so that a write to one does not invalidate
// the cache line holding the other (false sharing). It is as large as the
// cache line of the processor the program was built for.
type Line = cpu.CacheLinePad

// Size is the size of Line in bytes.
const Size = unsafe.Sizeof(Line{})

// NoCopy is a zero-size field that makes `go vet` (its copylocks check)
// report a copy of the struct that holds it, as sync.WaitGroup's noCopy
// does. Put it first in every type whose doc says "must not be copied".
type NoCopy struct{}

// Lock is never called; its presence is what vet looks for.
func (*NoCopy) Lock() {}

// Unlock is never called.
func (*NoCopy) Unlock() {}
