package jobring_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringkit/ringkit/internal/stress"
	"github.com/ringkit/ringkit/jobring"
)

// TestExactlyOnceInOrder runs mixed workers over three kinds of one ordering
// type and checks every job: run exactly once, by a worker the rules
// permit (capability, and affinity for kind 1), its result in its own
// slot, retired in submission order; through Retire and through OnRetire.
func TestExactlyOnceInOrder(t *testing.T) {
	for _, order := range []jobring.Order{jobring.Parallel, jobring.Ordered, jobring.Atomic} {
		for _, callback := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/callback=%t", order, callback), func(t *testing.T) {
				testExactlyOnce(t, order, callback)
			})
		}
	}
}

func testExactlyOnce(t *testing.T, order jobring.Order, callback bool) {
	n := stress.N(20000, 3000)
	runs := make([]atomic.Int32, n)
	hook := func(k jobring.Kind, job uint64) { runs[job].Add(1) }
	kinds := []jobring.KindSet{jobring.Kinds(0, 1), jobring.Kinds(0, 1), jobring.Kinds(1, 2), jobring.Kinds(2)}
	c := cfg{
		Slots: 128,
		Rules: jobring.Rules{Priority: true, Kinds: []jobring.KindRule{
			{Kind: 0, Order: order},
			{Kind: 1, Order: order, Affinity: true},
			{Kind: 2, Order: order},
		}},
		Workers: []wk{
			{Name: "core0", Class: jobring.Core, Kinds: kinds[0], Batch: 4, Do: doer(0, hook)},
			{Name: "core1", Class: jobring.Core, Kinds: kinds[1], Batch: 1, Do: doer(1, hook)},
			{Name: "core2", Class: jobring.Core, Kinds: kinds[2], Batch: 8, Do: doer(2, hook)},
			{Name: "dev", Class: jobring.Coprocessor, Kinds: kinds[3], Batch: 16, Setup: 20 * time.Microsecond, Do: doer(3, hook)},
		},
	}
	var got []completion
	var mu sync.Mutex
	if callback {
		c.OnRetire = func(b []completion) {
			mu.Lock()
			got = append(got, b...)
			mu.Unlock()
		}
	}
	r := newRing(t, c)

	done := make(chan struct{})
	go func() { // one producer, so job i is submitted at position i
		defer close(done)
		rng := rand.New(rand.NewPCG(1, uint64(order)))
		task := func(i int) jobring.Task[uint64] {
			return jobring.Task[uint64]{Kind: jobring.Kind(i % 3), Flow: rng.Uint32() % 16, Priority: uint8(rng.IntN(4)), Job: uint64(i)}
		}
		ts := make([]jobring.Task[uint64], 16)
		for i := 0; i < n; {
			switch rng.IntN(3) {
			case 0:
				if _, ok := r.TrySubmit(task(i)); ok {
					i++
				}
			case 1:
				k := min(1+rng.IntN(16), n-i)
				for j := range k {
					ts[j] = task(i + j)
				}
				_, m := r.SubmitBurst(ts[:k])
				i += m
			default:
				if _, err := r.Submit(context.Background(), task(i)); err != nil {
					t.Error(err)
					return
				}
				i++
			}
		}
	}()
	if callback {
		<-done
		waitFor(t, "every job retired", 20*time.Second, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(got) == n
		})
	} else {
		got = collect(t, r, n, 20*time.Second)
	}
	<-done
	mu.Lock()
	defer mu.Unlock()
	checkInOrder(t, got, 0)
	pol := r.Policy()
	for _, c := range got {
		if c.Err != nil {
			t.Fatalf("seq %d: %v", c.Seq, c.Err)
		}
		if c.Job != c.Seq {
			t.Fatalf("seq %d holds job %d", c.Seq, c.Job)
		}
		if k := runs[c.Job].Load(); k != 1 {
			t.Fatalf("job %d ran %d times", c.Job, k)
		}
		seat := jobring.Seat{Class: jobring.Core, Kinds: kinds[c.Worker]}
		if c.Worker == 3 {
			seat.Class = jobring.Coprocessor
		}
		// Every worker lives throughout: the holders of kind 1 are
		// workers 0, 1, 2, so affinity gives flow f to worker f%3.
		v := jobring.View{Holders: 3, AffCount: 3, AffIndex: c.Worker}
		if c.Kind != 1 {
			v = jobring.View{Holders: 2, AffIndex: -1}
		}
		if c.Kind == 1 && c.Worker != int(c.Flow%3) {
			t.Fatalf("seq %d (kind 1 flow %d) ran on worker %d; affinity gives it to worker %d", c.Seq, c.Flow, c.Worker, c.Flow%3)
		}
		if d := pol.Decide(seat, c.Kind, c.Flow, v); d != jobring.Take {
			t.Fatalf("seq %d (kind %d flow %d) ran on worker %d, which the rules refuse: %v", c.Seq, c.Kind, c.Flow, c.Worker, d)
		}
	}
}

// TestAtomicNoOverlap runs Atomic jobs of few flows on many workers and
// checks, inside Do, that no two jobs of one flow ever run at once and
// that the jobs of a flow start in submission order.
func TestAtomicNoOverlap(t *testing.T) {
	const flows = 6
	n := stress.N(20000, 3000)
	var busy [flows]atomic.Int32
	var last [flows]atomic.Int64
	for i := range last {
		last[i].Store(-1)
	}
	var overlaps, reorders atomic.Int32
	hook := func(k jobring.Kind, job uint64) {
		f := job % flows
		if busy[f].Add(1) != 1 {
			overlaps.Add(1)
		}
		if prev := last[f].Swap(int64(job)); prev >= int64(job) {
			reorders.Add(1)
		}
		for range 20 { // stay a while, so that an overlap would show
			runtime.Gosched()
		}
		busy[f].Add(-1)
	}
	var ws []wk
	for i := range 4 {
		ws = append(ws, wk{Name: fmt.Sprint("core", i), Kinds: jobring.Kinds(0), Batch: 1 + i*3, Do: doer(i, hook)})
	}
	r := newRing(t, cfg{
		Slots:   64,
		Rules:   jobring.Rules{Kinds: []jobring.KindRule{{Kind: 0, Order: jobring.Atomic}}},
		Workers: ws,
	})
	go func() {
		for i := range n {
			if _, err := r.Submit(context.Background(), jobring.Task[uint64]{Flow: uint32(i % flows), Job: uint64(i)}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	got := collect(t, r, n, 30*time.Second)
	checkInOrder(t, got, 0)
	if o := overlaps.Load(); o != 0 {
		t.Errorf("%d times two jobs of one Atomic flow ran at once", o)
	}
	if o := reorders.Load(); o != 0 {
		t.Errorf("%d times a job of an Atomic flow started before an earlier one of the same flow", o)
	}
	used := 0
	for _, w := range r.Stats().Workers {
		if w.Jobs > 0 {
			used++
		}
	}
	if used < 2 {
		t.Errorf("only %d worker ran jobs; the test needs the flows spread over workers", used)
	}
}

// TestPriority checks that a worker takes Parallel jobs of higher priority
// first, equal priorities in submission order, and Ordered jobs in
// submission order whatever their priority.
func TestPriority(t *testing.T) {
	gate := make(chan struct{})
	var mu sync.Mutex
	var ran []uint64
	hook := func(k jobring.Kind, job uint64) {
		if job == 0 {
			<-gate // hold the worker while the others queue up
		}
		mu.Lock()
		ran = append(ran, job)
		mu.Unlock()
	}
	r := newRing(t, cfg{
		Slots:   32,
		Rules:   jobring.Rules{Priority: true, Kinds: []jobring.KindRule{{Kind: 0, Order: jobring.Parallel}, {Kind: 1, Order: jobring.Ordered}}},
		Workers: []wk{{Name: "core", Kinds: jobring.Kinds(0, 1), Batch: 1, Do: doer(0, hook)}},
	})
	r.TrySubmit(jobring.Task[uint64]{Job: 0})
	waitFor(t, "job 0 claimed", 5*time.Second, func() bool { s, _ := r.SlotState(0); return s == "claimed" })
	prios := []uint8{1, 3, 0, 3, 2, 1}
	for i, p := range prios {
		r.TrySubmit(jobring.Task[uint64]{Kind: 0, Priority: p, Job: uint64(1 + i)})
	}
	for i := range 3 {
		r.TrySubmit(jobring.Task[uint64]{Kind: 1, Priority: uint8(9 * i), Job: uint64(7 + i)})
	}
	close(gate)
	collect(t, r, 10, 5*time.Second)
	// Parallel: priority 3 (jobs 2, 4), 2 (5), 1 (1, 6), 0 (3); the Ordered
	// jobs (key 0) keep their order after the Parallel job of priority 0.
	want := []uint64{0, 2, 4, 5, 1, 6, 3, 7, 8, 9}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(ran) != fmt.Sprint(want) {
		t.Errorf("run order %v, want %v", ran, want)
	}
}

// TestUnpublishedGap: while a producer has claimed a position and not yet
// published it, later Ordered and Atomic jobs wait (the missing job may be
// of their flow), and Parallel ones go ahead.
func TestUnpublishedGap(t *testing.T) {
	var mu sync.Mutex
	var ran []uint64
	hook := func(_ jobring.Kind, job uint64) {
		mu.Lock()
		ran = append(ran, job)
		mu.Unlock()
	}
	r := newRing(t, cfg{
		Slots:   16,
		Rules:   jobring.Rules{Kinds: []jobring.KindRule{{Kind: 0, Order: jobring.Atomic}, {Kind: 1, Order: jobring.Ordered}, {Kind: 2, Order: jobring.Parallel}}},
		Workers: []wk{{Name: "core", Kinds: jobring.Kinds(0, 1, 2), Do: doer(0, hook)}},
	})
	p, publish := r.Reserve()
	r.TrySubmit(jobring.Task[uint64]{Kind: 0, Flow: 9, Job: 1})
	r.TrySubmit(jobring.Task[uint64]{Kind: 1, Job: 2})
	r.TrySubmit(jobring.Task[uint64]{Kind: 2, Job: 3})
	waitFor(t, "the Parallel job to run", 5*time.Second, func() bool { s, _ := r.SlotState(p + 3); return s == "done" })
	time.Sleep(5 * time.Millisecond)
	for _, q := range []uint64{p + 1, p + 2} {
		if s, _ := r.SlotState(q); s != "submitted" {
			t.Errorf("job at %d is %s while position %d is unpublished, want submitted", q, s, p)
		}
	}
	publish(jobring.Task[uint64]{Kind: 0, Flow: 9, Job: 0})
	checkInOrder(t, collect(t, r, 4, 5*time.Second), 0)
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(ran) != "[3 0 1 2]" {
		t.Errorf("ran %v, want [3 0 1 2]", ran)
	}
}

// TestWrap runs positions across the wrap of the 48-bit position a slot's
// state word records: claims and retirements must still match positions
// exactly.
func TestWrap(t *testing.T) {
	const start = jobring.PosWrap - 100
	r := newRingAt(t, cfg{
		Slots: 16,
		Rules: jobring.Rules{Kinds: []jobring.KindRule{{Kind: 1, Order: jobring.Atomic}}},
		Workers: []wk{
			{Name: "c0", Kinds: jobring.Kinds(0, 1), Batch: 3, Do: doer(0, nil)},
			{Name: "c1", Kinds: jobring.Kinds(0, 1), Do: doer(1, nil)},
		},
	}, start)
	const n = 1000
	go func() {
		for i := range n {
			seq, err := r.Submit(context.Background(), jobring.Task[uint64]{Kind: jobring.Kind(i % 2), Flow: uint32(i % 3), Job: uint64(i)})
			if err != nil || seq != start+uint64(i) {
				t.Errorf("Submit %d = %d, %v; want position %d", i, seq, err, start+uint64(i))
				return
			}
		}
	}()
	got := collect(t, r, n, 10*time.Second)
	checkInOrder(t, got, start)
	for i, c := range got {
		if c.Job != uint64(i) || c.Err != nil {
			t.Fatalf("completion %d: %+v", i, c)
		}
	}
}

// TestStartNearWrap starts rings near the wrap of the state word's
// position, each with many workers whose first scans race with the start,
// and runs a few jobs on each: every job retires at its position and Close
// returns at once. A worker that loaded the head before the ring's
// positions were set and the tail after (or the reverse) would scan about
// 2^64 positions and never end, and Close would wait for it.
func TestStartNearWrap(t *testing.T) {
	const start, workers, jobs = jobring.PosWrap - 100, 32, 3
	ws := make([]wk, workers)
	for i := range ws {
		ws[i] = wk{Kinds: jobring.Kinds(0), Do: doer(i, nil)}
	}
	for round := range stress.N(5000, 1000) {
		r, err := jobring.NewAt(cfg{Slots: 16, Workers: ws}, start)
		if err != nil {
			t.Fatal(err)
		}
		for i := range jobs {
			if seq, ok := r.TrySubmit(jobring.Task[uint64]{Job: uint64(i)}); !ok || seq != start+uint64(i) {
				t.Fatalf("round %d: TrySubmit %d = %d, %t; want position %d", round, i, seq, ok, start+uint64(i))
			}
		}
		closed := make(chan error, 1)
		go func() { closed <- r.Close() }()
		select {
		case err := <-closed:
			if err != nil {
				t.Fatalf("round %d: Close: %v", round, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: Close did not return within 10s: a worker's scan does not end", round)
		}
		buf := make([]completion, jobs)
		if n := r.Retire(buf); n != jobs {
			t.Fatalf("round %d: retired %d jobs, want %d", round, n, jobs)
		}
		checkInOrder(t, buf, start)
	}
}

// TestAtomicOrderUnderFallback: jobs of one Atomic flow start in submission
// order while a fallback threshold lets cores take them from the
// co-processor that holds the kind, and several producers move the backlog
// across the threshold while the cores scan.
func TestAtomicOrderUnderFallback(t *testing.T) {
	// The rounds go on, up to four times as many, until the fallback has
	// opened in one (a core took a job): without that the order across
	// the co-processor and the cores is not exercised.
	byCore, rounds := 0, stress.N(8, 6)
	for round := 0; round < rounds || byCore == 0 && round < 4*rounds; round++ {
		t.Run(fmt.Sprint("round=", round), func(t *testing.T) { byCore += testAtomicOrderUnderFallback(t) })
	}
	switch {
	case byCore > 0:
	case runtime.GOMAXPROCS(0) == 1:
		// One processor: the co-processor worker keeps its backlog under
		// the threshold, the producers rarely run ahead of it.
		t.Skipf("the fallback never opened in %d rounds with GOMAXPROCS=1: the order across workers was not exercised", 4*rounds)
	default:
		t.Errorf("the cores took no job in %d rounds: the test needs the fallback to open", 4*rounds)
	}
}

// testAtomicOrderUnderFallback runs one round and returns how many jobs the
// cores took.
func testAtomicOrderUnderFallback(t *testing.T) int {
	const producers, threshold = 3, 3
	per := stress.N(3000, 2000)
	n := producers * per
	started := make([]atomic.Int64, n) // job -> the order in which it started, from 1
	var starts atomic.Int64
	hook := func(_ jobring.Kind, job uint64) { started[job].Store(starts.Add(1)) }
	r := newRing(t, cfg{
		Slots: 64,
		Rules: jobring.Rules{
			Kinds:     []jobring.KindRule{{Kind: 0, Name: "accel", Order: jobring.Atomic}},
			Fallbacks: []jobring.Fallback{{Kind: 0, Threshold: threshold}},
		},
		Workers: []wk{
			{Name: "dev", Class: jobring.Coprocessor, Kinds: jobring.Kinds(0), Batch: 8, Setup: 5 * time.Microsecond, Do: doer(0, hook)},
			{Name: "core1", Class: jobring.Core, Kinds: jobring.Kinds(1), Batch: 1, Do: doer(1, hook)},
			{Name: "core2", Class: jobring.Core, Kinds: jobring.Kinds(1), Batch: 1, Do: doer(2, hook)},
		},
	})
	for i := range producers {
		go func() {
			for j := range per {
				job := uint64(i*per + j)
				if _, err := r.Submit(context.Background(), jobring.Task[uint64]{Kind: 0, Flow: 7, Job: job}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	got := collect(t, r, n, 30*time.Second)
	checkInOrder(t, got, 0)
	inversions, byCore := 0, 0
	prev, prevSeq, prevBy := int64(0), uint64(0), 0
	for _, c := range got {
		if c.Err != nil {
			t.Fatalf("seq %d: %v", c.Seq, c.Err)
		}
		if c.Worker != 0 {
			byCore++
		}
		s := started[c.Job].Load()
		if s < prev {
			if inversions < 5 {
				t.Errorf("seq %d (job %d, worker %d) started %d-th, before seq %d (worker %d, started %d-th) of the same flow",
					c.Seq, c.Job, c.Worker, s, prevSeq, prevBy, prev)
			}
			inversions++
		}
		prev, prevSeq, prevBy = s, c.Seq, c.Worker
	}
	if inversions > 0 {
		t.Errorf("%d jobs of one Atomic flow started before an earlier job of the flow", inversions)
	}
	return byCore
}
