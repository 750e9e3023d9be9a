// Package descriptor holds what a software data plane moves and where it
// lives: the Packet handle (a buffer of a Pool plus metadata, no Go
// pointers), the Pool of fixed-size packet buffers, and the receive and
// transmit descriptor rings shared between a NIC and its driver.
//
// # Pool and Cache
//
// A Pool is one slab of fixed-size buffers (headroom plus data room) with a
// lock-free free list (a ring.MPMC of Bufs), as DPDK's rte_mempool. Each
// worker goroutine puts a Cache in front of it: most gets and puts then
// touch only the worker's own stack, and the shared ring moves in bulk.
// Bytes and Data give a buffer's bytes as a []byte without allocating. A
// Buf carries its Pool's id in its upper bits, so a Buf of another Pool is
// refused cheaply; with PoolConfig.Check a per-buffer ownership word also
// catches every double free. Under the race detector (go test -race) every
// Pool keeps that word, so tests catch a double free however full the
// Pool is; without it, and without Check, only a double free that would
// overfill the Pool is caught.
//
// # Receive and transmit rings
//
// An RxRing is N descriptors split between the NIC and the driver, as in
// DPDK's ixgbe/i40e receive path. The NIC side (NICPlace) copies each frame
// into the buffer of the next descriptor it owns and sets the descriptor's
// done stamp; the driver side (Receive) takes a burst of done descriptors,
// learning what is done from the stamps alone, and refills the emptied
// slots from the Pool in batches published by one store of the tail index
// (the doorbell). The NIC never owns more than N-1 descriptors; a frame it
// cannot place is counted as missed, and a refill the Pool cannot serve is
// retried, so nothing received is lost.
//
// A TxRing is the mirror: the driver posts packets (Transmit), the NIC
// fetches and completes them (NICFetch, NICComplete), and the driver frees
// completed buffers lazily in batches.
//
// Each ring is single-producer/single-consumer between one NIC queue and
// one driver goroutine, as in DPDK: the hot paths use loads and stores,
// never a compare-and-swap, and allocate nothing. Pool.RxRingBytes and
// TxRingBytes say what a ring will take before it is made, so that what
// builds many (nicsim's NIC) can hold them to a memory budget.
//
//	pool, _ := descriptor.NewPool(descriptor.PoolConfig{Buffers: 4096})
//	rx, _ := descriptor.NewRxRing(pool, descriptor.RxConfig{})
//
//	// NIC side (nicsim plays it):
//	rx.NICPlace(frame, descriptor.Packet{Port: 0, Queue: 0})
//
//	// driver goroutine:
//	var burst [32]descriptor.Packet
//	n := rx.Receive(burst[:])
//	for _, p := range burst[:n] {
//		process(pool.Bytes(p))
//	}
//	rx.Free(burst[:n])
package descriptor
