//go:build linux

package linuxport_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/linuxport"
	"github.com/ringkit/ringkit/linuxport/netns"
)

// blaster sends 60-byte frames of one UDP flow from vsend as fast as a
// TPACKET port (qdisc bypass) takes them, on its own goroutine, until
// stopped. It allocates nothing while it runs.
type blaster struct {
	p    *linuxport.Packet
	pool *descriptor.Pool
	stop atomic.Bool
	wg   sync.WaitGroup
}

func startBlaster(b *testing.B, bd *bed) *blaster {
	b.Helper()
	pool, err := descriptor.NewPool(descriptor.PoolConfig{Buffers: 4096})
	if err != nil {
		b.Fatal(err)
	}
	p, err := linuxport.OpenPacket("vsend", linuxport.PacketConfig{Pool: pool, NS: bd.send, Frames: 4096, Burst: 64,
		Tx: descriptor.TxConfig{Descs: 1024}})
	skipUnlessKernel(b, "sender", err)
	bl := &blaster{p: p, pool: pool}
	tmpl := testFrame(make([]byte, 0, 128), 0, 60, bd.sendMAC, bd.recvMAC, addrA.Addr(), addrB.Addr())
	bl.wg.Add(1)
	go func() {
		defer bl.wg.Done()
		tx := p.TxRing(0)
		pkts := make([]descriptor.Packet, 64)
		for !bl.stop.Load() {
			k := 0
			for ; k < len(pkts); k++ {
				buf, ok := tx.Cache().Get()
				if !ok {
					break
				}
				copy(bl.pool.Data(buf), tmpl)
				pkts[k] = descriptor.Packet{Buf: buf, Len: uint16(len(tmpl))}
			}
			n, _ := tx.Transmit(pkts[:k])
			_ = tx.Cache().PutBulk(bufsOf(pkts[n:k]))
			_, _ = p.Step()
		}
	}()
	b.Cleanup(func() {
		bl.stop.Store(true)
		bl.wg.Wait()
		_ = p.Close()
	})
	return bl
}

func bufsOf(pk []descriptor.Packet) []descriptor.Buf {
	var bs [64]descriptor.Buf
	for i := range pk {
		bs[i] = pk[i].Buf
	}
	return bs[:len(pk)]
}

// counted returns what vsend has sent.
func sentBy(b *testing.B, bd *bed) uint64 {
	l, err := bd.send.Link("vsend")
	if err != nil {
		b.Fatal(err)
	}
	return l.TxPackets
}

// BenchmarkXDPReceive: an AF_XDP port on vrecv takes what a TPACKET
// sender on vsend sends at full rate; one op is one frame received (the
// receiver drives the port by Step and frees each burst). It reports Mpps
// and the fraction of the frames the sender's interface counted that the
// port received.
func BenchmarkXDPReceive(b *testing.B) {
	for _, mode := range []linuxport.XDPMode{linuxport.ModeSKB, linuxport.ModeDriver} {
		b.Run("mode="+mode.String(), func(b *testing.B) {
			bd := newBed(b, 1)
			pool := umemPool(b, 8192)
			p, err := linuxport.OpenXDP("vrecv", linuxport.XDPConfig{Pool: pool, Mode: mode, NS: bd.recv, NoOffload: true})
			skipUnlessKernel(b, "OpenXDP", err)
			defer p.Close()
			startBlaster(b, bd)
			rx := p.RxRing(0)
			burst := make([]descriptor.Packet, 64)
			k, i := 0, 0
			next := func() {
				for {
					_ = rx.Free(burst[:k])
					_, _ = p.Step()
					k, i = rx.Receive(burst), 0
					if k > 0 {
						return
					}
				}
			}
			next() // the stream flows
			base, start := sentBy(b, bd), time.Now()
			recv0 := p.Stats().Total.RxPackets
			b.ReportAllocs()
			for b.Loop() {
				if i == k {
					next()
				}
				i++
			}
			elapsed := time.Since(start)
			sent := sentBy(b, bd) - base
			got := p.Stats().Total.RxPackets - recv0
			b.ReportMetric(float64(b.N)/elapsed.Seconds()/1e6, "Mpps")
			if sent > 0 {
				b.ReportMetric(float64(got)/float64(sent), "received/sent")
			}
			_ = rx.Free(burst[:k])
		})
	}
}

// BenchmarkXDPForward: frames a TPACKET sender sends at full rate into
// vrecv are forwarded by one goroutine, RX ring to TX ring without a copy
// (two AF_XDP ports on one UMEM), out of vout; one op is one frame
// forwarded.
func BenchmarkXDPForward(b *testing.B) {
	for _, mode := range []linuxport.XDPMode{linuxport.ModeSKB, linuxport.ModeDriver} {
		b.Run("mode="+mode.String(), func(b *testing.B) {
			bd := newBed(b, 1)
			if err := netns.AddVeth(bd.recv, "vout", bd.send, "vback", netns.VethConfig{}); err != nil {
				b.Fatal(err)
			}
			pool := umemPool(b, 16384)
			cfg := linuxport.XDPConfig{Pool: pool, Mode: mode, NS: bd.recv, NoOffload: true}
			in, err := linuxport.OpenXDP("vrecv", cfg)
			skipUnlessKernel(b, "OpenXDP", err)
			defer in.Close()
			out, err := linuxport.OpenXDP("vout", cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer out.Close()
			startBlaster(b, bd)
			rx, tx := in.RxRing(0), out.TxRing(0)
			burst := make([]descriptor.Packet, 64)
			k, i := 0, 0
			next := func() {
				for {
					n, _ := tx.Transmit(burst[:k])
					_ = rx.Free(burst[n:k]) // the TX ring is full: dropped
					_, _ = out.Step()
					_, _ = in.Step()
					k, i = rx.Receive(burst), 0
					if k > 0 {
						return
					}
				}
			}
			next()
			base, start := sentBy(b, bd), time.Now()
			out0 := out.Stats().Total.TxPackets
			b.ReportAllocs()
			for b.Loop() {
				if i == k {
					next()
				}
				i++
			}
			elapsed := time.Since(start)
			sent := sentBy(b, bd) - base
			fwd := out.Stats().Total.TxPackets - out0
			b.ReportMetric(float64(b.N)/elapsed.Seconds()/1e6, "Mpps")
			if sent > 0 {
				b.ReportMetric(float64(fwd)/float64(sent), "forwarded/sent")
			}
			_ = rx.Free(burst[:k])
		})
	}
}
