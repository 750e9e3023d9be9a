// Package stress runs many producers and consumers against a queue and
// checks what comes out: every element exactly once, and each producer's
// elements in the order it sent them as seen by every consumer.
//
// The queue is given as functions, so any ring (or a channel, or a fake)
// can be tested. Elements carry their producer and sequence number (see
// Encode), so the checker needs one bit per element and no copy of the
// traffic, in the manner of gVisor's twin seeded generators:
//
//	stats := stress.Run(t, stress.Config{Producers: 16, Consumers: 16, PerProducer: n},
//		stress.Queue[uint64]{
//			TryEnqueue:   r.TryEnqueue,
//			TryDequeue:   r.TryDequeue,
//			EnqueueBurst: r.EnqueueBurst,
//			DequeueBurst: r.DequeueBurst,
//		})
//
// Producers and consumers are goroutines; there may be many more of them
// than GOMAXPROCS. Each one picks, at random for every step, one of the
// operations the Queue offers (single, burst, bulk or blocking), so one run
// mixes them all. A failed try (queue full or empty) yields the processor
// and tries again.
package stress

import (
	"context"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Queue is the queue under test, as functions over its element type T.
// Each operation that is set joins the mix; at least one enqueue and one
// dequeue operation must be set (Enqueue and Dequeue alone give a run of
// blocking operations only). The harness calls producer functions from
// Config.Producers goroutines at once and consumer functions from
// Config.Consumers goroutines at once, never more.
type Queue[T any] struct {
	// TryEnqueue adds one element and reports whether it did.
	TryEnqueue func(v T) bool
	// TryDequeue takes one element; ok is false when there is none.
	TryDequeue func() (v T, ok bool)

	// EnqueueBurst adds a prefix of src and returns its length.
	EnqueueBurst func(src []T) int
	// DequeueBurst fills a prefix of dst and returns its length.
	DequeueBurst func(dst []T) int
	// EnqueueBulk adds all of src or nothing.
	EnqueueBulk func(src []T) bool
	// DequeueBulk fills all of dst or takes nothing.
	DequeueBulk func(dst []T) bool
	// Enqueue waits for room. The harness cancels ctx when the run ends
	// (every element received, a failure, or the timeout); any other
	// error is a failure.
	Enqueue func(ctx context.Context, v T) error
	// Dequeue waits for an element, as Enqueue waits for room.
	Dequeue func(ctx context.Context) (T, error)

	// Len, if set, is checked to lie in [0, Cap] (when Cap > 0) at random
	// moments of the run and to be 0 once every element was received.
	Len func() int
	// Cap is the queue's capacity, used only with Len.
	Cap int

	// Encode and Decode convert between the harness's uint64 values and T.
	// Decode(Encode(v)) must be v. Both may be left nil when T is uint64.
	Encode func(v uint64) T
	// Decode is the inverse of Encode.
	Decode func(v T) uint64
}

// Config sizes a run. The zero value of each field selects its default.
// Pass a smaller PerProducer under testing.Short (see N).
type Config struct {
	// Producers is the number of producer goroutines (default 1).
	Producers int
	// Consumers is the number of consumer goroutines (default 1).
	Consumers int
	// PerProducer is the number of elements each producer sends
	// (default 1000, at most 1<<32-1).
	PerProducer int
	// MaxBurst is the largest burst or bulk the harness asks for
	// (default 32). Each burst's size is drawn from [1, MaxBurst].
	MaxBurst int
	// Seed seeds the goroutines' random choices; a run with the same seed
	// makes the same choices (the interleaving is the scheduler's).
	Seed uint64
	// Timeout bounds the whole run (default 1 minute). When it passes,
	// the run fails, naming the elements that never arrived.
	Timeout time.Duration
	// GOMAXPROCS, if positive, is set for the duration of the run and
	// restored afterwards, to force oversubscription.
	GOMAXPROCS int
}

// Stats counts what a run did, so a test can check that the mix it asked
// for really happened.
type Stats struct {
	// Received is the number of distinct elements received.
	Received uint64
	// Enqueues and Dequeues count successful calls per kind of operation
	// (a burst that moved at least one element counts once).
	Enqueues, Dequeues OpCounts
	// Full and Empty count tries that moved nothing.
	Full, Empty uint64
	// Elapsed is the wall time of the run.
	Elapsed time.Duration
}

// OpCounts counts successful calls of each kind of operation.
type OpCounts struct {
	// Single counts TryEnqueue or TryDequeue calls.
	Single uint64
	// Burst counts EnqueueBurst or DequeueBurst calls.
	Burst uint64
	// Bulk counts EnqueueBulk or DequeueBulk calls.
	Bulk uint64
	// Blocking counts Enqueue or Dequeue calls.
	Blocking uint64
}

// Encode returns the value that producer p sends as its seq-th element.
// It is never zero, so a zero value read from a cleared or never-written
// slot is reported rather than taken for an element.
func Encode(p, seq int) uint64 { return uint64(p+1)<<32 | uint64(uint32(seq)) }

// Decode is the inverse of Encode. It returns p = -1 for zero.
func Decode(v uint64) (p, seq int) { return int(v>>32) - 1, int(uint32(v)) }

// N returns full, or short when the tests run with -short.
func N(full, short int) int {
	if testing.Short() {
		return short
	}
	return full
}

// maxFailures bounds the failures a run records; the first is what matters.
const maxFailures = 8

type opKind uint8

const (
	opSingle opKind = iota
	opBurst
	opBulk
	opBlocking
)

// run is the state of one Run, shared by its goroutines.
type run[T any] struct {
	cfg   Config
	q     Queue[T]
	total uint64

	// seen[p] has bit s set once element s of producer p was received.
	seen     [][]atomic.Uint64
	received atomic.Uint64

	ctx    context.Context // canceled when the run ends, for blocking ops
	cancel context.CancelFunc
	stop   atomic.Bool // set when the run ends, for try loops

	mu       sync.Mutex
	failures []string // guarded by mu
	nfail    int      // guarded by mu

	enq, deq    [4]atomic.Uint64
	full, empty atomic.Uint64
}

// Run runs cfg.Producers producers and cfg.Consumers consumers against q
// until every element has been received once, then checks the result. It
// reports each problem with tb.Errorf, as "stress: ..." lines that say what
// was wrong (a duplicate, an element out of its producer's order, a value
// never sent, a lost element) followed by a summary of the run; it never
// calls tb.Fatal, so the caller's cleanup still runs.
func Run[T any](tb testing.TB, cfg Config, q Queue[T]) Stats {
	tb.Helper()
	cfg, err := cfg.withDefaults()
	if err == nil {
		err = q.check()
	}
	if err != nil {
		tb.Errorf("stress: %v", err)
		return Stats{}
	}
	if cfg.GOMAXPROCS > 0 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(cfg.GOMAXPROCS))
	}

	r := &run[T]{cfg: cfg, q: q, total: uint64(cfg.Producers) * uint64(cfg.PerProducer)}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	defer r.cancel()
	r.seen = make([][]atomic.Uint64, cfg.Producers)
	for p := range r.seen {
		r.seen[p] = make([]atomic.Uint64, (cfg.PerProducer+63)/64)
	}

	start := time.Now()
	var wg sync.WaitGroup
	var producing sync.WaitGroup
	for p := range cfg.Producers {
		wg.Add(1)
		producing.Add(1)
		go func() {
			defer wg.Done()
			defer producing.Done()
			r.produce(p)
		}()
	}
	for c := range cfg.Consumers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.consume(c)
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	producersDone := make(chan struct{})
	go func() {
		producing.Wait()
		close(producersDone)
	}()

	timer := time.NewTimer(cfg.Timeout)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		select {
		case <-producersDone:
			r.fail("timed out after %v with every producer done: %s", cfg.Timeout, r.missing())
		default:
			r.fail("timed out after %v with producers still sending (queue stuck?): %s", cfg.Timeout, r.missing())
		}
		r.end()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			r.fail("goroutines still running 5s after the timeout: a blocking operation ignored its context")
		}
	}
	elapsed := time.Since(start)

	if r.ok() {
		if n := r.received.Load(); n != r.total {
			r.fail("received %d distinct elements, want %d: %s", n, r.total, r.missing())
		} else if q.Len != nil {
			if n := q.Len(); n != 0 {
				r.fail("Len() = %d after every element was received, want 0", n)
			}
		}
	}

	stats := Stats{Received: r.received.Load(), Full: r.full.Load(), Empty: r.empty.Load(), Elapsed: elapsed}
	stats.Enqueues = counts(&r.enq)
	stats.Dequeues = counts(&r.deq)

	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.failures {
		tb.Errorf("stress: %s", f)
	}
	if r.nfail > 0 {
		if r.nfail > len(r.failures) {
			tb.Errorf("stress: ... and %d more failures", r.nfail-len(r.failures))
		}
		tb.Errorf("stress: run was %s; %s", cfg, stats)
	}
	return stats
}

func counts(c *[4]atomic.Uint64) OpCounts {
	return OpCounts{Single: c[opSingle].Load(), Burst: c[opBurst].Load(), Bulk: c[opBulk].Load(), Blocking: c[opBlocking].Load()}
}

// String describes a configuration, for failure messages.
func (c Config) String() string {
	s := fmt.Sprintf("producers=%d consumers=%d per-producer=%d max-burst=%d seed=%d",
		c.Producers, c.Consumers, c.PerProducer, c.MaxBurst, c.Seed)
	if c.GOMAXPROCS > 0 {
		s += fmt.Sprintf(" GOMAXPROCS=%d", c.GOMAXPROCS)
	}
	return s
}

// String summarizes a run's statistics.
func (s Stats) String() string {
	return fmt.Sprintf("received %d in %v; enqueues %+v, dequeues %+v, full %d, empty %d",
		s.Received, s.Elapsed.Round(time.Millisecond), s.Enqueues, s.Dequeues, s.Full, s.Empty)
}

func (c Config) withDefaults() (Config, error) {
	if c.Producers == 0 {
		c.Producers = 1
	}
	if c.Consumers == 0 {
		c.Consumers = 1
	}
	if c.PerProducer == 0 {
		c.PerProducer = 1000
	}
	if c.MaxBurst == 0 {
		c.MaxBurst = 32
	}
	if c.Timeout == 0 {
		c.Timeout = time.Minute
	}
	switch {
	case c.Producers < 0 || c.Consumers < 0 || c.PerProducer < 0 || c.MaxBurst < 0 || c.Timeout < 0:
		return c, fmt.Errorf("negative field in config %s", c)
	case uint64(c.PerProducer) >= 1<<32:
		return c, fmt.Errorf("config: PerProducer = %d, want less than 1<<32", c.PerProducer)
	case int64(c.Producers) >= 1<<31:
		return c, fmt.Errorf("config: Producers = %d, want less than 1<<31", c.Producers)
	}
	return c, nil
}

// check verifies the Queue's required functions and fills in the uint64
// codec.
func (q *Queue[T]) check() error {
	if q.TryEnqueue == nil && q.EnqueueBurst == nil && q.EnqueueBulk == nil && q.Enqueue == nil {
		return fmt.Errorf("queue has no enqueue operation")
	}
	if q.TryDequeue == nil && q.DequeueBurst == nil && q.DequeueBulk == nil && q.Dequeue == nil {
		return fmt.Errorf("queue has no dequeue operation")
	}
	if q.Encode == nil {
		e, ok := any(func(v uint64) uint64 { return v }).(func(uint64) T)
		if !ok {
			return fmt.Errorf("queue of %T needs Encode and Decode", *new(T))
		}
		q.Encode = e
	}
	if q.Decode == nil {
		d, ok := any(func(v uint64) uint64 { return v }).(func(T) uint64)
		if !ok {
			return fmt.Errorf("queue of %T needs Encode and Decode", *new(T))
		}
		q.Decode = d
	}
	return nil
}

// fail records a failure and ends the run: after the first failure the
// rest is noise.
func (r *run[T]) fail(format string, args ...any) {
	r.mu.Lock()
	r.nfail++
	if len(r.failures) < maxFailures {
		r.failures = append(r.failures, fmt.Sprintf(format, args...))
	}
	r.mu.Unlock()
	r.end()
}

func (r *run[T]) ok() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.nfail == 0
}

// end stops every goroutine of the run.
func (r *run[T]) end() {
	r.stop.Store(true)
	r.cancel()
}

// missing describes the elements not received yet.
func (r *run[T]) missing() string {
	var b strings.Builder
	fmt.Fprintf(&b, "received %d of %d", r.received.Load(), r.total)
	n := 0
	for p := range r.seen {
		for w := range r.seen[p] {
			word := r.seen[p][w].Load()
			for missing := ^word; missing != 0; missing &= missing - 1 {
				s := w*64 + bits.TrailingZeros64(missing)
				if s >= r.cfg.PerProducer {
					break
				}
				if n < 5 {
					fmt.Fprintf(&b, "; missing producer %d seq %d", p, s)
				}
				n++
			}
		}
	}
	if n > 5 {
		fmt.Fprintf(&b, " and %d more", n-5)
	}
	return b.String()
}

// kinds returns the operation kinds available on one side.
func kinds(single, burst, bulk, blocking bool) []opKind {
	var ks []opKind
	for k, ok := range [...]bool{single, burst, bulk, blocking} {
		if ok {
			ks = append(ks, opKind(k))
		}
	}
	return ks
}

// backoff yields after a try that moved nothing; with more goroutines than
// processors, the one that can make progress needs the processor.
func backoff(fails *int) {
	*fails++
	if *fails&3 == 0 {
		runtime.Gosched()
	}
}

func (r *run[T]) produce(p int) {
	q, n := &r.q, r.cfg.PerProducer
	rng := rand.New(rand.NewPCG(r.cfg.Seed, uint64(p)<<1))
	ks := kinds(q.TryEnqueue != nil, q.EnqueueBurst != nil, q.EnqueueBulk != nil, q.Enqueue != nil)
	buf := make([]T, r.cfg.MaxBurst)
	fill := func(seq, k int) []T {
		for i := range k {
			buf[i] = q.Encode(Encode(p, seq+i))
		}
		return buf[:k]
	}
	fails := 0
	for seq := 0; seq < n; {
		if r.stop.Load() {
			return
		}
		if q.Len != nil && rng.IntN(64) == 0 {
			r.checkLen()
		}
		switch k := ks[rng.IntN(len(ks))]; k {
		case opSingle:
			if !q.TryEnqueue(q.Encode(Encode(p, seq))) {
				r.full.Add(1)
				backoff(&fails)
				continue
			}
			r.enq[k].Add(1)
			seq++
		case opBurst:
			want := 1 + rng.IntN(min(r.cfg.MaxBurst, n-seq))
			got := q.EnqueueBurst(fill(seq, want))
			if got < 0 || got > want {
				r.fail("producer %d: EnqueueBurst of %d returned %d", p, want, got)
				return
			}
			if got == 0 {
				r.full.Add(1)
				backoff(&fails)
				continue
			}
			r.enq[k].Add(1)
			seq += got
		case opBulk:
			want := 1 + rng.IntN(min(r.cfg.MaxBurst, n-seq))
			if !q.EnqueueBulk(fill(seq, want)) {
				r.full.Add(1)
				backoff(&fails)
				continue
			}
			r.enq[k].Add(1)
			seq += want
		case opBlocking:
			if err := q.Enqueue(r.ctx, q.Encode(Encode(p, seq))); err != nil {
				if r.ctx.Err() == nil {
					r.fail("producer %d: Enqueue of seq %d: %v", p, seq, err)
				}
				return
			}
			r.enq[k].Add(1)
			seq++
		}
		fails = 0
	}
}

func (r *run[T]) consume(c int) {
	q := &r.q
	rng := rand.New(rand.NewPCG(r.cfg.Seed, uint64(c)<<1|1))
	ks := kinds(q.TryDequeue != nil, q.DequeueBurst != nil, q.DequeueBulk != nil, q.Dequeue != nil)
	buf := make([]T, r.cfg.MaxBurst)
	last := make([]int, r.cfg.Producers) // last sequence seen per producer
	for i := range last {
		last[i] = -1
	}
	fails := 0
	for r.received.Load() < r.total && !r.stop.Load() {
		if q.Len != nil && rng.IntN(64) == 0 {
			r.checkLen()
		}
		switch k := ks[rng.IntN(len(ks))]; k {
		case opSingle:
			v, ok := q.TryDequeue()
			if !ok {
				r.empty.Add(1)
				backoff(&fails)
				continue
			}
			r.deq[k].Add(1)
			if !r.take(c, last, v) {
				return
			}
		case opBurst:
			want := 1 + rng.IntN(r.cfg.MaxBurst)
			got := q.DequeueBurst(buf[:want])
			if got < 0 || got > want {
				r.fail("consumer %d: DequeueBurst of %d returned %d", c, want, got)
				return
			}
			if got == 0 {
				r.empty.Add(1)
				backoff(&fails)
				continue
			}
			r.deq[k].Add(1)
			for _, v := range buf[:got] {
				if !r.take(c, last, v) {
					return
				}
			}
		case opBulk:
			// Ask for no more than can still arrive, or the bulk
			// could never succeed near the end of the run.
			left := int(min(r.total-min(r.received.Load(), r.total), uint64(r.cfg.MaxBurst)))
			want := 1 + rng.IntN(max(left, 1))
			if !q.DequeueBulk(buf[:want]) {
				r.empty.Add(1)
				backoff(&fails)
				continue
			}
			r.deq[k].Add(1)
			for _, v := range buf[:want] {
				if !r.take(c, last, v) {
					return
				}
			}
		case opBlocking:
			v, err := q.Dequeue(r.ctx)
			if err != nil {
				if r.ctx.Err() == nil {
					r.fail("consumer %d: Dequeue: %v", c, err)
				}
				return
			}
			r.deq[k].Add(1)
			if !r.take(c, last, v) {
				return
			}
		}
		fails = 0
	}
}

// take checks one received element: a value that was sent, not received
// before, and later in its producer's sequence than anything this consumer
// has seen from that producer. It reports whether the run goes on.
func (r *run[T]) take(c int, last []int, v T) bool {
	raw := r.q.Decode(v)
	p, seq := Decode(raw)
	if p < 0 || p >= r.cfg.Producers || seq >= r.cfg.PerProducer {
		r.fail("consumer %d received %#x, which no producer sent (producer %d seq %d)", c, raw, p, seq)
		return false
	}
	bit := uint64(1) << (seq % 64)
	if r.seen[p][seq/64].Or(bit)&bit != 0 {
		r.fail("consumer %d received producer %d seq %d a second time: duplicate delivery", c, p, seq)
		return false
	}
	if seq <= last[p] {
		r.fail("consumer %d received producer %d seq %d after seq %d: per-producer order violated", c, p, seq, last[p])
		return false
	}
	last[p] = seq
	if r.received.Add(1) == r.total {
		r.end() // wakes consumers blocked in Dequeue: nothing more will come
	}
	return true
}

func (r *run[T]) checkLen() {
	n := r.q.Len()
	if n < 0 || r.q.Cap > 0 && n > r.q.Cap {
		r.fail("Len() = %d, outside [0, %d]", n, r.q.Cap)
	}
}
