package jobring

import (
	"context"
	"fmt"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringkit/ringkit/internal/wait"
)

// worker is one worker goroutine and its scan state.
type worker[J, R any] struct {
	r    *Ring[J, R]
	id   int
	spec Worker[J, R]
	seat Seat
	max  int // batch size

	stop     chan struct{} // closed by StopWorker
	stopOnce sync.Once
	exited   chan struct{} // closed when the worker has ended (see exit)
	// mode is wIdle, wRunning, wStepping or wEnded. A worker of the
	// ring's own starts wRunning; one the caller runs (Config.CallerRuns)
	// moves between wIdle and wRunning or wStepping, and ends once.
	mode   atomic.Int32
	jobCtx context.Context // the context run and Step pass to Do
	// cancel cancels the context run passes to Do: called by StopWorker,
	// by Shutdown when it gives up, and when run returns.
	cancel context.CancelFunc
	// busy is p+1 while the worker is in the Do of the job at position
	// p, 0 otherwise. The worker stores it before it checks aborting and
	// calls Do (see process); Shutdown loads it after setting aborting,
	// to tell a worker that will end at once from one it cannot wait for.
	busy atomic.Uint64

	// Scan state, owned by the worker goroutine. cursor is a position at
	// or below every slot the worker may still take for a reason that can
	// pass without gen moving (a job not yet published, a busy flow, a
	// job it saw but did not claim); the slots below it were passed for
	// lasting reasons (Decision.Lasting), or are claimed or done.
	gen    uint64
	cursor uint64
	ro     *roster
	cand   []cand
	batch  []uint64
	skip   [maxSkipped]uint32 // flow-table indices found busy in this scan
	nskip  int
	// seen is the set of fallback kinds whose backlog this scan has
	// loaded, into backlog: see scanBacklog. passed is the set of kinds
	// of which a job below the cursor was passed as NotSaturated; claim
	// sets the cursor back to the head when one of them is saturated.
	seen    KindSet
	passed  KindSet
	backlog [MaxKinds]int
	timer   *time.Timer
	kinds   [MaxKinds]uint64 // jobs run per kind, mirrored into stats

	stats workerStats
}

type cand struct {
	p    uint64
	key  uint8 // priority for Parallel jobs under Rules.Priority, else 0
	flow int32 // flow-table index for Atomic jobs, else -1
}

// batchSize returns the batch of a worker described by ws on a ring of n
// slots: Batch, its default, cut to n.
func batchSize[J, R any](ws Worker[J, R], n uint64) int {
	b := ws.Batch
	if b == 0 {
		b = 8
		if ws.Class == Coprocessor {
			b = 32
		}
	}
	return int(min(uint64(b), n))
}

// newWorker returns worker id, ready to run.
func newWorker[J, R any](r *Ring[J, R], id int, ws Worker[J, R]) *worker[J, R] {
	ws.Batch = batchSize(ws, r.size)
	ctx, cancel := context.WithCancel(context.Background())
	w := &worker[J, R]{
		r: r, id: id, spec: ws,
		seat:   Seat{Class: ws.Class, Kinds: ws.Kinds},
		max:    ws.Batch,
		stop:   make(chan struct{}),
		exited: make(chan struct{}),
		batch:  make([]uint64, ws.Batch),
		gen:    ^uint64(0),
		jobCtx: ctx,
		cancel: cancel,
	}
	w.cand = make([]cand, max(ws.Batch, maxCand))
	return w
}

// StopWorker stops worker id (its index in Config.Workers) and returns once
// it has ended: its goroutine, or the RunWorker running it (a worker the
// caller runs and nobody is running ends at once). It cancels the context of the Do the worker is
// running: the job finishes, or, if Do returns an error once its context
// is cancelled, it goes back to the ring as the jobs the worker has
// claimed and not started do, for other permitted workers, or fails with
// ErrWorkerStopped if no live worker may take it. Waiting jobs that only
// the worker could take fail with ErrNoWorker, as do later submissions of
// kinds no live worker may take. Stopping a stopped worker does nothing.
// A Do that ignores its context and never returns makes StopWorker wait
// forever, and so does a call from Do or OnRetire running on the worker
// being stopped.
func (r *Ring[J, R]) StopWorker(id int) error {
	if id < 0 || id >= len(r.workers) {
		return fmt.Errorf("%w: %d (have %d)", ErrUnknownWorker, id, len(r.workers))
	}
	w := r.workers[id]
	w.stopOnce.Do(func() { close(w.stop) })
	w.cancel()
	r.workWait.WakeAll()
	if r.callerRuns {
		w.endIdle() // a worker no RunWorker runs ends here
	}
	<-w.exited
	return nil
}

func (w *worker[J, R]) stopping() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

// Worker modes.
const (
	wIdle int32 = iota
	wRunning
	wStepping
	wEnded
)

// exit ends the worker for good: its Do context is cancelled, StopWorker's
// wait is over, and the last worker to end lets Shutdown go on.
func (w *worker[J, R]) exit() {
	w.mode.Store(wEnded)
	w.cancel()
	close(w.exited)
	if w.r.live.Add(-1) == 0 {
		close(w.r.allDone)
	}
}

// endIdle ends a worker the caller runs that no RunWorker or StepWorker
// is running: it leaves the roster as a stopped worker does. It waits out
// a StepWorker in progress, and leaves a running worker to its RunWorker.
func (w *worker[J, R]) endIdle() {
	for {
		switch w.mode.Load() {
		case wIdle:
			if w.mode.CompareAndSwap(wIdle, wEnded) {
				w.leave(nil)
				w.exit()
				return
			}
		case wStepping:
			runtime.Gosched() // a step is one batch: it ends soon
		default:
			return
		}
	}
}

// RunWorker runs worker id on the calling goroutine, for a ring made with
// Config.CallerRuns: it takes and runs jobs as the ring's own worker
// goroutines do, parking when there are none, until StopWorker stops it or
// the ring is closed and every job is done (it returns nil), or ctx ends
// (the worker stops as StopWorker stops it, and RunWorker returns
// ctx.Err()). A worker ends once: RunWorker on an ended worker returns
// ErrWorkerStopped, or ErrClosed after Close; on a worker another call is
// running, ErrWorkerBusy. Close waits for every RunWorker to return.
func (r *Ring[J, R]) RunWorker(ctx context.Context, id int) error {
	w, err := r.callerWorker(id, wRunning)
	if err != nil {
		return err
	}
	stopped := context.AfterFunc(ctx, func() {
		w.stopOnce.Do(func() { close(w.stop) })
		w.cancel()
		r.workWait.WakeAll()
	})
	w.run(w.jobCtx)
	if !stopped() {
		return ctx.Err() // ctx ended and stopped the worker
	}
	return nil
}

// StepWorker makes worker id of a ring made with Config.CallerRuns take one
// batch of the jobs its rules permit and run them on the calling goroutine,
// without waiting: it returns how many jobs it took, 0 when none was
// waiting for it. Once the worker has ended it returns ErrWorkerStopped,
// or ErrClosed when the ring is closed and every job is done; on a worker
// another call is running, ErrWorkerBusy. Jobs that only a stepped worker
// may take keep Close waiting only until Close ends the worker: they then
// fail with ErrNoWorker.
func (r *Ring[J, R]) StepWorker(id int) (int, error) {
	w, err := r.callerWorker(id, wStepping)
	if err != nil {
		return 0, err
	}
	if w.stopping() || r.aborting.Load() {
		w.leave(nil)
		w.exit()
		return 0, ErrWorkerStopped
	}
	n := w.claim()
	if n > 0 && !w.process(w.jobCtx, n) {
		w.exit() // stopped or panicked during the batch; process left
		return n, ErrWorkerStopped
	}
	if n == 0 && r.closed() && r.drained() {
		w.exit()
		return 0, ErrClosed
	}
	w.mode.Store(wIdle)
	return n, nil
}

// callerWorker moves worker id from idle to mode for RunWorker or
// StepWorker.
func (r *Ring[J, R]) callerWorker(id int, mode int32) (*worker[J, R], error) {
	if !r.callerRuns {
		return nil, fmt.Errorf("%w: the ring runs its workers on goroutines of its own (set Config.CallerRuns to run them yourself)", ErrConfig)
	}
	if id < 0 || id >= len(r.workers) {
		return nil, fmt.Errorf("%w: %d (have %d)", ErrUnknownWorker, id, len(r.workers))
	}
	w := r.workers[id]
	if w.mode.CompareAndSwap(wIdle, mode) {
		if w.timer == nil {
			w.timer = time.NewTimer(time.Hour)
			w.timer.Stop()
		}
		return w, nil
	}
	switch w.mode.Load() {
	case wEnded:
		if r.closed() {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("worker %d (%q): %w", id, w.spec.Name, ErrWorkerStopped)
	default:
		return nil, fmt.Errorf("worker %d (%q): %w", id, w.spec.Name, ErrWorkerBusy)
	}
}

func (w *worker[J, R]) run(ctx context.Context) {
	r := w.r
	defer w.exit()
	if w.timer == nil {
		w.timer = time.NewTimer(time.Hour)
		w.timer.Stop()
	}
	for {
		if w.stopping() || r.aborting.Load() {
			w.leave(nil)
			return
		}
		n := w.claim()
		if n == 0 {
			if r.closed() && r.drained() {
				return
			}
			// Park until a submission, a released flow, a stop or the
			// end; a stop is seen at the top of the loop.
			_ = wait.UntilClosed(&r.workWait, w.stop, func() (bool, error) {
				if n = w.claim(); n > 0 {
					return true, nil
				}
				return w.stopping() || r.aborting.Load() || r.closed() && r.drained(), nil
			})
		}
		if n > 0 && !w.process(ctx, n) {
			return
		}
	}
}

// claim looks for jobs the rules let this worker take, from its cursor to
// the tail, and claims up to a batch of them. It returns how many it
// claimed, in w.batch.
func (w *worker[J, R]) claim() int {
	r := w.r
	if g := r.gen.Load(); g != w.gen {
		w.gen, w.ro, w.cursor, w.passed = g, r.roster.Load(), r.head.Load(), 0
	}
	if !w.ro.live[w.id] {
		return 0
	}
	w.seen = 0
	if w.passed != 0 {
		w.recheckPassed()
	}
	h := r.head.Load()
	if int64(w.cursor-h) < 0 {
		w.cursor = h
	}
	// The scan walks [cursor, t) and ends at p == t because the cursor is
	// never past t: it is a head loaded before t, or where an earlier scan
	// stopped, at most that scan's tail. Positions only grow (tail by the
	// producers' CAS, head by retirement) and head never passes tail, so a
	// tail loaded after them is at or above each, and the scan is at most
	// t-h long: the slots, plus what retirement freed between the two
	// loads. Nothing else may move head or tail: moving both under a
	// running worker, between its two loads, would send its scan across
	// up to 2^64 positions, so NewAt (tests) sets them before the workers
	// start.
	t := r.tail.Load() &^ closedBit
	prio := r.pol.priority
	limit := w.max
	if prio {
		limit = len(w.cand)
	}
	w.nskip = 0
	nc := 0
	stuck := t   // lowest position that must be looked at again
	gap := false // a slot before p is claimed by a producer and not yet published
	p := w.cursor
	for ; p != t && nc < limit; p++ {
		s := &r.slots[p&r.mask]
		st := s.state.Load()
		if wordPos(st) != p&posMask48 {
			continue // retired since the scan began
		}
		switch wordState(st) {
		case stFree: // its producer is filling it
			stuck = min(stuck, p)
			gap = true
			continue
		case stClaimed, stDone:
			continue
		}
		m := s.meta.Load()
		k, pr, flow := unpackMeta(m)
		fi := int32(-1)
		kp := &r.pol.kinds[k%MaxKinds]
		if gap && kp.order != Parallel {
			// A job before this one is not published yet and may be of
			// the same kind and flow: taking this one now could start it
			// first.
			stuck = min(stuck, p)
			continue
		}
		if kp.order == Atomic {
			fi = int32(flowIndex(flow))
		}
		d := w.decide(k, flow, fi, m&metaRetry != 0)
		if d != Take {
			if !d.Lasting() {
				stuck = min(stuck, p)
			} else if d == NotSaturated {
				w.passed |= 1 << k
			}
			continue
		}
		key := uint8(0)
		if prio && kp.order == Parallel {
			key = pr
		}
		w.cand[nc] = cand{p: p, key: key, flow: fi}
		nc++
	}
	stuck = min(stuck, p)
	if prio && nc > 1 {
		sortCands(w.cand[:nc])
	}
	n := 0
	for i := range nc {
		c := &w.cand[i]
		if n == w.max {
			stuck = min(stuck, c.p)
			continue
		}
		if c.flow >= 0 && (w.skipped(c.flow) || !w.lockFlow(c.flow)) {
			// The flow is held elsewhere, or an earlier job of it was
			// passed over in this scan: a later one must not start first.
			stuck = min(stuck, c.p)
			continue
		}
		s := &r.slots[c.p&r.mask]
		if !s.state.CompareAndSwap(word(c.p, 0, stSubmitted), word(c.p, w.id, stClaimed)) {
			if c.flow >= 0 {
				w.unlockFlow(c.flow)
			}
			continue // another worker took it, or it was failed
		}
		if k := Kind(s.meta.Load()); r.pol.counted(k) {
			r.backlog[k].Add(-1)
		}
		w.batch[n] = c.p
		n++
	}
	w.cursor = stuck
	return n
}

// recheckPassed loads the backlog of the kinds in passed for this scan, and
// sets the cursor back to the head if one of them has reached its
// threshold: the jobs of that kind the cursor passed may now be taken, and
// they must be met before the later jobs of their flows. A backlog that
// reaches the threshold also moves gen, but a scan that loaded gen just
// before the move could otherwise take a later job while an earlier one
// of its flow lies behind the cursor. Kinds not in passed need no check:
// no job of theirs behind the cursor waits for the fallback.
func (w *worker[J, R]) recheckPassed() {
	for x := uint64(w.passed); x != 0; x &= x - 1 {
		k := Kind(bits.TrailingZeros64(x))
		if w.r.pol.Decide(w.seat, k, 0, View{Holders: w.ro.holders[k], Backlog: w.scanBacklog(k)}) != NotSaturated {
			w.cursor, w.passed = w.r.head.Load(), 0
			return
		}
	}
}

// decide applies the rules to the job of kind k and flow f (flow-table
// index fi, or -1 if k is not Atomic), which retry says a co-processor
// failed (Fallback.Retry).
func (w *worker[J, R]) decide(k Kind, flow uint32, fi int32, retry bool) Decision {
	r, ro := w.r, w.ro
	if k >= MaxKinds {
		return NoCapability
	}
	v := View{AffIndex: int(ro.aff[w.id][k]), AffCount: ro.holders[k], Holders: ro.holders[k], Retry: retry}
	if r.pol.kinds[k].fallback && !w.seat.Kinds.Has(k) {
		v.Backlog = w.scanBacklog(k)
	}
	if fi >= 0 {
		v.FlowBusy = w.flowBusy(fi)
	}
	return r.pol.Decide(w.seat, k, flow, v)
}

// scanBacklog returns the backlog of fallback kind k as this scan sees it:
// loaded once per scan (at the first job of k the scan decides on, or by
// claim for the kinds in passed) and the same for every later job of k in
// the scan, so that the fallback gives every job of k in one scan the same
// verdict.
func (w *worker[J, R]) scanBacklog(k Kind) int {
	if !w.seen.Has(k) {
		w.seen |= 1 << k
		w.backlog[k] = int(w.r.backlog[k].Load())
	}
	return w.backlog[k]
}

// sortCands orders candidates by key, highest first, keeping submission
// order among equal keys (insertion sort: a scan yields at most maxCand).
func sortCands(cs []cand) {
	for i := 1; i < len(cs); i++ {
		c := cs[i]
		j := i
		for ; j > 0 && cs[j-1].key < c.key; j-- {
			cs[j] = cs[j-1]
		}
		cs[j] = c
	}
}

func flowIndex(flow uint32) uint32 { return (flow * 0x9E3779B1) >> (32 - 10) }

// flowBusy reports whether another worker holds flow-table entry fi, or
// this scan already passed a job of it (so that jobs of one flow start in
// order).
func (w *worker[J, R]) flowBusy(fi int32) bool {
	if w.skipped(fi) {
		return true
	}
	v := w.r.flows[fi].Load()
	if v == 0 || v>>32 == uint64(w.id+1) {
		return false
	}
	if w.nskip < len(w.skip) {
		w.skip[w.nskip] = uint32(fi)
		w.nskip++
	}
	return true
}

// skipped reports whether this scan passed over a job of entry fi. When
// the list is full every flow counts as passed over, which only delays jobs.
func (w *worker[J, R]) skipped(fi int32) bool {
	if w.nskip == len(w.skip) {
		return true
	}
	for _, s := range w.skip[:w.nskip] {
		if s == uint32(fi) {
			return true
		}
	}
	return false
}

// lockFlow takes (or, if this worker holds it, takes again) entry fi.
// Only the holder writes a non-zero entry; others CAS it from zero.
func (w *worker[J, R]) lockFlow(fi int32) bool {
	l := &w.r.flows[fi]
	me := uint64(w.id+1) << 32
	v := l.Load()
	switch {
	case v == 0:
		if l.CompareAndSwap(0, me|1) {
			return true
		}
	case v&^(1<<32-1) == me:
		l.Store(v + 1)
		return true
	}
	if w.nskip < len(w.skip) {
		w.skip[w.nskip] = uint32(fi)
		w.nskip++
	}
	return false
}

// unlockFlow releases one hold of entry fi, waking the workers that may
// have passed jobs of it when the last hold goes.
func (w *worker[J, R]) unlockFlow(fi int32) {
	l := &w.r.flows[fi]
	v := l.Load()
	if v&(1<<32-1) > 1 {
		l.Store(v - 1)
		return
	}
	l.Store(0) // store-release: the flow's jobs may now be claimed by others
	if w.r.workWait.Waiting() {
		w.r.workWait.WakeAll()
	}
}

// process runs the claimed batch. It returns false if the worker stopped
// (it has then handed its unfinished jobs back and left the roster) or the
// ring aborted.
func (w *worker[J, R]) process(ctx context.Context, n int) bool {
	r := w.r
	batch := w.batch[:n]
	start := time.Now()
	if w.spec.Class == Coprocessor {
		if !w.model(batch) {
			w.leave(batch)
			return false
		}
	}
	ran := 0
	var touched KindSet // kinds whose counts record publishes
	defer func() { w.publishKinds(touched) }()
	stop := func(rest []uint64) bool {
		w.record(start, ran, n)
		r.afterDone()
		w.leave(rest)
		return false
	}
	for i, p := range batch {
		if i > 0 && w.stopping() {
			return stop(batch[i:])
		}
		// busy is stored before aborting is loaded: a Shutdown that set
		// aborting and then saw busy 0 knows this worker will not call Do.
		w.busy.Store(p + 1)
		if r.aborting.Load() {
			w.busy.Store(0)
			return stop(batch[i:])
		}
		s := &r.slots[p&r.mask]
		m := s.meta.Load()
		k, _, flow := unpackMeta(m)
		err, panicked := w.call(ctx, k, s)
		w.busy.Store(0)
		if err != nil && !panicked && ctx.Err() != nil {
			if w.stopping() {
				// StopWorker interrupted the job: it goes back to the
				// ring with the jobs not started.
				return stop(batch[i:])
			}
			err = fmt.Errorf("job %d (kind %d), worker %q: %w: %w", p, k, w.spec.Name, ErrClosed, err)
		}
		kp := &r.pol.kinds[k%MaxKinds]
		if kp.order == Atomic {
			w.unlockFlow(int32(flowIndex(flow)))
		}
		w.kinds[k%MaxKinds]++
		touched |= 1 << (k % MaxKinds)
		ran++
		if err != nil {
			w.stats.failed.Add(1)
		}
		if err != nil && !panicked && kp.retry && w.spec.Class == Coprocessor && m&metaRetry == 0 && w.retry(p, s, m) {
			continue
		}
		s.err = err
		s.state.Store(word(p, w.id, stDone)) // store-release: publishes res and err to the retirer
		if panicked {
			return stop(batch[i+1:])
		}
	}
	w.record(start, ran, n)
	r.afterDone()
	return true
}

// retry hands the job at p, whose Do failed on this co-processor, back to
// the ring marked for a core (Fallback.Retry), if a live core can take it.
// The caller has released its flow.
func (w *worker[J, R]) retry(p uint64, s *slot[J, R], m uint64) bool {
	r := w.r
	if r.roster.Load().cores == 0 {
		return false
	}
	var zero R
	s.res, s.err = zero, nil
	s.meta.Store(m | metaRetry)
	if k := Kind(m); r.pol.counted(k) {
		r.backlog[k].Add(1)
	}
	w.stats.retried.Add(1)
	s.state.Store(word(p, 0, stSubmitted)) // store-release: back to the ring, with its meta
	r.gen.Add(1)                           // cores may have passed the slot for good: rescan
	if r.workWait.Waiting() {
		r.workWait.WakeAll()
	}
	return true
}

// call runs Do on the job in s, turning a panic into ErrPanic.
func (w *worker[J, R]) call(ctx context.Context, k Kind, s *slot[J, R]) (err error, panicked bool) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: worker %q: %v", ErrPanic, w.spec.Name, v)
			panicked = true
		}
	}()
	return w.spec.Do(ctx, k, &s.job, &s.res), false
}

// yieldWaitMax is the longest modelled time waited out by yielding rather
// than parking on a timer.
const yieldWaitMax = time.Millisecond

// model waits out a co-processor batch's modelled time, setup latency plus
// cost per byte: parked on a timer, or for less than yieldWaitMax by
// yielding the processor until it has passed. It returns false if the worker was stopped or the
// ring aborted meanwhile.
func (w *worker[J, R]) model(batch []uint64) bool {
	d := w.spec.Setup
	if w.spec.NsPerByte > 0 && w.spec.Size != nil {
		bytes := 0
		for _, p := range batch {
			s := &w.r.slots[p&w.r.mask]
			bytes += w.spec.Size(Kind(s.meta.Load()), &s.job)
		}
		d += time.Duration(float64(bytes) * w.spec.NsPerByte)
	}
	if d <= 0 {
		return true
	}
	if d < yieldWaitMax {
		// A parked goroutine's timer fires with about a millisecond of
		// slack, far more than a device's microseconds of latency, so a
		// short modelled time is waited out by yielding the processor:
		// other goroutines run meanwhile, and the wait ends on time.
		start := time.Now()
		for time.Since(start) < d {
			if w.stopping() || w.r.aborting.Load() {
				return false
			}
			runtime.Gosched()
		}
		return true
	}
	w.timer.Reset(d)
	select {
	case <-w.timer.C:
		return true
	case <-w.stop:
	case <-w.r.abort:
	}
	w.timer.Stop()
	return false
}

// publishKinds copies the worker's per-kind counts of the kinds in ks to
// its stats, once per batch rather than once per job.
func (w *worker[J, R]) publishKinds(ks KindSet) {
	for x := uint64(ks); x != 0; x &= x - 1 {
		k := bits.TrailingZeros64(x)
		w.stats.kind[k].Store(w.kinds[k])
	}
}

func (w *worker[J, R]) record(start time.Time, ran, claimed int) {
	w.stats.busy.Add(int64(time.Since(start)))
	w.stats.jobs.Add(uint64(ran))
	w.stats.batches.Add(1)
	w.stats.batchHist[batchBucket(claimed)].Add(1)
	if m := uint64(claimed); m > w.stats.batchMax.Load() {
		w.stats.batchMax.Store(m)
	}
}

// leave takes the worker out of the roster and hands back its claimed,
// unstarted jobs: to the ring if some live worker may take them, else
// failed with ErrWorkerStopped (ErrClosed when Shutdown gave up). It
// also fails waiting jobs that no live worker may take any more.
func (w *worker[J, R]) leave(unstarted []uint64) {
	r := w.r
	w.stats.stopped.Store(true)
	if r.aborting.Load() {
		// Shutdown gave up: the roster no longer matters, and Shutdown
		// fails every waiting job with ErrClosed once the workers end.
		for _, p := range unstarted {
			s := &r.slots[p&r.mask]
			k, _, flow := unpackMeta(s.meta.Load())
			if r.pol.kinds[k%MaxKinds].order == Atomic {
				w.unlockFlow(int32(flowIndex(flow)))
			}
			s.err = fmt.Errorf("job %d (kind %d), worker %q: %w", p, k, w.spec.Name, ErrClosed)
			s.state.Store(word(p, w.id, stDone))
		}
		if len(unstarted) > 0 {
			r.afterDone()
		}
		return
	}
	r.mu.Lock()
	old := r.roster.Load()
	if old.live[w.id] {
		live := append([]bool(nil), old.live...)
		live[w.id] = false
		r.roster.Store(r.makeRoster(live))
	}
	r.mu.Unlock()
	ro := r.roster.Load()
	failed := false
	for _, p := range unstarted {
		s := &r.slots[p&r.mask]
		k, _, flow := unpackMeta(s.meta.Load())
		if r.pol.kinds[k%MaxKinds].order == Atomic {
			w.unlockFlow(int32(flowIndex(flow)))
		}
		if k < MaxKinds && ro.takers[k] > 0 && (s.meta.Load()&metaRetry == 0 || ro.cores > 0) {
			var zero R
			s.res, s.err = zero, nil
			if r.pol.counted(k) {
				r.backlog[k].Add(1)
			}
			w.stats.requeued.Add(1)
			s.state.Store(word(p, 0, stSubmitted)) // store-release: back to the ring
			continue
		}
		s.err = fmt.Errorf("job %d (kind %d), worker %q: %w", p, k, w.spec.Name, ErrWorkerStopped)
		s.state.Store(word(p, w.id, stDone))
		failed = true
	}
	r.gen.Add(1) // cursors are stale: jobs came back and affinity moved
	t := r.tail.Load() &^ closedBit
	for p := r.head.Load(); int64(t-p) > 0; p++ {
		s := &r.slots[p&r.mask]
		st := s.state.Load()
		if wordPos(st) != p&posMask48 || wordState(st) != stSubmitted {
			continue
		}
		m := s.meta.Load()
		if k := Kind(m); k >= MaxKinds || ro.takers[k] == 0 || m&metaRetry != 0 && ro.cores == 0 {
			failed = r.failSlot(p, ErrNoWorker) || failed
		}
	}
	if failed {
		r.afterDone()
	}
	r.workWait.WakeAll()
}
