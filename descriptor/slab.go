package descriptor

import (
	"fmt"
	"math/bits"
	"unsafe"
)

// maxAlign is the largest PoolConfig.Align: 1 MiB, more than any page.
const maxAlign = 1 << 20

// newSlab returns n zeroed bytes whose first byte is aligned to align (0
// or 1: no requirement). It allocates align-1 bytes more and slices at the
// first aligned address.
//
// This is the one place the package looks at an address. It is safe
// because Go's collector does not move heap objects: the slice's address,
// taken once here, stays its address for as long as the Pool keeps it.
func newSlab(n, align int) ([]byte, error) {
	if align < 0 || align > maxAlign || (align > 0 && bits.OnesCount(uint(align)) != 1) {
		return nil, fmt.Errorf("%w: slab alignment %d (want 0 or a power of two up to %d)", ErrConfig, align, maxAlign)
	}
	if align <= 1 {
		return make([]byte, n), nil
	}
	b := make([]byte, n+align-1)
	off := -int(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) & (align - 1)
	return b[off : off+n : off+n], nil
}
