package jobring

import (
	"context"
	"runtime"
	"time"

	"github.com/ringkit/ringkit/internal/wait"
)

// Retire moves the done jobs at the head of the ring, in submission order,
// into dst, frees their slots, and returns how many it moved: at most
// len(dst), and 0 if the oldest job is not done yet. It never waits. One
// goroutine retires at a time; a call made while another is retiring
// returns 0. A job's completion by its worker synchronizes before the
// Retire that returns it.
func (r *Ring[J, R]) Retire(dst []Completion[J, R]) int {
	if len(dst) == 0 || !r.headDone() || !r.retiring.CompareAndSwap(false, true) {
		return 0 // nothing to retire (checked without writing: pollers spin here), or busy
	}
	n := r.retireLocked(dst)
	r.retiring.Store(false)
	if n < len(dst) && r.headDone() && r.doneWait.Waiting() {
		r.doneWait.WakeAll() // a completion came while this call held retiring
	}
	return n
}

// RetireWait is Retire that waits for at least one done job at the head: it
// spins briefly, then parks until a job completes, ctx ends (ctx.Err()), or
// the ring is closed with every job retired (ErrClosed). With an empty dst
// it returns 0 at once: there is no room to retire into.
func (r *Ring[J, R]) RetireWait(ctx context.Context, dst []Completion[J, R]) (int, error) {
	if n := r.Retire(dst); n > 0 || len(dst) == 0 {
		return n, nil
	}
	var n int
	err := wait.Until(ctx, &r.doneWait, func() (bool, error) {
		for {
			if n = r.Retire(dst); n > 0 {
				return true, nil
			}
			if r.closed() && r.head.Load() == r.tail.Load()&^closedBit {
				return true, ErrClosed
			}
			if !r.headDone() {
				return false, nil
			}
			// The head is done and another goroutine is retiring it:
			// look again at once rather than park behind it.
			runtime.Gosched()
		}
	})
	return n, err
}

// headDone reports whether the oldest job is done.
func (r *Ring[J, R]) headDone() bool {
	h := r.head.Load()
	st := r.slots[h&r.mask].state.Load()
	return wordPos(st) == h&posMask48 && wordState(st) == stDone && h != r.tail.Load()&^closedBit
}

// retireToCallback retires into OnRetire until the head is not done. The
// goroutine that wins retiring does the work; one that loses leaves it to
// the winner, which looks at the head again after letting go, so a job
// completed meanwhile is never left behind.
func (r *Ring[J, R]) retireToCallback() {
	for {
		if !r.retiring.CompareAndSwap(false, true) {
			return
		}
		for {
			n := r.retireLocked(r.retBuf)
			if n == 0 {
				break
			}
			r.onRet(r.retBuf[:n])
			clear(r.retBuf[:n])
		}
		r.retiring.Store(false)
		if !r.headDone() {
			return
		}
	}
}

// retireLocked moves done jobs from the head into dst; the caller holds
// retiring.
func (r *Ring[J, R]) retireLocked(dst []Completion[J, R]) int {
	h := r.head.Load()
	t := r.tail.Load() &^ closedBit
	var now int64
	// Retirement counts are added per run of one kind, not per job.
	runKind, runDone, runFailed := Kind(0), uint64(0), uint64(0)
	n := 0
	for n < len(dst) && h != t {
		s := &r.slots[h&r.mask]
		st := s.state.Load() // load-acquire: pairs with the worker's store of done
		if wordPos(st) != h&posMask48 || wordState(st) != stDone {
			break
		}
		k, _, flow := unpackMeta(s.meta.Load())
		c := &dst[n]
		c.Seq, c.Kind, c.Flow = h, k, flow
		c.Worker = wordWorker(st)
		if c.Worker == ringID {
			c.Worker = -1
		}
		c.Job, c.Result, c.Err = s.job, s.res, s.err
		if k < MaxKinds {
			if k != runKind {
				r.flushCounts(runKind, runDone, runFailed)
				runKind, runDone, runFailed = k, 0, 0
			}
			if s.err != nil {
				runFailed++
			} else {
				runDone++
			}
			if s.stamp != 0 && r.lat[k] != nil {
				if now == 0 {
					now = int64(time.Since(r.epoch))
				}
				r.lat[k].Record(now - s.stamp)
			}
		}
		var zj J
		var zr R
		s.job, s.res, s.err = zj, zr, nil
		s.state.Store(word(h+r.size, 0, stFree)) // store-release: the slot is free for position h+size
		h++
		n++
	}
	r.flushCounts(runKind, runDone, runFailed)
	if n > 0 {
		r.head.Store(h) // store-release: producers may refill the freed slots
		if r.prodWait.Waiting() {
			r.prodWait.WakeAll()
		}
	}
	return n
}

// flushCounts adds a run of retirements of kind k to its counters.
func (r *Ring[J, R]) flushCounts(k Kind, done, failed uint64) {
	if done != 0 {
		r.kstats[k].done.Add(done)
	}
	if failed != 0 {
		r.kstats[k].failed.Add(failed)
	}
}
