package jobring

import (
	"context"
	"fmt"
	"math/bits"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/ringkit/ringkit/internal/hist"
	"github.com/ringkit/ringkit/internal/mem"
	"github.com/ringkit/ringkit/internal/pad"
	"github.com/ringkit/ringkit/internal/tail"
	"github.com/ringkit/ringkit/internal/wait"
)

// Task is one job as a producer submits it.
type Task[J any] struct {
	Kind     Kind
	Flow     uint32 // flow hash: affinity and Atomic ordering are per flow
	Priority uint8  // higher first, for Parallel kinds under Rules.Priority
	Job      J
}

// Completion is one retired job: its position in submission order, what was
// submitted, the result its worker wrote in its slot, and who ran it.
type Completion[J, R any] struct {
	Seq    uint64 // position of the job: the ring's n-th submission has Seq n
	Kind   Kind
	Flow   uint32
	Worker int // index in Config.Workers, or -1 if the ring failed the job itself
	Job    J
	Result R
	Err    error // the worker function's error, or why the job was not run
}

// Func runs one job of kind k and writes its result into res, which is the
// job's own slot (the zero R when the job is handed to the worker).
//
// ctx is the worker's: it is done when StopWorker stops the worker or when
// Shutdown gives up draining the ring. A Do that can take long (a device
// that may hang) should return once ctx is done, with an error wrapping
// ctx.Err(): the job then goes back to the ring for another worker
// (StopWorker), or fails with ErrClosed (Shutdown). A Do that wants a
// deadline per job derives it from ctx (context.WithTimeout).
type Func[J, R any] func(ctx context.Context, k Kind, job *J, res *R) error

// Worker describes one worker the ring starts.
type Worker[J, R any] struct {
	Name  string
	Class Class
	Kinds KindSet // the kinds the worker runs
	// Batch is the most jobs the worker claims at once (default 8 for a
	// core, 32 for a co-processor). A batch above the ring's slot count
	// is cut to it: a worker never holds more jobs than the ring.
	Batch int
	// Do runs one job. For a co-processor it is the device's real work,
	// run on each job of a batch once the batch's modelled time has passed.
	Do Func[J, R]

	// Setup is the co-processor's latency per batch.
	Setup time.Duration
	// NsPerByte is the co-processor's cost per byte, in nanoseconds.
	NsPerByte float64
	// Size returns how many bytes a job moves through the co-processor.
	Size func(k Kind, job *J) int
}

// Config sizes a ring.
type Config[J, R any] struct {
	// Slots is the number of job slots (rounded up to a power of two).
	Slots   int
	Rules   Rules
	Workers []Worker[J, R]
	// CallerRuns makes New start no goroutine: the caller runs each worker
	// on a goroutine it owns with RunWorker, or drives it step by step
	// with StepWorker (deterministic tests, a poll loop of its own). By
	// default New starts one goroutine per worker, which Close ends.
	CallerRuns bool
	// OnRetire, if set, receives retired jobs in submission order, in
	// bursts of at most RetireBurst, on whichever worker goroutine
	// completed the job at the head (calls never overlap). The slice is
	// valid only during the call. It runs on a worker's time: it must not
	// wait on the ring (Submit or SubmitAll on a full ring, RetireWait,
	// StopWorker, Close), as the ring may need that very worker. Without
	// OnRetire, the user retires with Retire or RetireWait, as from
	// io_uring's completion ring.
	OnRetire    func(batch []Completion[J, R])
	RetireBurst int // default 32; a burst above Slots is cut to it
	// SampleEvery sets latency sampling: every SampleEvery-th job is timed
	// from submission to retirement (default 64; 1 times every job; a
	// negative value disables timing).
	SampleEvery int
	// MaxBytes is the most memory the ring may take: its slots (a power
	// of two number of them, each a job, a result, an error and 24 bytes
	// of state), the OnRetire burst, each worker's batch and scan state,
	// and a latency histogram per kind in use. Zero selects
	// DefaultMaxBytes. New refuses a ring that would take more, before
	// allocating anything: Go cannot recover from an allocation the
	// machine cannot serve, and the process would die with "fatal error:
	// out of memory".
	MaxBytes int64
}

// DefaultMaxBytes is the most memory a ring may take unless
// Config.MaxBytes says otherwise: 1 GiB (2^23 slots of 32-byte jobs and
// results take 832 MiB of it).
const DefaultMaxBytes = 1 << 30

const (
	closedBit  = tail.Closed
	flowSlots  = 1024 // entries of the Atomic flow table; flows sharing one are serialized together
	maxCand    = 64   // candidates a worker considers per scan under Rules.Priority
	maxSkipped = 16   // busy flows a scan remembers
)

// Ring is a ring of job slots shared by producers and workers of different
// kinds. Producers submit tasks; each worker claims the slots its rules
// permit, runs the jobs and writes the results into the slots, in any
// order; done jobs are retired strictly in submission order.
//
// Every method may be called from any goroutine. A Ring must not be copied.
type Ring[J, R any] struct {
	_ pad.NoCopy
	_ pad.Line // the previous allocation vs the producer index

	// tail is the next position a producer claims, with closedBit set
	// once the ring is closed. Producers claim [t, t+k) by CAS, so a
	// submission either happens before Close or fails.
	tail atomic.Uint64
	_    pad.Line // producer index vs retire index

	// head is the next position to retire. Only the holder of retiring
	// stores it, after it has freed the slots below it (store-release:
	// producers that load head may refill those slots).
	head atomic.Uint64
	// retiring is the retire lock: a CAS from false takes it, a store of
	// false releases it (publishing head and the freed slots to the next
	// holder). Holders never wait for it; see retireToCallback.
	retiring atomic.Bool
	_        pad.Line // retire index vs the read-mostly fields below

	slots []slot[J, R]
	mask  uint64
	size  uint64

	pol     *Policy
	workers []*worker[J, R]
	// live counts the worker goroutines still running; the one that
	// brings it to zero closes allDone.
	live       atomic.Int32
	allDone    chan struct{}
	callerRuns bool               // Config.CallerRuns: workers run in RunWorker and StepWorker
	retBuf     []Completion[J, R] // OnRetire's burst; owned by the holder of retiring
	onRet      func([]Completion[J, R])
	sample     uint64 // sampling mask+1, 0 when off
	epoch      time.Time
	lat        [MaxKinds]*hist.Histogram
	kstats     [MaxKinds]kindCounters
	// backlog counts the waiting (submitted, unclaimed) jobs of each kind
	// that has a fallback: producers and requeues add, claims and failures
	// subtract. Cores load it to apply the threshold; it is a count, not a
	// hand-over, so it publishes nothing.
	backlog [MaxKinds]atomic.Int64

	_ pad.Line // per-job counters (kstats, backlog) vs roster and gen, read on every claim

	// roster is the set of live workers and what follows from it; it is
	// replaced (under mu) when a worker stops.
	roster atomic.Pointer[roster]
	// gen changes whenever a slot a worker skipped for a lasting reason
	// may have become one it can take: a worker stopped, a job was put
	// back, a fallback threshold was reached. Workers compare it with the
	// value they scanned under and rescan from the head when it moved.
	gen atomic.Uint64
	_   pad.Line // roster and gen vs the flow table, written per Atomic job

	flows [flowSlots]atomic.Uint64 // Atomic flow holders: (worker+1)<<32 | jobs held, 0 when free

	workWait wait.Queue // parked workers; woken by submissions, releases of flows, Close
	prodWait wait.Queue // producers parked for room; woken by retirement
	doneWait wait.Queue // RetireWait callers; woken by completions

	mu        sync.Mutex // serializes roster changes
	aborting  atomic.Bool
	abort     chan struct{} // closed when Shutdown gives up draining
	abortOnce sync.Once
}

// roster is an immutable snapshot of the live workers.
type roster struct {
	live    []bool
	holders [MaxKinds]int     // live workers holding each kind
	takers  [MaxKinds]int     // live workers that may ever take each kind
	aff     [][MaxKinds]int16 // aff[w][k]: w's index among the holders of k, or -1
	cores   int               // live cores: who may retry a job a co-processor failed
}

// New checks cfg, builds the ring and starts its workers.
func New[J, R any](cfg Config[J, R]) (*Ring[J, R], error) {
	r, err := build(cfg)
	if err != nil {
		return nil, err
	}
	r.start()
	return r, nil
}

// build checks cfg and builds the ring at position 0, its workers ready to
// start.
func build[J, R any](cfg Config[J, R]) (*Ring[J, R], error) {
	if cfg.Slots < 1 || cfg.Slots > 1<<30 {
		return nil, fmt.Errorf("%w: Slots = %d (want 1..%d)", ErrConfig, cfg.Slots, 1<<30)
	}
	if len(cfg.Workers) > MaxWorkers {
		return nil, fmt.Errorf("%w: %d workers (at most %d)", ErrConfig, len(cfg.Workers), MaxWorkers)
	}
	pol, err := Compile(cfg.Rules)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	n := uint64(1) << bits.Len64(uint64(cfg.Slots)-1)
	for i, fb := range cfg.Rules.Fallbacks {
		if fb.Threshold > int(n) {
			return nil, fmt.Errorf("%w: Rules.Fallbacks[%d] (kind %d): Threshold %d above the %d slots: the backlog can never reach it", ErrConfig, i, fb.Kind, fb.Threshold, n)
		}
	}
	switch {
	case cfg.MaxBytes == 0:
		cfg.MaxBytes = DefaultMaxBytes
	case cfg.MaxBytes < 0:
		return nil, fmt.Errorf("%w: MaxBytes %d (want 0 for the default, or a positive limit)", ErrConfig, cfg.MaxBytes)
	}
	burst := cfg.RetireBurst
	if burst <= 0 {
		burst = 32
	}
	burst = min(burst, int(n))
	if err := mem.Check(ErrConfig, fmt.Sprintf("a ring of %d slots", n),
		ringBytes(&cfg, n, burst), uint64(cfg.MaxBytes), "Config.MaxBytes"); err != nil {
		return nil, err
	}
	r := &Ring[J, R]{
		slots:   make([]slot[J, R], n),
		mask:    n - 1,
		size:    n,
		pol:     pol,
		onRet:   cfg.OnRetire,
		epoch:   time.Now(),
		abort:   make(chan struct{}),
		allDone: make(chan struct{}),

		callerRuns: cfg.CallerRuns,
	}
	for i := range r.slots {
		r.slots[i].state.Store(word(uint64(i), 0, stFree))
	}
	r.retBuf = make([]Completion[J, R], burst)
	switch {
	case cfg.SampleEvery == 0:
		r.sample = 64
	case cfg.SampleEvery > 0:
		r.sample = uint64(1) << bits.Len64(uint64(cfg.SampleEvery)-1)
	}
	for _, kr := range cfg.Rules.Kinds {
		r.lat[kr.Kind] = new(hist.Histogram)
	}
	for i, ws := range cfg.Workers {
		if ws.Do == nil {
			return nil, fmt.Errorf("%w: worker %d (%q) has no Do", ErrConfig, i, ws.Name)
		}
		if ws.Class > Coprocessor {
			return nil, fmt.Errorf("%w: worker %d (%q): %v", ErrConfig, i, ws.Name, ws.Class)
		}
		if ws.Batch < 0 || ws.Setup < 0 || ws.NsPerByte < 0 {
			return nil, fmt.Errorf("%w: worker %d (%q): negative Batch, Setup or NsPerByte", ErrConfig, i, ws.Name)
		}
		for x := uint64(ws.Kinds); x != 0; x &= x - 1 {
			if k := bits.TrailingZeros64(x); r.lat[k] == nil {
				r.lat[k] = new(hist.Histogram)
			}
		}
		r.workers = append(r.workers, newWorker(r, i, ws))
	}
	live := make([]bool, len(r.workers))
	for i := range live {
		live[i] = true
	}
	r.roster.Store(r.makeRoster(live))
	r.live.Store(int32(len(r.workers)))
	if len(r.workers) == 0 {
		close(r.allDone)
	}
	return r, nil
}

// start starts a goroutine per worker, unless the caller runs them
// (Config.CallerRuns).
func (r *Ring[J, R]) start() {
	if r.callerRuns {
		return
	}
	for _, w := range r.workers {
		w.mode.Store(wRunning)
		go w.run(w.jobCtx)
	}
}

// ringBytes returns the memory New takes for cfg with n slots and an
// OnRetire burst of burst: what Config.MaxBytes bounds.
func ringBytes[J, R any](cfg *Config[J, R], n uint64, burst int) uint64 {
	b := mem.Size(n, uint64(unsafe.Sizeof(slot[J, R]{})))
	b = mem.Add(b, mem.Size(uint64(burst), uint64(unsafe.Sizeof(Completion[J, R]{}))))
	var kinds KindSet
	for _, kr := range cfg.Rules.Kinds {
		kinds |= Kinds(kr.Kind)
	}
	for _, ws := range cfg.Workers {
		kinds |= ws.Kinds
		batch := uint64(batchSize(ws, n))
		each := mem.Add(mem.Add(uint64(unsafe.Sizeof(worker[J, R]{})), mem.Size(batch, 8)), mem.Size(max(batch, maxCand), uint64(unsafe.Sizeof(cand{}))))
		b = mem.Add(b, each)
	}
	return mem.Add(b, mem.Size(uint64(bits.OnesCount64(uint64(kinds))), uint64(unsafe.Sizeof(hist.Histogram{}))))
}

func (r *Ring[J, R]) makeRoster(live []bool) *roster {
	ro := &roster{live: live, aff: make([][MaxKinds]int16, len(r.workers))}
	for i, w := range r.workers {
		for k := range MaxKinds {
			ro.aff[i][k] = -1
			if live[i] && w.seat.Kinds.Has(Kind(k)) {
				ro.aff[i][k] = int16(ro.holders[k])
				ro.holders[k]++
			}
		}
	}
	for i, w := range r.workers {
		if !live[i] {
			continue
		}
		if w.seat.Class == Core {
			ro.cores++
		}
		for k := range MaxKinds {
			if r.pol.CanEverTake(w.seat, Kind(k), ro.holders[k]) {
				ro.takers[k]++
			}
		}
	}
	return ro
}

// Policy returns the compiled rules of the ring.
func (r *Ring[J, R]) Policy() *Policy { return r.pol }

// Cap returns the number of slots.
func (r *Ring[J, R]) Cap() int { return int(r.size) }

// Len returns the number of jobs submitted and not yet retired.
func (r *Ring[J, R]) Len() int {
	h := r.head.Load()
	t := r.tail.Load() &^ closedBit
	return int(min(max(int64(t-h), 0), int64(r.size)))
}

func (r *Ring[J, R]) closed() bool { return tail.IsClosed(&r.tail) }

// TrySubmit submits t if there is a free slot and returns its position;
// ok is false when the ring is full or closed. A job no live worker may take
// is accepted and fails at once with ErrNoWorker, in order, like any other
// result.
func (r *Ring[J, R]) TrySubmit(t Task[J]) (seq uint64, ok bool) {
	for {
		p := r.tail.Load()
		if p&closedBit != 0 {
			return 0, false
		}
		if int64(p-r.head.Load()) >= int64(r.size) {
			if r.tail.Load() == p {
				return 0, false // full: tail = p throughout and head was loaded in between
			}
			continue
		}
		if r.tail.CompareAndSwap(p, p+1) {
			r.publish(p, &t)
			r.afterPublish(p, 1, r.roster.Load()) // loaded after publishing: see afterPublish
			return p, true
		}
	}
}

// SubmitBurst submits as many tasks of ts as there are free slots for, in
// order, and returns the position of the first and how many it submitted
// (0 when the ring is full or closed). It claims the slots with one CAS.
func (r *Ring[J, R]) SubmitBurst(ts []Task[J]) (first uint64, n int) {
	if len(ts) == 0 {
		return 0, 0
	}
	for {
		p := r.tail.Load()
		if p&closedBit != 0 {
			return 0, 0
		}
		used := int64(p - r.head.Load())
		if used < 0 {
			continue // p was stale: head passed it
		}
		k := min(uint64(len(ts)), r.size-min(uint64(used), r.size))
		if k == 0 {
			if r.tail.Load() == p {
				return 0, 0
			}
			continue
		}
		if r.tail.CompareAndSwap(p, p+k) {
			for i := range k {
				r.publish(p+i, &ts[i])
			}
			r.afterPublish(p, k, r.roster.Load())
			return p, int(k)
		}
	}
}

// Submit submits t, waiting for a free slot: it spins briefly, then parks
// until a retirement frees one, the ring closes (ErrClosed) or ctx ends
// (ctx.Err()).
func (r *Ring[J, R]) Submit(ctx context.Context, t Task[J]) (uint64, error) {
	if seq, ok := r.TrySubmit(t); ok {
		return seq, nil
	}
	var seq uint64
	err := wait.Until(ctx, &r.prodWait, func() (bool, error) {
		var ok bool
		if seq, ok = r.TrySubmit(t); ok {
			return true, nil
		}
		if r.closed() {
			return true, ErrClosed
		}
		return false, nil
	})
	return seq, err
}

// SubmitAll submits every task of ts, in order, in as many bursts as room
// allows, waiting for room as Submit does. It returns how many it
// submitted: all of them, or fewer with ErrClosed or ctx.Err(). Jobs of
// other producers may fall between its bursts.
func (r *Ring[J, R]) SubmitAll(ctx context.Context, ts []Task[J]) (int, error) {
	done := 0
	for done < len(ts) {
		err := wait.Until(ctx, &r.prodWait, func() (bool, error) {
			if _, n := r.SubmitBurst(ts[done:]); n > 0 {
				done += n
				return true, nil
			}
			if r.closed() {
				return true, ErrClosed
			}
			return false, nil
		})
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// publish fills the slot of position p, which the caller claimed.
func (r *Ring[J, R]) publish(p uint64, t *Task[J]) {
	s := &r.slots[p&r.mask]
	s.meta.Store(packMeta(t.Kind, t.Priority, t.Flow))
	s.job = t.Job
	s.stamp = 0
	if r.sample != 0 && p&(r.sample-1) == 0 {
		s.stamp = max(int64(time.Since(r.epoch)), 1)
	}
	if r.pol.counted(t.Kind) {
		if r.backlog[t.Kind].Add(1) == int64(r.pol.kinds[t.Kind].threshold) {
			r.gen.Add(1) // the fallback opens: cores must look again at the slots they passed
		}
	}
	s.state.Store(word(p, 0, stSubmitted)) // store-release: publishes meta, stamp and job to workers
}

// afterPublish fails the jobs of [p, p+k) that no live worker may take, and
// wakes the workers. The roster ro was loaded after the slots were claimed;
// a worker that stops publishes its new roster before it looks for such
// jobs, so every job is failed by one side or the other (the CAS decides).
func (r *Ring[J, R]) afterPublish(p, k uint64, ro *roster) {
	failed := false
	for i := range k {
		s := &r.slots[(p+i)&r.mask]
		kind, _, _ := unpackMeta(s.meta.Load())
		if kind >= MaxKinds || ro.takers[kind] == 0 {
			failed = r.failSlot(p+i, ErrNoWorker) || failed
		}
	}
	if failed {
		r.afterDone()
	}
	if r.workWait.Waiting() {
		r.workWait.WakeAll() // a parked worker may be the only one permitted to take these
	}
}

// failSlot fails the submitted job at p with err, if it is still waiting.
func (r *Ring[J, R]) failSlot(p uint64, err error) bool {
	s := &r.slots[p&r.mask]
	if !s.state.CompareAndSwap(word(p, 0, stSubmitted), word(p, ringID, stClaimed)) {
		return false
	}
	kind, _, _ := unpackMeta(s.meta.Load())
	if r.pol.counted(kind) {
		r.backlog[kind].Add(-1)
	}
	s.err = fmt.Errorf("job %d (kind %d): %w", p, kind, err)
	s.state.Store(word(p, ringID, stDone)) // store-release: publishes err to the retirer
	return true
}

// afterDone is called after one or more slots became done: it wakes
// RetireWait, the workers waiting to drain a closed ring, and retires
// through OnRetire.
func (r *Ring[J, R]) afterDone() {
	if r.doneWait.Waiting() {
		r.doneWait.WakeAll()
	}
	if r.closed() && r.workWait.Waiting() {
		r.workWait.WakeAll()
	}
	if r.onRet != nil {
		r.retireToCallback()
	}
}

// drained reports whether every submitted job is done (the workers of a
// closed ring may then exit).
func (r *Ring[J, R]) drained() bool {
	t := r.tail.Load() &^ closedBit
	for p := r.head.Load(); p != t; p++ {
		st := r.slots[p&r.mask].state.Load()
		if wordPos(st) == p&posMask48 && wordState(st) != stDone {
			return false
		}
	}
	return true
}

// Close stops submissions, lets the workers finish every submitted job, and
// returns once every worker goroutine has ended. The results stay in the
// ring for Retire (or have gone to OnRetire). It is Shutdown without a
// deadline: a Do that never returns keeps it waiting.
func (r *Ring[J, R]) Close() error { return r.Shutdown(context.Background()) }

// Shutdown stops submissions and waits for the workers to finish every
// submitted job. If ctx ends first, Shutdown gives up: it cancels the
// context of every Do, the jobs no worker has started fail with ErrClosed
// (as does a job whose Do returns the cancelled context's error; a job
// whose Do returns otherwise keeps its result), and Shutdown returns an
// error wrapping ctx.Err() once the workers have ended, or at once, naming
// them, for the workers still inside a Do that has not returned. Those
// end when their Do returns; a later Close waits for them. Otherwise no
// goroutine of the ring outlives Shutdown. Calling it again waits again
// and returns nil.
func (r *Ring[J, R]) Shutdown(ctx context.Context) error {
	tail.Close(&r.tail)
	r.prodWait.WakeAll()
	r.workWait.WakeAll()
	r.doneWait.WakeAll()
	if r.callerRuns {
		// Workers the caller is not running now never will: they leave,
		// so the ones in RunWorker do not wait for jobs only those could
		// take (those fail with ErrNoWorker).
		for _, w := range r.workers {
			w.endIdle()
		}
	}
	var err error
	select {
	case <-r.allDone:
	case <-ctx.Done():
		err = ctx.Err()
		r.abortOnce.Do(func() {
			r.aborting.Store(true)
			close(r.abort)
			for _, w := range r.workers {
				w.cancel()
			}
		})
		r.workWait.WakeAll()
		if running := r.awaitIdle(); running != "" {
			err = fmt.Errorf("jobring: shutdown: %w; still running: %s", err, running)
		}
	}
	// Every worker has ended, or is in a Do that has not returned. After
	// a drain nothing is waiting; after an abort, the jobs no worker
	// started fail here. Whatever is done has gone to OnRetire by the
	// time Shutdown returns.
	r.failWaiting(ErrClosed)
	if r.onRet != nil {
		r.retireToCallback()
	}
	r.doneWait.WakeAll()
	return err
}

// awaitIdle waits, once the ring is aborting, for every worker goroutine
// to end except those inside a Do, and names those. A worker marks itself
// busy before it checks aborting and calls Do (see process), so one seen
// idle here never starts a Do: it ends without waiting on user code.
func (r *Ring[J, R]) awaitIdle() string {
	var b strings.Builder
	for _, w := range r.workers {
		if p := w.busy.Load(); p != 0 {
			select {
			case <-w.exited:
			default:
				if b.Len() > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "worker %d (%q) in the Do of job %d", w.id, w.spec.Name, p-1)
			}
			continue
		}
		<-w.exited
	}
	return b.String()
}

// failWaiting fails every submitted job in [head, tail) with err, waiting
// for producers that are still filling their slots.
func (r *Ring[J, R]) failWaiting(err error) {
	t := r.tail.Load() &^ closedBit
	failed := false
	for p := r.head.Load(); int64(t-p) > 0; p++ {
		s := &r.slots[p&r.mask]
		var b wait.Backoff
		for {
			st := s.state.Load()
			if wordPos(st) != p&posMask48 || wordState(st) != stFree {
				break
			}
			b.Pause() // the producer of p has claimed it and is filling it
		}
		if r.failSlot(p, err) {
			failed = true
		}
	}
	if failed {
		r.afterDone()
	}
}
