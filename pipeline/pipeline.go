package pipeline

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringkit/ringkit/classify"
	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/internal/hist"
	"github.com/ringkit/ringkit/internal/wait"
	"github.com/ringkit/ringkit/nicsim"
	"github.com/ringkit/ringkit/port"
	"github.com/ringkit/ringkit/ring"
	"github.com/ringkit/ringkit/sched"
)

// genDepth is the depth of the trace's token bucket, and genChunks the
// most bursts one round generates: a round late by up to genDepth frames'
// time still sends the offered load.
const (
	genDepth  = 256
	genChunks = genDepth / burst
)

// cacheSize is the pool's per-ring cache size: half DPDK's usual, as the
// rings here are small.
const cacheSize = 128

// burst is the most frames one round generates, receives, classifies or
// transmits at a time: DPDK's usual 32.
const burst = 32

// Options are what New takes besides the Config.
type Options struct {
	// Capture, if set, keeps a sample of the transmitted frames (see
	// Capture).
	Capture *Capture
	// Ports, if set, are the ports the pipeline runs on instead of the
	// in-memory NIC it builds otherwise: real interfaces, or any other
	// port.Port. The config's traffic is then not generated: what
	// arrives at Ports.In is what the pipeline classifies and schedules.
	Ports *Ports
	// Layout is how Run spreads the stages over goroutines (LayoutAuto:
	// measured when Run starts).
	Layout Layout
}

// Layout is how Run spreads the pipeline's stages over goroutines.
type Layout int32

const (
	// LayoutAuto runs both layouts for a moment when Run starts and keeps
	// the one that delivered more: on a machine whose cache lines move
	// slowly between cores, the hand-over between two goroutines (every
	// packet crosses a TC ring from one core to the other) can cost more
	// than the second core brings, and one goroutine doing every stage in
	// turn is faster. A tie (within 3%: the offered load, not the
	// pipeline, is the limit) keeps LayoutSplit. With GOMAXPROCS=1 it is
	// LayoutSingle at once.
	LayoutAuto Layout = iota
	// LayoutSplit runs the ingress side (NIC receive, classify) on Run's
	// caller and the egress side (schedule, transmit, sink) on a goroutine
	// of its own: two cores, as two DPDK lcores.
	LayoutSplit
	// LayoutSingle runs every stage on Run's caller, in turn (Step).
	LayoutSingle
)

func (l Layout) String() string {
	switch l {
	case LayoutAuto:
		return "auto"
	case LayoutSplit:
		return "split (ingress and egress on two goroutines)"
	case LayoutSingle:
		return "single (every stage on one goroutine)"
	}
	return fmt.Sprintf("Layout(%d)", int32(l))
}

// Ports are the ports a pipeline runs on when they are not its in-memory
// NIC. The pipeline drives their engines (Step) from its own goroutines,
// so none of them may be running. Close closes them.
type Ports struct {
	// Pool holds the buffers of every ring of these ports.
	Pool *descriptor.Pool
	// In is where the traffic arrives; every RX queue of it is read.
	In port.Port
	// Out[k] transmits configured output port k, on its TX queue 0: one
	// per entry of Config.Ports.
	Out []port.Port
	// Sink[k], if set, is where Out[k]'s frames arrive (the far end of its
	// wire): they are received, verified and counted as delivered there.
	// Without sinks, a frame counts as delivered once Out[k] has sent it.
	Sink []port.Port
}

// Pipeline is the whole data plane on the NIC model:
//
//	trace ─► NIC port "in" (RSS over Queues RX queues, RxRings)
//	          ─► classify.Stage (input: every RX queue in turn) ─► TC rings of each output port
//	             (one class per config may go through a job ring to a co-processor first)
//	          ─► sched.Port per output port ─► TxRing ─► NIC port "out k" ─► wire
//	          ─► sink NIC port k (RxRing) ─► checksums verified, buffers freed
//
// Its work is split in two sides, each a single goroutine's at a time:
// Ingress (send the traffic into the NIC's ingress port, classify) and
// Egress (retire offloaded packets, schedule every port, the NIC's transmit
// round onto the wires, receive and verify at the sink).
// Step runs both in turn, deterministically, on a clock the caller
// supplies; Start runs each side on its own goroutine on the monotonic
// clock until Stop.
//
// One Pool holds every buffer. The ingress side owns the RX rings' caches
// (buffers of dropped packets go back there); the egress side owns the TX
// rings' and the sink rings' caches. A buffer passes from one side to the
// other inside a ring of packets or the job ring, both of which synchronize
// the enqueue before the dequeue.
type Pipeline struct {
	cfg   Config
	rules *classify.RuleSet
	pool  *descriptor.Pool

	in     port.Port
	sinks  []port.Port           // where the output ports' frames arrive; none without sinks
	ports  []port.Port           // every port, for Close
	nics   []*nicsim.NIC         // the in-memory NICs New built, for Close
	inject func(frames [][]byte) // the traffic's way into In; nil on ports of the caller's
	tr     *trace                // the traffic; nil on ports of the caller's

	// Ingress side.
	frames [][]byte // the burst of the trace a round sends
	input  rxInput
	stage  *classify.Stage
	inNow  time.Duration // the ingress round's time, for arrival stamps

	// Egress side.
	outs    []*output
	off     *offload
	sinkRx  []*descriptor.RxRing
	sinkBuf [burst]descriptor.Packet
	outNow  time.Duration // the egress round's time, for latencies
	verifyN uint64        // frames seen at the sink, for VerifyEvery
	blame   blame         // attribution of tail drops to shaping or overload

	// stamps[i] is the arrival time (ingress clock) of the packet in
	// buffer i: written by the ingress side when the driver receives it,
	// read by the egress side when it is transmitted. The packet's passage
	// through a TC ring (or the job ring) orders the write before the read.
	stamps []int64
	lat    hist.Histogram
	cap    *Capture

	generating atomic.Bool // ingress generates while set; Stop and StopTraffic clear it
	cnt        counters

	runMu      sync.Mutex    // held by Run; Close takes it to wait for Run's return
	running    atomic.Bool   // set while Run runs
	layout     atomic.Int32  // the Layout Run uses, once it has chosen
	wantLayout Layout        // Options.Layout
	stop       chan struct{} // closed by Close
	closeMu    sync.Mutex    // serializes Close
	closed     bool

	shareMark []portMark    // sched counters at MarkShares
	markAt    time.Duration // when MarkShares was called
	shareEnd  []portMark    // sched counters at StopTraffic
	migration *MigrationReport
	vm        atomic.Pointer[vmWorld] // set by Run before it starts anything; Snapshot may read it meanwhile
}

// output is one output port: its TC rings, scheduler and TX ring.
type output struct {
	p     *Pipeline
	idx   int
	rings [classify.NumTC]*ring.SPSC[descriptor.Packet]
	tcIdx [classify.NumTC]int // index in PortConfig.TCs, -1 if not configured
	sched *sched.Port
	tx    *descriptor.TxRing
	port  port.Port // the port that transmits it

	rate  float64                 // configured, bits per second
	caps  [classify.NumTC]float64 // each class's cap in bits per second, 0 for none
	blame classBlame
}

// counters are the pipeline's own counts; each has one writer (named).
type counters struct {
	// Ingress side, by drop reason of the Stage (tail drops at a TC
	// ring are counted by output port and class: classBlame.full).
	malformed, noRoute, offloadFull, noClass, closed atomic.Uint64
	// Egress side. schedDrops are the scheduler's (frames larger than a
	// token bucket); tcHeld what the TC rings held at Close.
	schedDrops, tcHeld, txRefused, offloadFailed, offloadStop atomic.Uint64
	transmitted, delivered, corrupt, verified                 atomic.Uint64
	sinkBytes                                                 atomic.Uint64
	txClosed, rxClosed                                        atomic.Uint64 // dropped by ring Close
}

// refuse is the Output of a (port, TC) that the config does not schedule:
// it takes nothing, and the Stage's drop callback counts the packets as
// "no class".
type refuse struct{}

func (refuse) EnqueueBurst([]descriptor.Packet) int { return 0 }

// New builds the pipeline described by cfg (checked with Validate).
func New(cfg Config, opts Options) (*Pipeline, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Layout < LayoutAuto || opts.Layout > LayoutSingle {
		return nil, fmt.Errorf("%w: Options.Layout %d (want LayoutAuto, LayoutSplit or LayoutSingle)", ErrConfig, int32(opts.Layout))
	}
	rules, err := cfg.RuleSet()
	if err != nil {
		return nil, err
	}
	if opts.Ports != nil {
		return newOnPorts(cfg, rules, opts)
	}
	nports := len(cfg.Ports)
	buffers := cfg.Buffers
	if buffers == 0 {
		// Every ring in use full at once, plus the caches in front of
		// the pool (each holds up to 1.5 × its size): the RX rings of the
		// ingress port, the TX ring of each output port and the RX ring of
		// each sink port. The RX rings nothing arrives on are shrunk to
		// two descriptors (shrinkUnused). The fewer buffers, the more of
		// them stay in the processor's caches.
		inRings := 0
		for k := range cfg.Ports {
			for _, n := range cfg.RingSizes(k) {
				inRings += n
			}
		}
		active := cfg.Queues + 2*nports
		buffers = cfg.Queues*cfg.RxDescs + nports*(cfg.TxDescs+cfg.RxDescs) + inRings +
			active*cacheSize*3/2 + nports*cfg.Queues*2 + 4*burst*nports
		if cfg.Offload != nil {
			buffers += cfg.Offload.Slots
		}
		buffers += buffers / 8
		buffers = min(buffers, descriptor.MaxBuffers)
	}
	pool, err := descriptor.NewPool(descriptor.PoolConfig{Buffers: buffers, DataRoom: 1536, NoHeadroom: true,
		CacheSize: cacheSize, MaxBytes: cfg.MaxBytes})
	if err != nil {
		return nil, fmt.Errorf("%w: buffers (max_bytes raises the memory limit): %w", ErrConfig, err)
	}
	p := &Pipeline{cfg: cfg, rules: rules, pool: pool, cap: opts.Capture, wantLayout: opts.Layout, stop: make(chan struct{}),
		stamps: make([]int64, buffers)}
	ok := false
	defer func() {
		if !ok {
			p.closePorts()
		}
	}()

	// The NIC under test: port 0 receives the traffic, ports 1..n
	// transmit the output ports, each wired to a port of the sink NIC.
	nic, err := nicsim.New(nicsim.Config{Name: "nic", Ports: 1 + nports, Queues: cfg.Queues, Pool: pool,
		Rx: descriptor.RxConfig{Descs: cfg.RxDescs}, Tx: descriptor.TxConfig{Descs: cfg.TxDescs}, MaxBytes: cfg.MaxBytes})
	if err != nil {
		return nil, fmt.Errorf("%w: queues, rx_descs and tx_descs (max_bytes raises the memory limit): %w", ErrConfig, err)
	}
	p.nics = append(p.nics, nic)
	// The sink NIC's ports have one queue each: RSS off, no hash to compute.
	sink, err := nicsim.New(nicsim.Config{Name: "sink", Ports: nports, Queues: 1, NoRSS: true, Pool: pool,
		Rx: descriptor.RxConfig{Descs: cfg.RxDescs}, Tx: descriptor.TxConfig{Descs: 2}, MaxBytes: cfg.MaxBytes})
	if err != nil {
		return nil, fmt.Errorf("%w: rx_descs (max_bytes raises the memory limit): %w", ErrConfig, err)
	}
	p.nics = append(p.nics, sink)
	if err := shrinkUnused(nic, pool); err != nil {
		return nil, err
	}
	ports := &Ports{Pool: pool, In: nic.Port(0)}
	for k := range nports {
		if err := nicsim.Connect(nic.Port(1+k), sink.Port(k)); err != nil {
			return nil, fmt.Errorf("pipeline: %w", err)
		}
		ports.Out = append(ports.Out, nic.Port(1+k))
		ports.Sink = append(ports.Sink, sink.Port(k))
	}
	p.inject = nic.Port(0).Receive

	t := &cfg.Traffic
	gc := nicsim.GenConfig{Rate: t.Rate, Burst: genDepth, Flows: t.Flows, IPv6: t.IPv6, TCP: t.TCP, Seed: t.Seed}
	for _, s := range t.Sizes {
		gc.Sizes = append(gc.Sizes, nicsim.SizeWeight{Size: s.Size, Weight: s.Weight})
	}
	for _, d := range t.DSCP {
		gc.DSCP = append(gc.DSCP, nicsim.DSCPWeight{DSCP: uint8(d.DSCP), Weight: d.Weight})
	}
	gen, err := nicsim.NewGenerator(gc)
	if err != nil {
		return nil, fmt.Errorf("%w: traffic: %w", ErrConfig, err)
	}
	p.tr = newTrace(gen, t.Flows, t.Rate)
	p.frames = make([][]byte, burst)
	if err := p.build(ports); err != nil {
		return nil, err
	}
	ok = true
	return p, nil
}

// newOnPorts is New on ports given in Options: no traffic of its own.
func newOnPorts(cfg Config, rules *classify.RuleSet, opts Options) (*Pipeline, error) {
	ps := opts.Ports
	switch {
	case ps.Pool == nil || ps.In == nil:
		return nil, fmt.Errorf("%w: Ports needs a Pool and an In port", ErrConfig)
	case len(ps.Out) != len(cfg.Ports):
		return nil, fmt.Errorf("%w: %d output ports configured, %d given in Ports.Out", ErrConfig, len(cfg.Ports), len(ps.Out))
	case len(ps.Sink) != 0 && len(ps.Sink) != len(ps.Out):
		return nil, fmt.Errorf("%w: %d sinks for %d output ports (want one each, or none)", ErrConfig, len(ps.Sink), len(ps.Out))
	}
	all := append(append([]port.Port{ps.In}, ps.Out...), ps.Sink...)
	for _, pt := range all {
		if pt == nil {
			return nil, fmt.Errorf("%w: a nil port in Ports", ErrConfig)
		}
		if pt.Queues() < 1 || pt.RxRing(0).Pool() != ps.Pool || pt.TxRing(0).Pool() != ps.Pool {
			return nil, fmt.Errorf("%w: port %s: its rings must use Ports.Pool", ErrConfig, pt.Name())
		}
	}
	cfg.Queues = ps.In.Queues()
	p := &Pipeline{cfg: cfg, rules: rules, pool: ps.Pool, cap: opts.Capture, wantLayout: opts.Layout, stop: make(chan struct{}),
		stamps: make([]int64, ps.Pool.Buffers())}
	if err := p.build(ps); err != nil {
		return nil, err
	}
	return p, nil
}

// build wires the stages over ports.
func (p *Pipeline) build(ports *Ports) error {
	cfg := &p.cfg
	nports := len(cfg.Ports)
	p.in = ports.In
	p.sinks = ports.Sink
	p.ports = append(append([]port.Port{ports.In}, ports.Out...), ports.Sink...)
	for _, s := range p.sinks {
		p.sinkRx = append(p.sinkRx, s.RxRing(0))
	}
	p.input = rxInput{p: p}
	for q := range p.in.Queues() {
		p.input.rings = append(p.input.rings, p.in.RxRing(q))
	}

	outs := make([][classify.NumTC]classify.Output, nports)
	for k := range nports {
		o, err := p.newOutput(k, ports.Out[k])
		if err != nil {
			return err
		}
		p.outs = append(p.outs, o)
		for tc := range classify.NumTC {
			if r := o.rings[tc]; r != nil {
				outs[k][tc] = r
			} else {
				outs[k][tc] = refuse{}
			}
		}
	}
	if oc := cfg.Offload; oc != nil {
		out := p.outs[oc.Port]
		var err error
		if p.off, err = newOffload(p.pool, oc, out.rings[oc.TC]); err != nil {
			return err
		}
		outs[oc.Port][oc.TC] = p.off
	}
	full := classify.DropWhenFull
	if cfg.BackPressure {
		full = classify.BackPressure
	}
	var err error
	p.stage, err = classify.NewStage(classify.StageConfig{
		In: &p.input, Frames: p.pool, Out: outs, Rules: p.rules,
		Full: full, Drop: p.dropped, Burst: burst,
	})
	if err != nil {
		return fmt.Errorf("%w: rules: %w", ErrConfig, err)
	}
	p.generating.Store(true)
	return nil
}

// shrinkUnused gives the RX queues of the output ports (every port of nic
// but port 0), on which nothing arrives, rings of two descriptors, so that
// their posted buffers are not taken out of the pool for nothing.
func shrinkUnused(nic *nicsim.NIC, pool *descriptor.Pool) error {
	for k := 1; k < nic.Ports(); k++ {
		port := nic.Port(k)
		for q := range port.Queues() {
			rx, err := descriptor.NewRxRing(pool, descriptor.RxConfig{Descs: 2, FreeThresh: 1})
			if err != nil {
				return fmt.Errorf("pipeline: %w", err)
			}
			old := port.RxRing(q)
			if err := port.StopQueue(q); err != nil {
				return fmt.Errorf("pipeline: %w", err)
			}
			if err := port.SetRings(q, rx, port.TxRing(q)); err != nil {
				return fmt.Errorf("pipeline: %w", err)
			}
			if err := port.StartQueue(q); err != nil {
				return fmt.Errorf("pipeline: %w", err)
			}
			if _, err := old.Close(); err != nil {
				return fmt.Errorf("pipeline: %w", err)
			}
		}
	}
	return nil
}

func (p *Pipeline) newOutput(k int, pt port.Port) (*output, error) {
	pc := &p.cfg.Ports[k]
	o := &output{p: p, idx: k, port: pt, rate: p.cfg.PortRate(k)}
	o.tx = pt.TxRing(0)
	for i := range o.tcIdx {
		o.tcIdx[i] = -1
	}
	var tcs []sched.TCConfig
	sizes := p.cfg.RingSizes(k)
	for j, tc := range pc.TCs {
		r, err := ring.NewSPSC[descriptor.Packet](sizes[j])
		if err != nil {
			return nil, fmt.Errorf("%w: ports[%d].tcs[%d]: %w", ErrConfig, k, j, err)
		}
		o.rings[tc.TC], o.tcIdx[tc.TC] = r, j
		o.caps[tc.TC] = p.cfg.TCCap(k, j)
		tcs = append(tcs, sched.TCConfig{Name: tc.Name, Queue: r, Priority: tc.Priority,
			Weight: tc.Weight, Rate: uint64(p.cfg.TCCap(k, j))})
	}
	var err error
	o.sched, err = sched.NewPort(sched.PortConfig{Name: pc.Name, Rate: uint64(p.cfg.PortRate(k)),
		Quantum: time.Duration(pc.Quantum), TCs: tcs, Tx: o, OnDrop: o.dropped, TxBurst: burst})
	if err != nil {
		return nil, fmt.Errorf("%w: ports[%d]: %w", ErrConfig, k, err)
	}
	return o, nil
}

// Pool returns the pool of every buffer of the pipeline.
func (p *Pipeline) Pool() *descriptor.Pool { return p.pool }

// Config returns the checked config, defaults filled in.
func (p *Pipeline) Config() Config { return p.cfg }

// dropped is the Stage's drop callback (ingress side): it counts the
// packets by reason and frees their buffers into an RX ring's cache.
func (p *Pipeline) dropped(v classify.Verdict, pkts []descriptor.Packet) {
	switch v {
	case classify.DropMalformed:
		p.cnt.malformed.Add(uint64(len(pkts)))
	case classify.DropNoRoute:
		p.cnt.noRoute.Add(uint64(len(pkts)))
	case classify.DropRingFull:
		// A group of one (port, TC): the first packet says which.
		pk := &pkts[0]
		switch o := p.outs[pk.OutPort]; {
		case o.tcIdx[pk.TC] < 0:
			p.cnt.noClass.Add(uint64(len(pkts)))
		case p.off != nil && int(pk.OutPort) == p.cfg.Offload.Port && int(pk.TC) == p.cfg.Offload.TC:
			p.cnt.offloadFull.Add(uint64(len(pkts)))
		default:
			o.blame.full[pk.TC].Add(uint64(len(pkts)))
		}
	default:
		p.cnt.closed.Add(uint64(len(pkts)))
	}
	_ = p.input.rings[0].Free(pkts)
}

// Transmit is the scheduler's Transmitter for the port (egress side): it
// posts to the TX ring and records each sent packet's latency and, when
// capturing, a sample of its frame.
func (o *output) Transmit(pkts []descriptor.Packet) (int, error) {
	p := o.p
	n, err := o.tx.Transmit(pkts)
	if n > 0 {
		p.cnt.transmitted.Add(uint64(n))
		now := int64(p.outNow)
		for i := range pkts[:n] {
			pk := &pkts[i]
			p.lat.Record(now - p.stamps[p.pool.Index(pk.Buf)])
			o.countSent(pk.TC, int64(pk.Len)+sched.DefaultOverhead)
		}
		if p.cap != nil {
			// The NIC only reads the posted frames, and the buffers come
			// back to this goroutine only through a later Transmit or
			// Reclaim: reading them here races with nothing.
			p.cap.Sample(p.pool, pkts[:n], p.outNow)
		}
	}
	if err != nil {
		p.cnt.txRefused.Add(1)
	}
	return n, err
}

// dropped is the scheduler's drop callback (egress side).
func (o *output) dropped(pk descriptor.Packet) {
	o.p.cnt.schedDrops.Add(1)
	_ = o.tx.Cache().Put(pk.Buf)
}

// rxInput is the Stage's input: every RX queue of the ingress port in turn,
// as one driver goroutine polls several queues. It stamps each packet with
// its arrival time.
type rxInput struct {
	p     *Pipeline
	rings []*descriptor.RxRing
	next  int
}

// DequeueBurst receives up to len(dst) packets from the RX queues, starting
// after the queue it last took from.
func (in *rxInput) DequeueBurst(dst []descriptor.Packet) int {
	n := 0
	for range in.rings {
		r := in.rings[in.next]
		in.next++
		if in.next == len(in.rings) {
			in.next = 0
		}
		n += r.Receive(dst[n:])
		if n == len(dst) {
			break
		}
	}
	now := int64(in.p.inNow)
	for i := range dst[:n] {
		in.p.stamps[in.p.pool.Index(dst[i].Buf)] = now
	}
	return n
}

// rxRoom reports whether every RX queue has a burst of descriptors posted
// (ingress side: it plays the NIC, whose side NICOwned is).
func (p *Pipeline) rxRoom() bool {
	for _, r := range p.input.rings {
		if r.NICOwned() < burst {
			return false
		}
	}
	return true
}

// Ingress does one round of the ingress side at time now: it sends what
// the traffic's rate allows (while traffic runs) into the NIC's ingress
// port (RSS and placement into the RX rings) and classifies what the RX
// rings hold. It returns
// the packets it moved. Only one goroutine may run Ingress at a time.
func (p *Pipeline) Ingress(now time.Duration) int {
	p.inNow = now
	moved := 0
	if m, err := p.in.Step(); err == nil { // the port's engine: what arrived into the RX rings
		moved += m
	}
	if p.inject != nil && p.generating.Load() {
		// Paced traffic catches up after a slow round (the trace.s
		// bucket holds genDepth frames), a burst at a time; unpaced
		// traffic sends one burst per round.
		for range genChunks {
			n := min(p.tr.due(now), burst)
			if p.cfg.Traffic.Rate == 0 && !p.rxRoom() {
				n = 0 // unpaced traffic goes as fast as the receiver takes it
			}
			p.tr.take(p.frames[:n])
			p.inject(p.frames[:n])
			moved += n
			if n < burst || p.cfg.Traffic.Rate == 0 {
				break
			}
		}
	}
	for range 4 {
		s := p.stage.Step()
		moved += s
		if s < burst {
			break
		}
	}
	return moved
}

// Egress does one round of the egress side at time now: offloaded packets
// that are done go to their TC ring, each output port's scheduler runs a
// quantum and posts to its TX ring, the NIC transmits onto the wires, and
// the sink receives and verifies. It returns
// the packets it moved. Only one goroutine may run Egress at a time.
func (p *Pipeline) Egress(now time.Duration) int {
	p.outNow = now
	moved := 0
	if p.off != nil {
		moved += p.off.retire(&p.cnt, p.outs[p.cfg.Offload.Port].tx.Cache())
	}
	for _, o := range p.outs {
		moved += o.sched.Step(now)
	}
	p.attribute(now, false)
	// The output ports' engines: fetch what was posted, put it on the
	// wire and complete it; then the sinks' engines place what reached
	// them into their RX rings (an in-memory wire does that within the
	// output port's Step already). Errors are those of a closed port.
	for _, o := range p.outs {
		if m, err := o.port.Step(); err == nil {
			moved += m
		}
	}
	for _, s := range p.sinks {
		if m, err := s.Step(); err == nil {
			moved += m
		}
	}
	for _, r := range p.sinkRx {
		for range 4 { // the NIC places up to a burst per TX queue and round
			n := p.receiveSink(r)
			moved += n
			if n < burst {
				break
			}
		}
	}
	return moved
}

// Step runs Ingress then Egress at now. It must not run while Run does.
func (p *Pipeline) Step(now time.Duration) int {
	return p.Ingress(now) + p.Egress(now)
}

// StopTraffic stops the traffic; what was sent goes on through the
// pipeline. It records the scheduler counters that end the share window.
func (p *Pipeline) StopTraffic() {
	if p.generating.Swap(false) {
		p.shareEnd = p.portMarks()
	}
}

// Generating reports whether the traffic still runs.
func (p *Pipeline) Generating() bool { return p.generating.Load() }

// Errors of Run.
var (
	ErrRunning = errors.New("pipeline: already running")
)

// Run runs the pipeline on the monotonic clock from its call, laid out as
// Options.Layout says: by default the ingress side on the caller's
// goroutine and the egress side on one goroutine of its own, each polling
// as a DPDK lcore does and backing off to short sleeps when it finds
// nothing to do (internal/wait.Poller), unless one goroutine doing every
// stage measured faster (see LayoutAuto; Layout reports the choice). It
// returns ctx.Err() when ctx ends and nil after Close (at once if the
// pipeline is closed), in both cases once its goroutine has ended; the
// packets in flight stay where they are (Drain moves them on). Run returns
// ErrRunning while another Run runs.
func (p *Pipeline) Run(ctx context.Context) error {
	if p.running.Swap(true) {
		return ErrRunning
	}
	defer p.running.Store(false)
	p.runMu.Lock() // Close waits for it
	defer p.runMu.Unlock()
	start := time.Now()
	clock := func() time.Duration { return time.Since(start) }
	layout := p.wantLayout
	if layout == LayoutAuto {
		var err error
		if layout, err = p.chooseLayout(ctx, clock); err != nil || p.isClosed() {
			if p.isClosed() {
				return nil
			}
			return err
		}
	}
	p.layout.Store(int32(layout))
	err := p.runAs(ctx, layout, clock)
	if p.isClosed() {
		return nil
	}
	return err
}

// Layout returns the layout Run uses: Options.Layout, or what LayoutAuto
// chose; LayoutAuto until Run has chosen.
func (p *Pipeline) Layout() Layout { return Layout(p.layout.Load()) }

// layoutTrial is how long LayoutAuto runs each layout; the split layout
// first runs as long again to warm up, unmeasured.
const layoutTrial = 100 * time.Millisecond

// chooseLayout runs the split layout to warm up, then each layout for
// layoutTrial, and returns the one that delivered more (split on a tie).
func (p *Pipeline) chooseLayout(ctx context.Context, clock func() time.Duration) (Layout, error) {
	if runtime.GOMAXPROCS(0) == 1 {
		return LayoutSingle, nil
	}
	var got [3]uint64
	for _, l := range []Layout{LayoutSplit, LayoutSingle, LayoutSplit} {
		tctx, cancel := context.WithTimeout(ctx, layoutTrial)
		d0 := p.cnt.delivered.Load()
		err := p.runAs(tctx, l, clock)
		cancel()
		if ctx.Err() != nil || p.isClosed() {
			return LayoutAuto, ctx.Err()
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return LayoutAuto, err
		}
		got[l] = p.cnt.delivered.Load() - d0 // the split's second trial overwrites its warm-up
	}
	if float64(got[LayoutSingle]) > 1.03*float64(got[LayoutSplit]) {
		return LayoutSingle, nil
	}
	return LayoutSplit, nil
}

// runAs runs the pipeline laid out as l until ctx ends or Close.
func (p *Pipeline) runAs(ctx context.Context, l Layout, clock func() time.Duration) error {
	side := func(f func(time.Duration) int) func() (int, error) {
		return func() (int, error) { return f(clock()), nil }
	}
	if l == LayoutSingle {
		return wait.Loop(ctx, p.stop, 20*time.Microsecond, side(p.Step))
	}
	egress := make(chan error, 1)
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		err := wait.Loop(ctx, p.stop, 20*time.Microsecond, side(p.Egress))
		cancel() // the ingress side ends with the egress side
		egress <- err
	}()
	err := wait.Loop(ctx, p.stop, 20*time.Microsecond, side(p.Ingress))
	cancel()
	if e := <-egress; err == nil {
		err = e
	}
	return err
}

func (p *Pipeline) isClosed() bool {
	select {
	case <-p.stop:
		return true
	default:
		return false
	}
}

// Drain stops the traffic and steps both sides, with clock as the time
// (the scheduler's rate caps still apply), until every packet sent is
// accounted for or maxIdle rounds passed with nothing moving; what is
// still held then is given up (Close counts it). It must not run while
// Run does. It returns the packets still in flight.
func (p *Pipeline) Drain(clock func() time.Duration, maxIdle int) int64 {
	p.StopTraffic()
	idle := 0
	for idle < maxIdle {
		if p.Step(clock()) > 0 {
			idle = 0
			continue
		}
		if p.InFlight() == 0 {
			break
		}
		idle++
		if p.off != nil && p.off.pending() > 0 {
			time.Sleep(10 * time.Microsecond) // the co-processor is on it
		}
	}
	return p.InFlight()
}

// Close stops Run and waits for it, gives up what is still held (counted
// by reason), closes every port (and the in-memory NICs New built) and
// returns every buffer to the pool. It is idempotent.
func (p *Pipeline) Close() error {
	p.closeMu.Lock()
	defer p.closeMu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	close(p.stop)
	p.runMu.Lock() // Run has returned
	defer p.runMu.Unlock()
	p.StopTraffic()
	var errs []error
	if err := p.stage.Close(); err != nil {
		errs = append(errs, err)
	}
	if p.off != nil {
		errs = append(errs, p.off.close(&p.cnt, p.outs[p.cfg.Offload.Port].tx.Cache()))
	}
	p.attribute(p.outNow, true)
	for _, o := range p.outs {
		errs = append(errs, o.sched.Close())
		// What the TC rings still hold.
		var buf [burst]descriptor.Packet
		for _, r := range o.rings {
			for r != nil {
				n := r.DequeueBurst(buf[:])
				if n == 0 {
					break
				}
				o.p.cnt.tcHeld.Add(uint64(n))
				if err := o.tx.Cache().PutBulk(bufsOf(buf[:n])); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	errs = append(errs, p.closePorts())
	return errors.Join(errs...)
}

func bufsOf(pkts []descriptor.Packet) []descriptor.Buf {
	bs := make([]descriptor.Buf, len(pkts))
	for i := range pkts {
		bs[i] = pkts[i].Buf
	}
	return bs
}

// closePorts closes every descriptor ring, counting what they dropped,
// then every port and the NICs New built.
func (p *Pipeline) closePorts() error {
	var errs []error
	for _, pt := range p.ports {
		for q := range pt.Queues() {
			n, err := pt.TxRing(q).Close()
			p.cnt.txClosed.Add(uint64(n))
			errs = append(errs, err)
			n, err = pt.RxRing(q).Close()
			p.cnt.rxClosed.Add(uint64(n))
			errs = append(errs, err)
		}
	}
	for _, pt := range p.ports {
		errs = append(errs, pt.Close())
	}
	for _, n := range p.nics {
		errs = append(errs, n.Close())
	}
	return errors.Join(errs...)
}
