package descriptor_test

import (
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/ringkit/ringkit/descriptor"
)

// TestRingBytes: RxRingBytes and TxRingBytes are what NewRxRing and
// NewTxRing allocate (measured, give or take the allocator's rounding),
// count the ring's own Cache only when it makes one, and refuse what the
// constructors refuse.
func TestRingBytes(t *testing.T) {
	pool, err := descriptor.NewPool(descriptor.PoolConfig{Buffers: 1 << 15, CacheSize: 1 << 14})
	if err != nil {
		t.Fatal(err)
	}
	allocated := func(f func()) uint64 {
		var a, b runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&a)
		f()
		runtime.ReadMemStats(&b)
		return b.TotalAlloc - a.TotalAlloc
	}
	for _, descs := range []int{2, 512, 1 << 14} {
		t.Run(fmt.Sprint("descs=", descs), func(t *testing.T) {
			rxCfg := descriptor.RxConfig{Descs: descs}
			txCfg := descriptor.TxConfig{Descs: descs}
			var rx *descriptor.RxRing
			var tx *descriptor.TxRing
			rxGot := allocated(func() { rx, err = descriptor.NewRxRing(pool, rxCfg) })
			if err != nil {
				t.Fatal(err)
			}
			txGot := allocated(func() { tx, err = descriptor.NewTxRing(pool, txCfg) })
			if err != nil {
				t.Fatal(err)
			}
			rxWant, err := pool.RxRingBytes(rxCfg)
			if err != nil {
				t.Fatal(err)
			}
			txWant, err := pool.TxRingBytes(txCfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				what      string
				got, want uint64
			}{{"RxRing", rxGot, rxWant}, {"TxRing", txGot, txWant}} {
				// Allocations round up to a size class (at most 1/8 more)
				// or, above 32 KiB, to whole 8 KiB pages.
				if c.got < c.want || c.got > c.want+c.want/8+3*8192 {
					t.Errorf("%s of %d descriptors allocated %d bytes; its Bytes says %d", c.what, descs, c.got, c.want)
				}
			}
			if _, err := rx.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Close(); err != nil {
				t.Fatal(err)
			}
			shared := pool.NewCache()
			if b, err := pool.RxRingBytes(descriptor.RxConfig{Descs: descs, Cache: shared}); err != nil || b != rxWant-pool.CacheBytes() {
				t.Errorf("RxRingBytes with a Cache of the caller's = %d, %v; want %d without the Cache", b, err, rxWant-pool.CacheBytes())
			}
		})
	}
	if _, err := pool.RxRingBytes(descriptor.RxConfig{Descs: 3}); !errors.Is(err, descriptor.ErrConfig) {
		t.Errorf("RxRingBytes of 3 descriptors: %v, want ErrConfig", err)
	}
	if _, err := pool.TxRingBytes(descriptor.TxConfig{Descs: descriptor.MaxDescs * 2}); !errors.Is(err, descriptor.ErrConfig) {
		t.Errorf("TxRingBytes of 2 × MaxDescs descriptors: %v, want ErrConfig", err)
	}
}
