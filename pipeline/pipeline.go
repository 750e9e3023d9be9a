package pipeline

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringkit/ringkit/classify"
	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/nicsim"
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

	nic  *nicsim.NIC // port 0: ingress; port k+1: output port k
	sink *nicsim.NIC // port k: wired to output port k
	in   *nicsim.Port
	tr   *trace

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

	// stamps[i] is the arrival time (ingress clock) of the packet in
	// buffer i: written by the ingress side when the driver receives it,
	// read by the egress side when it is transmitted. The packet's passage
	// through a TC ring (or the job ring) orders the write before the read.
	stamps []int64
	lat    Histogram
	cap    *Capture

	generating atomic.Bool // ingress generates while set; Stop and StopTraffic clear it
	cnt        counters

	mu      sync.Mutex // serializes Start, Stop and Close
	running bool
	stop    chan struct{}
	wg      sync.WaitGroup
	closed  bool

	shareMark []portMark    // sched counters at MarkShares
	markAt    time.Duration // when MarkShares was called
	shareEnd  []portMark    // sched counters at StopTraffic
	migration *MigrationReport
	vm        *vmWorld // set by Run before it starts anything
}

// output is one output port: its TC rings, scheduler and TX ring.
type output struct {
	p     *Pipeline
	idx   int
	rings [classify.NumTC]*ring.SPSC[descriptor.Packet]
	tcIdx [classify.NumTC]int // index in PortConfig.TCs, -1 if not configured
	sched *sched.Port
	tx    *descriptor.TxRing
	nicTx *nicsim.Port // the NIC port that transmits it
}

// counters are the pipeline's own counts; each has one writer (named).
type counters struct {
	// Ingress side, by drop reason of the Stage.
	malformed, noRoute, ringFull, offloadFull, noClass, closed atomic.Uint64
	// Egress side.
	schedDrops, txRefused, offloadFailed, offloadStop atomic.Uint64
	transmitted, delivered, corrupt, verified         atomic.Uint64
	sinkBytes                                         atomic.Uint64
	txClosed, rxClosed                                atomic.Uint64 // dropped by ring Close
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
	rules, err := cfg.RuleSet()
	if err != nil {
		return nil, err
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
		ntc := 0
		for _, pc := range cfg.Ports {
			ntc += len(pc.TCs)
		}
		active := cfg.Queues + 2*nports
		buffers = cfg.Queues*cfg.RxDescs + nports*(cfg.TxDescs+cfg.RxDescs) + ntc*cfg.RingSize +
			active*cacheSize*3/2 + nports*cfg.Queues*2 + 4*burst*nports
		if cfg.Offload != nil {
			buffers += cfg.Offload.Slots
		}
		buffers += buffers / 8
		buffers = min(buffers, descriptor.MaxBuffers)
	}
	pool, err := descriptor.NewPool(descriptor.PoolConfig{Buffers: buffers, DataRoom: 1536, NoHeadroom: true,
		CacheSize: cacheSize})
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	p := &Pipeline{cfg: cfg, rules: rules, pool: pool, cap: opts.Capture,
		stamps: make([]int64, buffers)}
	ok := false
	defer func() {
		if !ok {
			p.closeRings()
		}
	}()

	// The NIC under test: port 0 receives the generated traffic, ports 1..n
	// transmit the output ports, each wired to a port of the sink NIC.
	p.nic, err = nicsim.New(nicsim.Config{Ports: 1 + nports, Queues: cfg.Queues, Pool: pool,
		Rx: descriptor.RxConfig{Descs: cfg.RxDescs}, Tx: descriptor.TxConfig{Descs: cfg.TxDescs}})
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	// The sink's ports have one queue each: RSS off, no hash to compute.
	p.sink, err = nicsim.New(nicsim.Config{Ports: nports, Queues: 1, NoRSS: true, Pool: pool,
		Rx: descriptor.RxConfig{Descs: cfg.RxDescs}, Tx: descriptor.TxConfig{Descs: 2}})
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	p.in = p.nic.Port(0)
	if err := p.shrinkUnused(); err != nil {
		return nil, err
	}
	for k := range nports {
		if err := nicsim.Connect(p.nic.Port(1+k), p.sink.Port(k)); err != nil {
			return nil, fmt.Errorf("pipeline: %w", err)
		}
		p.sinkRx = append(p.sinkRx, p.sink.Port(k).RxRing(0))
	}

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
		return nil, fmt.Errorf("pipeline: traffic: %w", err)
	}
	p.tr = newTrace(gen, t.Flows, t.Rate)
	p.frames = make([][]byte, burst)
	p.input = rxInput{p: p}
	for q := range cfg.Queues {
		p.input.rings = append(p.input.rings, p.in.RxRing(q))
	}

	outs := make([][classify.NumTC]classify.Output, nports)
	for k := range nports {
		o, err := p.newOutput(k)
		if err != nil {
			return nil, err
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
		if p.off, err = newOffload(pool, oc, out.rings[oc.TC]); err != nil {
			return nil, err
		}
		outs[oc.Port][oc.TC] = p.off
	}
	full := classify.DropWhenFull
	if cfg.BackPressure {
		full = classify.BackPressure
	}
	p.stage, err = classify.NewStage(classify.StageConfig{
		In: &p.input, Frames: pool, Out: outs, Rules: rules,
		Full: full, Drop: p.dropped, Burst: burst,
	})
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	p.generating.Store(true)
	ok = true
	return p, nil
}

// shrinkUnused gives the RX queues of the output ports, on which nothing
// arrives, rings of two descriptors, so that their posted buffers are not
// taken out of the pool for nothing.
func (p *Pipeline) shrinkUnused() error {
	for k := 1; k < p.nic.Ports(); k++ {
		port := p.nic.Port(k)
		for q := range port.Queues() {
			rx, err := descriptor.NewRxRing(p.pool, descriptor.RxConfig{Descs: 2, FreeThresh: 1})
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

func (p *Pipeline) newOutput(k int) (*output, error) {
	pc := &p.cfg.Ports[k]
	o := &output{p: p, idx: k, nicTx: p.nic.Port(1 + k)}
	o.tx = o.nicTx.TxRing(0)
	for i := range o.tcIdx {
		o.tcIdx[i] = -1
	}
	var tcs []sched.TCConfig
	for j, tc := range pc.TCs {
		r, err := ring.NewSPSC[descriptor.Packet](p.cfg.RingSize)
		if err != nil {
			return nil, fmt.Errorf("pipeline: ports[%d].tcs[%d]: %w", k, j, err)
		}
		o.rings[tc.TC], o.tcIdx[tc.TC] = r, j
		tcs = append(tcs, sched.TCConfig{Name: tc.Name, Queue: r, Priority: tc.Priority,
			Weight: tc.Weight, Rate: uint64(p.cfg.TCCap(k, j))})
	}
	var err error
	o.sched, err = sched.NewPort(sched.PortConfig{Name: pc.Name, Rate: uint64(p.cfg.PortRate(k)),
		Quantum: time.Duration(pc.Quantum), TCs: tcs, Tx: o, OnDrop: o.dropped, TxBurst: burst})
	if err != nil {
		return nil, fmt.Errorf("pipeline: ports[%d]: %w", k, err)
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
			p.cnt.ringFull.Add(uint64(len(pkts)))
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
			p.lat.Record(now - p.stamps[p.pool.Index(pkts[i].Buf)])
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
	if p.generating.Load() {
		// Paced traffic catches up after a slow round (the trace.s
		// bucket holds genDepth frames), a burst at a time; unpaced
		// traffic sends one burst per round.
		for range genChunks {
			n := min(p.tr.due(now), burst)
			if p.cfg.Traffic.Rate == 0 && !p.rxRoom() {
				n = 0 // unpaced traffic goes as fast as the receiver takes it
			}
			p.tr.take(p.frames[:n])
			p.in.Receive(p.frames[:n])
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
	// The NIC's transmit engines: fetch what was posted, put it on the
	// wire (the sink's ports place it in their RX rings) and complete it.
	// The NIC has no generator attached, so its round touches nothing of
	// the ingress side.
	m, _ := p.nic.Step() // ErrRunning cannot happen: the NIC is never Started
	moved += m
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

// Step runs Ingress then Egress at now. It must not run while Start's
// goroutines do.
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

// Start runs the ingress and the egress side each on its own goroutine,
// on the monotonic clock, until Stop.
func (p *Pipeline) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if p.running {
		return ErrRunning
	}
	p.running = true
	p.stop = make(chan struct{})
	start := time.Now()
	clock := func() time.Duration { return time.Since(start) }
	p.wg.Add(2)
	go p.loop(p.Ingress, clock)
	go p.loop(p.Egress, clock)
	return nil
}

// Errors of Start and Close.
var (
	ErrRunning = errors.New("pipeline: already running")
	ErrClosed  = errors.New("pipeline: closed")
)

// loop runs one side until Stop, polling as a DPDK driver does, and
// sleeping briefly once several rounds in a row found nothing to do.
func (p *Pipeline) loop(side func(time.Duration) int, clock func() time.Duration) {
	defer p.wg.Done()
	idle := 0
	for i := 0; ; i++ {
		if i&63 == 0 {
			select {
			case <-p.stop:
				return
			default:
			}
		}
		if side(clock()) > 0 {
			idle = 0
			continue
		}
		idle++
		if idle > 64 {
			time.Sleep(20 * time.Microsecond)
			select {
			case <-p.stop:
				return
			default:
			}
		}
	}
}

// Stop ends the goroutines Start started and waits for them. The packets
// in flight stay where they are: Drain moves them on.
func (p *Pipeline) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.running {
		return
	}
	close(p.stop)
	p.wg.Wait()
	p.running = false
}

// Drain stops the traffic and steps both sides, with clock as the time
// (the scheduler's rate caps still apply), until every packet sent is
// accounted for or maxRounds rounds passed with nothing moving; what is
// still held then is given up (Close counts it). It must not run while
// Start's goroutines do. It returns the packets still in flight.
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

// Close stops the pipeline, gives up what is still held (counted by
// reason) and returns every buffer to the pool. It is idempotent.
func (p *Pipeline) Close() error {
	p.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	p.StopTraffic()
	var errs []error
	if err := p.stage.Close(); err != nil {
		errs = append(errs, err)
	}
	if p.off != nil {
		errs = append(errs, p.off.close(&p.cnt, p.outs[p.cfg.Offload.Port].tx.Cache()))
	}
	for _, o := range p.outs {
		o.sched.Release()
		// What the TC rings still hold.
		var buf [burst]descriptor.Packet
		for _, r := range o.rings {
			for r != nil {
				n := r.DequeueBurst(buf[:])
				if n == 0 {
					break
				}
				o.p.cnt.schedDrops.Add(uint64(n))
				if err := o.tx.Cache().PutBulk(bufsOf(buf[:n])); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	errs = append(errs, p.closeRings())
	return errors.Join(errs...)
}

func bufsOf(pkts []descriptor.Packet) []descriptor.Buf {
	bs := make([]descriptor.Buf, len(pkts))
	for i := range pkts {
		bs[i] = pkts[i].Buf
	}
	return bs
}

// closeRings closes every descriptor ring, counting what they dropped.
func (p *Pipeline) closeRings() error {
	var errs []error
	if p.nic != nil {
		for i := range p.nic.Ports() {
			port := p.nic.Port(i)
			for q := range port.Queues() {
				n, err := port.TxRing(q).Close()
				p.cnt.txClosed.Add(uint64(n))
				errs = append(errs, err)
				n, err = port.RxRing(q).Close()
				p.cnt.rxClosed.Add(uint64(n))
				errs = append(errs, err)
			}
		}
	}
	if p.sink != nil {
		for i := range p.sink.Ports() {
			port := p.sink.Port(i)
			n, err := port.RxRing(0).Close()
			p.cnt.rxClosed.Add(uint64(n))
			errs = append(errs, err)
			_, err = port.TxRing(0).Close()
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
