package stress

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// fake is a mutex-and-slice bounded queue, correct unless fault says
// otherwise. fault is called under mu with the operation number (counted
// from 1 per side) and may break that operation.
type fake struct {
	mu       sync.Mutex
	buf      []uint64
	cap      int
	enqs     int
	deqs     int
	dupAt    int // the dupAt-th dequeue returns the head without removing it
	swapAt   int // the swapAt-th dequeue swaps the two oldest elements first
	loseAt   int // the loseAt-th enqueue reports success and drops the element
	badValAt int // the badValAt-th dequeue returns a value nobody sent
}

func (f *fake) TryEnqueue(v uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.enqueueLocked([]uint64{v}) == 1
}

func (f *fake) TryDequeue() (uint64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dequeueLocked()
}

func (f *fake) dequeueLocked() (uint64, bool) {
	if len(f.buf) == 0 {
		return 0, false
	}
	f.deqs++
	if f.deqs == f.swapAt && len(f.buf) >= 2 {
		f.buf[0], f.buf[1] = f.buf[1], f.buf[0]
	}
	v := f.buf[0]
	switch f.deqs {
	case f.dupAt:
		return v, true
	case f.badValAt:
		return 0xdead_beef_0000, true
	}
	f.buf = f.buf[1:]
	return v, true
}

func (f *fake) EnqueueBurst(src []uint64) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.enqueueLocked(src)
}

func (f *fake) enqueueLocked(src []uint64) int {
	n := min(len(src), f.cap-len(f.buf))
	for _, v := range src[:n] {
		f.enqs++
		if f.enqs != f.loseAt {
			f.buf = append(f.buf, v)
		}
	}
	return n
}

func (f *fake) DequeueBurst(dst []uint64) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dequeueNLocked(dst)
}

func (f *fake) dequeueNLocked(dst []uint64) int {
	n := 0
	for n < len(dst) {
		v, ok := f.dequeueLocked()
		if !ok {
			break
		}
		dst[n] = v
		n++
	}
	return n
}

func (f *fake) EnqueueBulk(src []uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cap-len(f.buf) < len(src) {
		return false
	}
	return f.enqueueLocked(src) == len(src)
}

func (f *fake) DequeueBulk(dst []uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.buf) < len(dst) {
		return false
	}
	return f.dequeueNLocked(dst) == len(dst)
}

func (f *fake) Enqueue(ctx context.Context, v uint64) error {
	for !f.TryEnqueue(v) {
		if err := ctx.Err(); err != nil {
			return err
		}
		runtime.Gosched()
	}
	return nil
}

func (f *fake) Dequeue(ctx context.Context) (uint64, error) {
	for {
		if v, ok := f.TryDequeue(); ok {
			return v, nil
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		runtime.Gosched()
	}
}

func (f *fake) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.buf)
}

// everything offers every operation of f to the harness.
func everything(f *fake) Queue[uint64] {
	return Queue[uint64]{
		TryEnqueue: f.TryEnqueue, TryDequeue: f.TryDequeue,
		EnqueueBurst: f.EnqueueBurst, DequeueBurst: f.DequeueBurst,
		EnqueueBulk: f.EnqueueBulk, DequeueBulk: f.DequeueBulk,
		Enqueue: f.Enqueue, Dequeue: f.Dequeue,
		Len: f.Len, Cap: f.cap,
	}
}

// recorder is a testing.TB that keeps the errors instead of failing.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) Error(args ...any) { r.Errorf("%s", fmt.Sprint(args...)) }

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	r.TB.Fatalf("harness called Fatalf: "+format, args...)
}

func (r *recorder) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.errs, "\n")
}

func TestEncodeDecode(t *testing.T) {
	for _, c := range []struct{ p, seq int }{{0, 0}, {0, 1}, {3, 17}, {1<<31 - 2, min(1<<32-1, math.MaxInt)}} { // the largest seq an int holds
		v := Encode(c.p, c.seq)
		if v == 0 {
			t.Errorf("Encode(%d, %d) = 0", c.p, c.seq)
		}
		if p, seq := Decode(v); p != c.p || seq != c.seq {
			t.Errorf("Decode(Encode(%d, %d)) = %d, %d", c.p, c.seq, p, seq)
		}
	}
	if p, _ := Decode(0); p != -1 {
		t.Errorf("Decode(0) producer = %d, want -1", p)
	}
}

func TestRunCorrectQueue(t *testing.T) {
	f := &fake{cap: 7}
	cfg := Config{Producers: 4, Consumers: 3, PerProducer: N(5000, 500), MaxBurst: 5, Seed: 1}
	st := Run(t, cfg, everything(f))
	if st.Received != uint64(cfg.Producers*cfg.PerProducer) {
		t.Errorf("Received = %d, want %d", st.Received, cfg.Producers*cfg.PerProducer)
	}
	for name, c := range map[string]OpCounts{"enqueues": st.Enqueues, "dequeues": st.Dequeues} {
		if c.Single == 0 || c.Burst == 0 || c.Bulk == 0 || c.Blocking == 0 {
			t.Errorf("%s did not mix every kind of operation: %+v", name, c)
		}
	}
	t.Log(st)
}

func TestRunChannel(t *testing.T) {
	ch := make(chan uint64, 3)
	q := Queue[uint64]{
		TryEnqueue: func(v uint64) bool {
			select {
			case ch <- v:
				return true
			default:
				return false
			}
		},
		TryDequeue: func() (uint64, bool) {
			select {
			case v := <-ch:
				return v, true
			default:
				return 0, false
			}
		},
		Enqueue: func(ctx context.Context, v uint64) error {
			select {
			case ch <- v:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
		Dequeue: func(ctx context.Context) (uint64, error) {
			select {
			case v := <-ch:
				return v, nil
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		},
	}
	Run(t, Config{Producers: 8, Consumers: 8, PerProducer: N(2000, 300), GOMAXPROCS: 1}, q)
}

func TestRunBlockingOnly(t *testing.T) {
	f := &fake{cap: 2}
	st := Run(t, Config{Producers: 3, Consumers: 5, PerProducer: 300}, Queue[uint64]{Enqueue: f.Enqueue, Dequeue: f.Dequeue})
	if st.Enqueues.Single+st.Dequeues.Single+st.Enqueues.Burst+st.Dequeues.Burst != 0 ||
		st.Enqueues.Blocking != 900 || st.Dequeues.Blocking != 900 {
		t.Errorf("a blocking-only run used other operations: %v", st)
	}
}

// TestRunOtherElementType runs the harness over a non-uint64 element type.
func TestRunOtherElementType(t *testing.T) {
	type elem struct{ a, b uint32 }
	ch := make(chan elem, 4)
	q := Queue[elem]{
		TryEnqueue: func(v elem) bool {
			select {
			case ch <- v:
				return true
			default:
				return false
			}
		},
		TryDequeue: func() (elem, bool) {
			select {
			case v := <-ch:
				return v, true
			default:
				return elem{}, false
			}
		},
		Encode: func(v uint64) elem { return elem{uint32(v >> 32), uint32(v)} },
		Decode: func(e elem) uint64 { return uint64(e.a)<<32 | uint64(e.b) },
	}
	Run(t, Config{Producers: 2, Consumers: 2, PerProducer: 200}, q)
}

// TestRunCatches proves the checker fails on queues that break each
// promise, and says what broke.
func TestRunCatches(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    *fake
		cfg  Config
		want string
	}{
		{"duplicate", &fake{cap: 8, dupAt: 100}, Config{Producers: 3, Consumers: 3, PerProducer: 200}, "duplicate delivery"},
		{"reorder", &fake{cap: 8, swapAt: 100}, Config{Producers: 1, Consumers: 1, PerProducer: 200}, "per-producer order violated"},
		{"lose", &fake{cap: 8, loseAt: 100}, Config{Producers: 3, Consumers: 2, PerProducer: 200, Timeout: 300 * time.Millisecond}, "missing producer"},
		{"bad value", &fake{cap: 8, badValAt: 50}, Config{Producers: 2, Consumers: 2, PerProducer: 200}, "which no producer sent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			Run(rec, tc.cfg, everything(tc.f))
			got := rec.text()
			if !strings.Contains(got, tc.want) {
				t.Errorf("harness reported %q, want a failure containing %q", got, tc.want)
			}
			if !strings.Contains(got, "run was producers=") {
				t.Errorf("harness did not summarize the run: %q", got)
			}
		})
	}
}

func TestRunCatchesBadBurstCount(t *testing.T) {
	f := &fake{cap: 8}
	q := everything(f)
	q.DequeueBurst = func(dst []uint64) int { return len(dst) + 1 }
	rec := &recorder{TB: t}
	Run(rec, Config{Producers: 1, Consumers: 1, PerProducer: 100}, q)
	if got := rec.text(); !strings.Contains(got, "DequeueBurst of") {
		t.Errorf("harness reported %q, want a bad DequeueBurst count", got)
	}
}

func TestRunCatchesLen(t *testing.T) {
	f := &fake{cap: 8}
	q := everything(f)
	q.Len = func() int { return f.Len() + 1 }
	rec := &recorder{TB: t}
	Run(rec, Config{Producers: 1, Consumers: 1, PerProducer: 100}, q)
	if got := rec.text(); !strings.Contains(got, "Len() =") {
		t.Errorf("harness reported %q, want a bad Len", got)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	f := &fake{cap: 8}
	cases := map[string]struct {
		cfg Config
		q   Queue[uint64]
	}{
		"negative":    {Config{Producers: -1}, everything(f)},
		"no enqueue":  {Config{}, Queue[uint64]{TryDequeue: f.TryDequeue}},
		"no dequeue":  {Config{}, Queue[uint64]{TryEnqueue: f.TryEnqueue}},
		"needs codec": {Config{}, Queue[uint64]{TryEnqueue: f.TryEnqueue, TryDequeue: f.TryDequeue}},
	}
	if math.MaxInt > math.MaxUint32 { // an int that holds 1<<32: 64-bit platforms
		shift := 32
		cases["too many"] = struct {
			cfg Config
			q   Queue[uint64]
		}{Config{PerProducer: 1 << shift}, everything(f)}
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rec := &recorder{TB: t}
			if name == "needs codec" {
				q := Queue[string]{TryEnqueue: func(string) bool { return true }, TryDequeue: func() (string, bool) { return "", false }}
				Run(rec, tc.cfg, q)
			} else {
				Run(rec, tc.cfg, tc.q)
			}
			if rec.text() == "" {
				t.Errorf("Run accepted %s", name)
			}
		})
	}
}
