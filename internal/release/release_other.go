//go:build race || purego || !amd64

package release

import (
	"sync/atomic"
	"unsafe"
)

func store64(p *atomic.Uint64, v uint64) { p.Store(v) }

func run64(p *atomic.Uint64, stride uintptr, n, v uint64) {
	for i := range n {
		(*atomic.Uint64)(unsafe.Add(unsafe.Pointer(p), uintptr(i)*stride)).Store(v + i)
	}
}
