package descriptor_test

import (
	"fmt"

	"github.com/ringkit/ringkit/descriptor"
)

// A NIC places two frames into a receive ring; the driver receives them in
// one burst, reads them and frees their buffers.
func ExampleRxRing() {
	pool, err := descriptor.NewPool(descriptor.PoolConfig{Buffers: 64})
	if err != nil {
		panic(err)
	}
	rx, err := descriptor.NewRxRing(pool, descriptor.RxConfig{Descs: 32, FreeThresh: 8})
	if err != nil {
		panic(err)
	}

	// The NIC side.
	rx.NICPlace([]byte("first frame"), descriptor.Packet{Port: 0, Queue: 0})
	rx.NICPlace([]byte("second"), descriptor.Packet{Port: 0, Queue: 0})

	// The driver side.
	var burst [32]descriptor.Packet
	n := rx.Receive(burst[:])
	for _, p := range burst[:n] {
		fmt.Printf("%d bytes: %s\n", p.Len, pool.Bytes(p))
	}
	if err := rx.Free(burst[:n]); err != nil {
		panic(err)
	}
	if _, err := rx.Close(); err != nil {
		panic(err)
	}
	fmt.Println("in use after close:", pool.Stats().InUse)
	// Output:
	// 11 bytes: first frame
	// 6 bytes: second
	// in use after close: 0
}

// A driver transmits a packet; the NIC fetches it and completes it; the
// ring frees the buffer.
func ExampleTxRing() {
	pool, _ := descriptor.NewPool(descriptor.PoolConfig{Buffers: 64})
	tx, _ := descriptor.NewTxRing(pool, descriptor.TxConfig{Descs: 32, FreeThresh: 8})

	b, _ := tx.Cache().Get()
	n := copy(pool.Data(b), "hello wire")
	accepted, err := tx.Transmit([]descriptor.Packet{{Buf: b, Len: uint16(n)}})
	fmt.Println("accepted:", accepted, err)

	var fetched [8]descriptor.Packet
	k := tx.NICFetch(fetched[:])
	fmt.Printf("NIC sends %q\n", pool.Bytes(fetched[0]))
	tx.NICComplete(k)

	fmt.Println("freed:", tx.Reclaim())
	// Output:
	// accepted: 1 <nil>
	// NIC sends "hello wire"
	// freed: 1
}

// A Cache serves a worker's gets and puts from its own stack.
func ExampleCache() {
	pool, _ := descriptor.NewPool(descriptor.PoolConfig{Buffers: 1024, CacheSize: 32})
	c := pool.NewCache()
	var batch [16]descriptor.Buf
	for range 10 {
		c.GetBulk(batch[:])
		_ = c.PutBulk(batch[:])
	}
	st := c.Stats()
	fmt.Println("refills:", st.Refills, "hits:", st.Hits)
	_ = c.Flush()
	fmt.Println("free:", pool.Stats().Free)
	// Output:
	// refills: 1 hits: 144
	// free: 1024
}
