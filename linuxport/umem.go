package linuxport

import (
	"fmt"
	"os"

	"github.com/ringkit/ringkit/descriptor"
)

// NewUMEMPool returns a pool laid out to be an AF_XDP UMEM: buffers of
// UMEMChunk (2048) bytes on a page-aligned slab, each a UMEMHeadroom
// (256-byte) headroom and a 1792-byte data room, so that the kernel writes
// a received frame exactly at the start of a buffer's data room. Any port
// may use it.
func NewUMEMPool(buffers int) (*descriptor.Pool, error) {
	p, err := descriptor.NewPool(descriptor.PoolConfig{
		Buffers:  buffers,
		Headroom: UMEMHeadroom,
		DataRoom: UMEMChunk - UMEMHeadroom,
		Align:    os.Getpagesize(),
	})
	if err != nil {
		return nil, fmt.Errorf("%w: UMEM pool: %w", ErrConfig, err)
	}
	return p, nil
}
