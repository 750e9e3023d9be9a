package sched

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/internal/pad"
)

// ErrRunning is returned by Run when the port is already running.
var ErrRunning = errors.New("sched: port already running")

// Port schedules one output port: it takes packets from the port's
// traffic-class queues and sends them to its Sink at the port's rate,
// sharing every scheduling quantum's byte budget among the classes that
// are backlogged in it.
//
// It runs as every long-running part of ringkit does: Run on the caller's
// goroutine until its context ends or Close; Step, one quantum at a time
// on a clock the caller supplies, for deterministic tests. Step and
// Release must not be called concurrently with each other or with Run;
// Stats may be called from any goroutine at any time. A Port must not be
// copied after first use.
type Port struct {
	_      pad.NoCopy
	cfg    resolved
	tcs    []tcState
	levels []level  // by priority, highest first
	port   bucket   // the port's budget and rate cap; owned by the stepping goroutine
	em     emitter  // ModeSerial output
	send   sendFunc // the Sink or the Tx
	par    *parallel

	started bool // buckets have their time reference
	// blocked is set by a step that stopped for lack of budget or
	// because the sink refused packets; Run then waits for the next
	// quantum instead of stepping again at once.
	blocked bool

	win window

	running atomic.Bool   // set while Run runs; guards against two Runs
	refused atomic.Uint64 // packets the sink refused, per attempt

	// life is cancelled by Close, which then takes runMu (held by Run)
	// to wait for Run's return.
	life      context.Context
	closeLife context.CancelFunc
	runMu     sync.Mutex
}

// level is one strict-priority level: its classes in round-robin order and
// the deficit-round-robin position, as in Shreedhar and Varghese's DRR with
// the quantum added when a class's turn begins (Linux sch_drr). The cursor
// stays on a class while its turn lasts, across Steps, and moves on when
// the turn ends; see next for an idle level.
type level struct {
	tcs     []int // indices into Port.tcs
	cur     int   // position in tcs of the class whose turn it is
	granted bool  // the quantum of the current turn has been added
}

func (l *level) advance() {
	l.cur++
	if l.cur == len(l.tcs) {
		l.cur = 0
	}
	l.granted = false
}

// NewPort validates cfg and returns its port scheduler. An invalid field is
// reported as an error wrapping ErrConfig that names it.
func NewPort(cfg PortConfig) (*Port, error) {
	r, err := validate(cfg)
	if err != nil {
		return nil, err
	}
	p := &Port{cfg: r, tcs: make([]tcState, len(r.TCs))}
	p.life, p.closeLife = context.WithCancel(context.Background())
	p.port = newBucket(r.Rate, r.portDepth)
	byPrio := map[int][]int{}
	for i, c := range r.TCs {
		t := &p.tcs[i]
		t.q = c.Queue
		t.stage = make([]descriptor.Packet, r.TxBurst)
		t.idx = uint8(i)
		t.overhead = r.overhead
		t.limit = r.portDepth
		t.onDrop = r.OnDrop
		t.quantum = int64(c.Weight) * r.drrQuantum
		if c.Rate != 0 {
			t.capped = true
			t.tb = newBucket(c.Rate, r.tcDepth[i])
			t.limit = min(t.limit, r.tcDepth[i])
		}
		byPrio[c.Priority] = append(byPrio[c.Priority], i)
	}
	prios := make([]int, 0, len(byPrio))
	for pr := range byPrio {
		prios = append(prios, pr)
	}
	slices.Sort(prios)
	for li, pr := range prios {
		for _, i := range byPrio[pr] {
			p.tcs[i].level = li
		}
		p.levels = append(p.levels, level{tcs: byPrio[pr]})
	}
	p.em = newEmitter(r.TxBurst)
	if sink := r.Sink; sink != nil {
		p.send = func(pkts []descriptor.Packet) (int, error) { return sink.TransmitBurst(pkts), nil }
	} else {
		p.send = r.Tx.Transmit
	}
	p.win.init(r.Window, len(p.tcs))
	if r.Mode == ModeParallel {
		p.par = newParallel(p)
	}
	return p, nil
}

// Step runs one scheduling quantum at time now (any monotonic clock, as a
// duration since a fixed origin; Run uses the time since the process
// started): it refills the token buckets for the time elapsed since the
// previous Step, schedules what the budget allows, hands it to the Sink,
// and returns the number of packets the Sink took. The first Step only sets
// the time reference: the buckets start empty.
func (p *Port) Step(now time.Duration) int {
	p.refill(now)
	var sent int
	if p.par != nil {
		sent = p.par.step()
	} else {
		sent = p.serve()
		for i := range p.tcs {
			p.tcs[i].publish()
		}
	}
	p.win.advance(now, p.tcs, p.cfg.overhead)
	return sent
}

// refill brings every bucket to time now.
func (p *Port) refill(now time.Duration) {
	if !p.started {
		p.started = true
		p.port.start(now)
		for i := range p.tcs {
			p.tcs[i].tb.start(now)
		}
		p.win.start(now)
		return
	}
	p.port.refill(now)
	for i := range p.tcs {
		if t := &p.tcs[i]; t.capped {
			t.tb.refill(now)
		}
	}
}

// pick returns the class that sends next, or nil when no class may send:
// the first level, in priority order, with a class that has a packet its
// deficit and its cap allow.
func (p *Port) pick() *tcState {
	for li := range p.levels {
		if t := p.next(&p.levels[li]); t != nil {
			return t
		}
	}
	return nil
}

// next runs deficit round robin over one level until a class may send its
// head packet. A class found empty loses its deficit; a class held by its
// cap keeps its deficit and gets no quantum. It returns nil once every
// class of the level has been found empty or capped in a row, with the
// cursor on the class after the one whose turn ended last, which is where
// the next turn begins when packets come back: a class whose turn ends
// because it emptied (or ran into its cap) does not get the next turn too.
func (p *Port) next(l *level) *tcState {
	// start is where the current run of idle classes began; inTurn says
	// the class there was in the middle of its turn.
	var start int
	var inTurn bool
	for idle := 0; idle < len(l.tcs); {
		if idle == 0 {
			start, inTurn = l.cur, l.granted
		}
		t := &p.tcs[l.tcs[l.cur]]
		if !t.fill() {
			t.deficit = 0
			l.advance()
			idle++
			continue
		}
		w := t.headWire()
		if t.capped && w > t.tb.tokens {
			l.advance()
			idle++
			continue
		}
		if !l.granted {
			t.deficit += t.quantum
			l.granted = true
		}
		if w <= t.deficit {
			return t
		}
		l.advance()
		idle = 0
	}
	// The loop went once round the level from start and is back there.
	if inTurn {
		l.cur = start
		l.advance()
	}
	return nil
}

// serve schedules in ModeSerial until the budget, the queues or the sink
// stop it, and returns the packets the sink took.
func (p *Port) serve() int {
	em := &p.em
	p.blocked = false
	sent, ok := em.flush(p.send, p.tcs, &p.refused)
	if !ok {
		p.blocked = true
		return sent
	}
	for {
		t := p.pick()
		if t == nil {
			break
		}
		for {
			// Move the longest run of staged packets that the deficit,
			// the class's tokens and the port's tokens all cover.
			avail := min(t.deficit, p.port.tokens)
			if t.capped {
				avail = min(avail, t.tb.tokens)
			}
			var sum int64
			k := 0
			for room := len(em.out) - em.n; k < room && t.head+k < t.n; k++ {
				w := t.wire(&t.stage[t.head+k])
				if sum+w > avail {
					break
				}
				sum += w
			}
			if k == 0 {
				w := t.headWire()
				if w <= t.deficit && (!t.capped || w <= t.tb.tokens) { // only the port's budget is short
					p.blocked = true
					k, _ := em.flush(p.send, p.tcs, &p.refused)
					return sent + k
				}
				break // the turn or the class's tokens are over
			}
			copy(em.out[em.n:], t.stage[t.head:t.head+k])
			for j := range k {
				em.tc[em.n+j] = t.idx
			}
			em.n += k
			t.head += k
			t.deficit -= sum
			p.port.tokens -= sum
			if t.capped {
				t.tb.tokens -= sum
			}
			if em.full() {
				k, ok := em.flush(p.send, p.tcs, &p.refused)
				sent += k
				if !ok {
					p.blocked = true
					return sent
				}
				break // pick again, so a higher level that became backlogged goes first
			}
			if !t.fill() {
				break
			}
		}
	}
	k, ok := em.flush(p.send, p.tcs, &p.refused)
	p.blocked = !ok
	return sent + k
}

// Release gives up every packet the port holds, staged from its queues or
// refused by its sink, to OnDrop (counted as drops), so that after Run has
// returned no packet handle is held by the port. The queues themselves are
// left as they are. Release must not run concurrently with Step or Run.
func (p *Port) Release() int {
	n := 0
	for i := range p.tcs {
		t := &p.tcs[i]
		for ; t.head < t.n; t.head++ {
			t.drop(t.stage[t.head])
			n++
		}
		t.staged.Store(0)
	}
	ems := []*emitter{&p.em}
	if p.par != nil {
		ems = ems[:0]
		for _, w := range p.par.workers {
			ems = append(ems, &w.em)
		}
	}
	for _, em := range ems {
		for i := range em.n {
			p.tcs[em.tc[i]].drop(em.out[i])
			n++
		}
		em.n = 0
	}
	for i := range p.tcs {
		p.tcs[i].publish()
	}
	return n
}
