package pipeline

import (
	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/frame"
)

// receiveSink takes a burst from one sink RX ring (egress side), checks
// the checksums of the frames VerifyEvery asks for (frame.Verify: the IPv4
// header checksum and the TCP/UDP checksum over the pseudo-header; the
// offloaded class's checksums are those the co-processor wrote) and frees
// the buffers.
func (p *Pipeline) receiveSink(r *descriptor.RxRing) int {
	n := r.Receive(p.sinkBuf[:])
	if n == 0 {
		return 0
	}
	var bytes, verified, corrupt uint64
	every := uint64(p.cfg.VerifyEvery)
	for i := range p.sinkBuf[:n] {
		pk := &p.sinkBuf[i]
		bytes += uint64(pk.Len)
		p.verifyN++
		if p.verifyN%every != 0 {
			continue
		}
		verified++
		if frame.Verify(p.pool.Bytes(*pk)) != nil {
			corrupt++
		}
	}
	p.cnt.sinkBytes.Add(bytes)
	p.cnt.verified.Add(verified)
	if corrupt > 0 {
		p.cnt.corrupt.Add(corrupt)
	}
	p.cnt.delivered.Add(uint64(n) - corrupt)
	_ = r.Free(p.sinkBuf[:n])
	return n
}
