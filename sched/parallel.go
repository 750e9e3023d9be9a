package sched

import (
	"context"
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/ringkit/ringkit/internal/pad"
	"github.com/ringkit/ringkit/internal/wait"
)

// parallel is ModeParallel: the patent's parallel per-class scheduling. A
// coordinator (the goroutine that steps the port) allocates every
// quantum's budget, and workers drain their classes concurrently:
//
//   - Allocation: the coordinator takes back what the classes left of
//     their previous grants (Swap) and what is left in the pool, refills
//     the buckets, and grants each backlogged class bytes: first what it
//     carried over (its deficit, so a packet larger than one grant still
//     goes), then each priority level in turn shares what remains by
//     weighted max-min (water-filling) over the classes' demands, a
//     capped class's demand being at most its tokens. What no class asked
//     for goes to the pool.
//   - Draining: a worker spends its classes' credits with compare-and-swap,
//     a burst at a time. An uncapped class whose credit is short of its
//     head packet claims the difference from the pool (work conservation
//     across workers); a class that empties gives its credit to the pool.
//
// Budget is conserved exactly: each byte is in the port bucket, the pool, a
// class's credit, or spent. Strict priority and weights hold for the
// granted bytes; the pool (what the demand estimates did not ask for) is
// first come, first served among uncapped classes, and a capped class
// never draws on it.
type parallel struct {
	p       *Port
	workers []*worker
	weight  []int64 // per class
	demand  []int64 // coordinator scratch, per class
	grant   []int64 // coordinator scratch, per class
	carry   []int64 // coordinator scratch, per class
	set     []int   // coordinator scratch

	_ pad.Line // coordinator scratch vs pool
	// pool holds budget no class was granted. Add by the coordinator and
	// by workers whose class emptied; claimed by workers with
	// compare-and-swap; taken back by the coordinator with Swap.
	pool atomic.Int64
	_    pad.Line // pool vs whatever follows in memory
}

// worker drains the classes it owns. Its fields are owned by its goroutine
// (or by Step's, when the port is stepped).
type worker struct {
	tcs     []int // owned classes, highest priority first
	em      emitter
	wake    chan struct{} // capacity 1: the coordinator's "new quantum"
	blocked bool          // the last round stopped for credit or for the sink
}

func newParallel(p *Port) *parallel {
	n := len(p.tcs)
	par := &parallel{p: p, weight: make([]int64, n), demand: make([]int64, n),
		grant: make([]int64, n), carry: make([]int64, n), set: make([]int, 0, n)}
	par.workers = make([]*worker, p.cfg.Workers)
	for i := range par.workers {
		par.workers[i] = &worker{em: newEmitter(p.cfg.TxBurst), wake: make(chan struct{}, 1)}
	}
	for _, l := range p.levels {
		for _, i := range l.tcs {
			w := par.workers[i%len(par.workers)]
			w.tcs = append(w.tcs, i)
		}
	}
	for i := range p.tcs {
		par.weight[i] = int64(p.cfg.TCs[i].Weight)
		p.tcs[i].trackAvg = true
	}
	return par
}

// step is one deterministic quantum: allocate, then run every worker's
// round in the calling goroutine.
func (par *parallel) step() int {
	par.allocate()
	sent := 0
	for _, w := range par.workers {
		sent += w.round(par.p, &par.pool)
	}
	return sent
}

// allocate is the coordinator's part of a quantum; the buckets have been
// refilled.
func (par *parallel) allocate() {
	p := par.p
	p.port.tokens += par.pool.Swap(0) // take back the unclaimed rest
	for i := range p.tcs {
		t := &p.tcs[i]
		c := t.credit.Swap(0) // take back the unspent grant; a worker's CAS after this fails
		p.port.tokens += c
		if t.capped {
			t.tb.tokens = min(t.tb.tokens+c, t.tb.depth)
		}
		par.carry[i] = c
		par.grant[i] = 0
		avg := t.avgWire.Load()
		if avg == 0 {
			avg = 64 + t.overhead
		}
		d := t.staged.Load() + int64(t.q.Len())*avg
		if d == 0 {
			par.carry[i] = 0 // an empty class loses its deficit
		}
		if t.capped {
			d = min(d, t.tb.tokens)
		}
		par.demand[i] = d
	}
	p.port.tokens = min(p.port.tokens, p.port.depth)
	budget := p.port.tokens
	for i := range p.tcs {
		g := min(par.carry[i], par.demand[i], budget)
		par.grant[i] += g
		par.demand[i] -= g
		budget -= g
	}
	for li := range p.levels {
		budget = par.waterfill(budget, p.levels[li].tcs)
	}
	for i := range p.tcs {
		t := &p.tcs[i]
		if g := par.grant[i]; g > 0 {
			p.port.tokens -= g
			if t.capped {
				t.tb.tokens -= g
			}
			t.credit.Add(g) // publishes the grant to the class's worker
		}
	}
	p.port.tokens -= budget
	par.pool.Add(budget) // the rest, for any uncapped class that runs short
}

// waterfill shares budget among the classes idx by weighted max-min over
// their demands and returns what is left.
func (par *parallel) waterfill(budget int64, idx []int) int64 {
	s := par.set[:0]
	for _, i := range idx {
		if par.demand[i] > 0 {
			s = append(s, i)
		}
	}
	for len(s) > 0 && budget > 0 {
		var sumW int64
		for _, i := range s {
			sumW += par.weight[i]
		}
		r := budget
		keep := s[:0]
		for _, i := range s {
			if d := par.demand[i]; d <= mulDiv(r, par.weight[i], sumW) {
				par.grant[i] += d
				par.demand[i] = 0
				budget -= d
			} else {
				keep = append(keep, i)
			}
		}
		if len(keep) == len(s) { // nobody is satisfied: everyone gets its share
			for _, i := range s {
				g := mulDiv(r, par.weight[i], sumW)
				par.grant[i] += g
				par.demand[i] -= g
				budget -= g
			}
			break
		}
		s = keep
	}
	return budget
}

// mulDiv returns a×b/c for non-negative a, b and b ≤ c, without overflow.
func mulDiv(a, b, c int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	q, _ := bits.Div64(hi, lo, uint64(c)) // hi < c because b ≤ c
	return int64(q)
}

// round drains the worker's classes as far as their credits, the pool and
// the sink allow, publishes their counters, and returns the packets the
// sink took.
func (w *worker) round(p *Port, pool *atomic.Int64) int {
	w.blocked = false
	sent, ok := w.em.flush(p.send, p.tcs, &p.refused)
	if ok {
		for _, i := range w.tcs {
			n, more := w.drain(p, &p.tcs[i], pool)
			sent += n
			if !more {
				break
			}
		}
		var k int
		k, ok = w.em.flush(p.send, p.tcs, &p.refused)
		sent += k
	}
	if !ok {
		w.blocked = true
	}
	for _, i := range w.tcs {
		p.tcs[i].publish()
	}
	return sent
}

// drain sends from one class while its credit lasts. It returns the
// packets the sink took and false if the sink refused some.
func (w *worker) drain(p *Port, t *tcState, pool *atomic.Int64) (int, bool) {
	em := &w.em
	sent := 0
	for {
		if !t.fill() {
			if c := t.credit.Swap(0); c > 0 {
				pool.Add(c) // an empty class gives its grant to the others
			}
			return sent, true
		}
		if em.full() {
			k, ok := em.flush(p.send, p.tcs, &p.refused)
			sent += k
			if !ok {
				return sent, false
			}
		}
		cr := t.credit.Load()
		var sum int64
		k := 0
		for room := len(em.out) - em.n; k < room && t.head+k < t.n; k++ {
			wb := t.wire(&t.stage[t.head+k])
			if sum+wb > cr {
				break
			}
			sum += wb
		}
		if k == 0 {
			if t.capped || !claim(pool, t.headWire()-cr) {
				w.blocked = true
				return sent, true
			}
			t.credit.Add(t.headWire() - cr) // claimed from the pool
			continue
		}
		if !t.credit.CompareAndSwap(cr, cr-sum) { // the coordinator took the credit back
			continue
		}
		copy(em.out[em.n:], t.stage[t.head:t.head+k])
		for j := range k {
			em.tc[em.n+j] = t.idx
		}
		em.n += k
		t.head += k
	}
}

// claim takes need bytes from the pool if it holds them.
func claim(pool *atomic.Int64, need int64) bool {
	for {
		v := pool.Load()
		if v < need {
			return false
		}
		if pool.CompareAndSwap(v, v-need) {
			return true
		}
	}
}

// run is a worker's goroutine under Port.Run: a round at every quantum the
// coordinator announces, more rounds at once while they make progress, and
// a few polls (wait.Backoff) when a round finds its classes empty, until
// credit or the sink stops it or the polls are spent.
func (w *worker) run(ctx context.Context, p *Port, pool *atomic.Int64, wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		}
		var b wait.Backoff
		for ctx.Err() == nil {
			n := w.round(p, pool)
			if w.blocked {
				break
			}
			if n > 0 {
				b = wait.Backoff{}
			} else if !b.Spin() {
				break
			}
		}
	}
}
