//go:build !race && !purego

package release

import (
	"sync/atomic"
	"unsafe"
)

func store64(p *atomic.Uint64, v uint64) { mov64((*uint64)(unsafe.Pointer(p)), v) }

func run64(p *atomic.Uint64, stride uintptr, n, v uint64) {
	movRun64((*uint64)(unsafe.Pointer(p)), stride, n, v)
}

//go:noescape
func mov64(addr *uint64, v uint64)

//go:noescape
func movRun64(addr *uint64, stride uintptr, n, v uint64)
