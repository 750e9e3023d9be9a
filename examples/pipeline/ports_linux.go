//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/linuxport"
	"github.com/ringkit/ringkit/linuxport/netns"
	"github.com/ringkit/ringkit/nicsim"
	"github.com/ringkit/ringkit/pipeline"
	"github.com/ringkit/ringkit/port"
)

// Sizes of the real ports' rings: small enough that one UMEM pool holds
// every ring of every port.
const (
	realDescs   = 512
	realBuffers = 16384
)

// openIfaces opens the pipeline's ports on the user's interfaces: names[0]
// is the ingress, names[1+k] output port k. Each is AF_XDP on one shared
// UMEM, or TPACKET where the kernel refuses AF_XDP. The frames each output
// sends count as delivered (there is no sink to verify them).
func openIfaces(names []string, cfg *pipeline.Config, log io.Writer) (*pipeline.Ports, func(), error) {
	if len(names) != 1+len(cfg.Ports) {
		return nil, nil, fmt.Errorf("-iface: %d interfaces for an ingress and %d output ports (want %d)", len(names), len(cfg.Ports), 1+len(cfg.Ports))
	}
	pool, err := linuxport.NewUMEMPool(realBuffers)
	if err != nil {
		return nil, nil, err
	}
	ps := &pipeline.Ports{Pool: pool}
	var opened []port.Port
	closeAll := func() {
		for _, p := range opened {
			_ = p.Close()
		}
	}
	for i, name := range names {
		q := 1
		if i == 0 {
			q = cfg.Queues
		}
		p, err := openPort(name, q, pool, nil, log)
		if err != nil && i == 0 && errors.Is(err, linuxport.ErrQueue) {
			p, err = openPort(name, 1, pool, nil, log) // the interface has fewer queues
		}
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		opened = append(opened, p)
	}
	ps.In, ps.Out = opened[0], opened[1:]
	return ps, func() {}, nil // the pipeline closes the ports
}

// openPort opens an AF_XDP port with queues queues on name, or the
// TPACKET fallback, and says which.
func openPort(name string, queues int, pool *descriptor.Pool, ns linuxport.Namespace, log io.Writer) (port.Port, error) {
	cfg := linuxport.XDPConfig{Pool: pool, Queues: queues, NS: ns,
		Rx: descriptor.RxConfig{Descs: realDescs}, Tx: descriptor.TxConfig{Descs: realDescs}}
	p, err := linuxport.Open(name, cfg)
	if err != nil {
		return nil, err
	}
	switch x := p.(type) {
	case *linuxport.XDP:
		fmt.Fprintf(log, "%s: AF_XDP, %d queues, %s mode, zero-copy %v\n", name, queues, x.Mode(), x.ZeroCopy())
	default:
		fmt.Fprintf(log, "%s: TPACKET (AF_XDP refused), %d queues\n", name, queues)
	}
	return p, nil
}

// testBed is -netns: two network namespaces made for the run, "gen" and
// "dut", joined by veth pairs, removed when it closes (and by the kernel
// if the process dies, as nothing else holds them):
//
//	gen: sender (TPACKET) ─► g0 ══ in  (AF_XDP, Queues queues) :dut  ─► pipeline
//	gen: sink k (TPACKET) ◄─ sk ══ outk (AF_XDP)               :dut  ◄─ output port k
//
// The sender sends the config's traffic (a nicsim generator's frames:
// flows, sizes, DSCP classes, valid checksums) through a TPACKET transmit
// ring, paced, for the run's duration, and stops by itself. No address is
// set anywhere and no link leaves the two namespaces.
type testBed struct {
	gen, dut *netns.NS
	sender   *linuxport.Packet
	pool     *descriptor.Pool
	traffic  *nicsim.Generator
	wg       sync.WaitGroup
	cancel   context.CancelFunc
	sent     uint64
	err      error
}

func openNetns(cfg *pipeline.Config, rate float64, duration time.Duration, log io.Writer) (*pipeline.Ports, *testBed, error) {
	b := &testBed{}
	ok := false
	defer func() {
		if !ok {
			b.close()
		}
	}()
	var err error
	if b.gen, err = netns.New("gen"); err != nil {
		return nil, nil, err
	}
	if b.dut, err = netns.New("dut"); err != nil {
		return nil, nil, err
	}
	if err := netns.AddVeth(b.gen, "g0", b.dut, "in", netns.VethConfig{Queues: cfg.Queues}); err != nil {
		return nil, nil, err
	}
	for k := range cfg.Ports {
		if err := netns.AddVeth(b.dut, fmt.Sprintf("out%d", k), b.gen, fmt.Sprintf("s%d", k), netns.VethConfig{}); err != nil {
			return nil, nil, err
		}
	}
	fmt.Fprintf(log, "netns: %v and %v, veth g0-in and %d output pairs\n", b.gen, b.dut, len(cfg.Ports))

	pool, err := linuxport.NewUMEMPool(realBuffers)
	if err != nil {
		return nil, nil, err
	}
	ps := &pipeline.Ports{Pool: pool}
	if ps.In, err = openPort("in", cfg.Queues, pool, b.dut, log); err != nil {
		return nil, nil, err
	}
	closePorts := func() {
		for _, p := range append(append([]port.Port{ps.In}, ps.Out...), ps.Sink...) {
			_ = p.Close()
		}
	}
	for k := range cfg.Ports {
		out, err := openPort(fmt.Sprintf("out%d", k), 1, pool, b.dut, log)
		if err != nil {
			closePorts()
			return nil, nil, err
		}
		ps.Out = append(ps.Out, out)
		sink, err := linuxport.OpenPacket(fmt.Sprintf("s%d", k), linuxport.PacketConfig{Pool: pool, NS: b.gen,
			Rx: descriptor.RxConfig{Descs: realDescs}, Tx: descriptor.TxConfig{Descs: 2}})
		if err != nil {
			closePorts()
			return nil, nil, err
		}
		ps.Sink = append(ps.Sink, sink)
	}

	// The sender, with its own pool: it is the traffic, not the pipeline.
	t := &cfg.Traffic
	gc := nicsim.GenConfig{Rate: rate, Flows: t.Flows, IPv6: t.IPv6, TCP: t.TCP, Seed: t.Seed,
		Count: uint64(rate * duration.Seconds())}
	for _, s := range t.Sizes {
		gc.Sizes = append(gc.Sizes, nicsim.SizeWeight{Size: s.Size, Weight: s.Weight})
	}
	for _, d := range t.DSCP {
		gc.DSCP = append(gc.DSCP, nicsim.DSCPWeight{DSCP: uint8(d.DSCP), Weight: d.Weight})
	}
	if rate <= 0 {
		closePorts()
		return nil, nil, fmt.Errorf("-netns needs a rate (-rate): the sender is paced and bounded")
	}
	if b.traffic, err = nicsim.NewGenerator(gc); err != nil {
		closePorts()
		return nil, nil, err
	}
	if b.pool, err = descriptor.NewPool(descriptor.PoolConfig{Buffers: 4096}); err != nil {
		closePorts()
		return nil, nil, err
	}
	if b.sender, err = linuxport.OpenPacket("g0", linuxport.PacketConfig{Pool: b.pool, NS: b.gen,
		Tx: descriptor.TxConfig{Descs: 1024}, Frames: 2048}); err != nil {
		closePorts()
		return nil, nil, err
	}
	ok = true
	return ps, b, nil
}

// start runs the sender until its count is sent or ctx ends.
func (b *testBed) start(ctx context.Context) {
	ctx, b.cancel = context.WithCancel(ctx)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		tx := b.sender.TxRing(0)
		pkts := make([]descriptor.Packet, 64)
		start := time.Now()
		for ctx.Err() == nil && !b.traffic.Done() {
			n := min(len(pkts), b.traffic.Due(time.Since(start)))
			k := 0
			for ; k < n; k++ {
				buf, ok := tx.Cache().Get()
				if !ok {
					break
				}
				f := b.traffic.Next(b.pool.Data(buf)[:0])
				pkts[k] = descriptor.Packet{Buf: buf, Len: uint16(len(f))}
			}
			m, err := tx.Transmit(pkts[:k])
			if err != nil {
				b.err = err
				return
			}
			b.sent += uint64(m)
			for _, pk := range pkts[m:k] {
				_ = tx.Cache().Put(pk.Buf)
			}
			if _, err := b.sender.Step(); err != nil {
				b.err = err
				return
			}
			if n == 0 {
				time.Sleep(100 * time.Microsecond)
			}
		}
		for range 100 { // what is posted goes out
			_, _ = b.sender.Step()
		}
	}()
}

// report says what the sender sent and its link counted.
func (b *testBed) report(w io.Writer) {
	l, err := b.gen.Link("g0")
	if err != nil {
		return
	}
	fmt.Fprintf(w, "netns sender: %d frames posted, %d counted sent by g0\n", b.sent, l.TxPackets)
}

// close stops the sender and removes the namespaces with everything in
// them. The pipeline has closed its ports.
func (b *testBed) close() {
	if b.cancel != nil {
		b.cancel()
	}
	b.wg.Wait()
	if b.sender != nil {
		_ = b.sender.Close()
	}
	for _, ns := range []*netns.NS{b.gen, b.dut} {
		if ns != nil {
			_ = ns.Close()
		}
	}
}
