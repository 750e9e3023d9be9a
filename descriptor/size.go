package descriptor

import "unsafe"

// RxRingBytes returns the memory NewRxRing(p, cfg) takes: the ring, its
// descriptors, its refill scratch and, when cfg.Cache is nil, the Cache it
// makes for itself (CacheBytes). As DPDK's rte_ring_get_memsize, it lets
// what builds many rings check them against a memory budget before it
// allocates any. It returns the error NewRxRing would for a cfg it
// refuses.
func (p *Pool) RxRingBytes(cfg RxConfig) (uint64, error) {
	n, _, thresh, err := ringConfig("rx", p, cfg.Descs, cfg.Burst, cfg.FreeThresh, cfg.Cache)
	if err != nil {
		return 0, err
	}
	var r RxRing
	var d rxDesc
	return p.ringBytes(unsafe.Sizeof(r), n, unsafe.Sizeof(d), thresh, cfg.Cache == nil), nil
}

// TxRingBytes returns the memory NewTxRing(p, cfg) takes, as RxRingBytes
// does for a receive ring.
func (p *Pool) TxRingBytes(cfg TxConfig) (uint64, error) {
	n, _, thresh, err := ringConfig("tx", p, cfg.Descs, 1, cfg.FreeThresh, cfg.Cache)
	if err != nil {
		return 0, err
	}
	var r TxRing
	var d txDesc
	return p.ringBytes(unsafe.Sizeof(r), n, unsafe.Sizeof(d), thresh, cfg.Cache == nil), nil
}

// CacheBytes returns the memory NewCache takes: the Cache and its stack of
// 2.5 × PoolConfig.CacheSize buffers.
func (p *Pool) CacheBytes() uint64 {
	var c Cache
	var b Buf
	return uint64(unsafe.Sizeof(c)) + uint64(p.cacheSz+p.cacheSz/2+p.cacheSz)*uint64(unsafe.Sizeof(b))
}

// ringBytes returns the memory of a descriptor ring of n descriptors of
// desc bytes in a structure of ring bytes, with a refill scratch of thresh
// buffers and, if own, a Cache of its own.
func (p *Pool) ringBytes(ring uintptr, n int, desc uintptr, thresh int, own bool) uint64 {
	var b Buf
	size := uint64(ring) + uint64(n)*uint64(desc) + uint64(thresh)*uint64(unsafe.Sizeof(b))
	if own {
		size += p.CacheBytes()
	}
	return size
}
