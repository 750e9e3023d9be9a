package jobring_test

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringkit/ringkit/internal/stress"
	"github.com/ringkit/ringkit/jobring"
)

// model is the reference: a mutex and a slice of the jobs submitted and not
// retired, each with a done flag.
type model struct {
	mu   sync.Mutex
	cap  int
	next uint64 // Seq of the next submission
	jobs []modelJob
}

type modelJob struct {
	seq, job uint64
	done     bool
}

func (m *model) submit(job uint64) (uint64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.jobs) == m.cap {
		return 0, false
	}
	m.jobs = append(m.jobs, modelJob{seq: m.next, job: job})
	m.next++
	return m.next - 1, true
}

func (m *model) complete(seq uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.jobs {
		if m.jobs[i].seq == seq {
			m.jobs[i].done = true
		}
	}
}

// retire removes and returns the done prefix, at most max jobs.
func (m *model) retire(max int) []modelJob {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for n < len(m.jobs) && n < max && m.jobs[n].done {
		n++
	}
	out := append([]modelJob(nil), m.jobs[:n]...)
	m.jobs = m.jobs[n:]
	return out
}

// TestModel runs random schedules of submissions, completions (in any
// order: each job's Do waits for its own gate) and retirements against the
// job ring and the model, and checks that they agree on every step: which
// submissions fit, the positions they get, and what each Retire returns.
func TestModel(t *testing.T) {
	for seed := range uint64(stress.N(20, 4)) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { testModel(t, seed) })
	}
}

func testModel(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	const workers = 4
	capacity := 1 << rng.IntN(4) // 1..8 slots
	var gates sync.Map           // job -> chan struct{}
	gate := func(job uint64) chan struct{} {
		c, _ := gates.LoadOrStore(job, make(chan struct{}))
		return c.(chan struct{})
	}
	hook := func(_ jobring.Kind, job uint64) { <-gate(job) }
	var ws []wk
	for i := range workers {
		ws = append(ws, wk{Name: fmt.Sprint("c", i), Kinds: jobring.Kinds(0), Batch: 1, Do: doer(i, hook)})
	}
	r := newRing(t, cfg{Slots: capacity, Workers: ws})
	m := &model{cap: capacity}
	job := uint64(100)
	buf := make([]completion, 8)
	for range stress.N(400, 100) {
		switch op := rng.IntN(3); op {
		case 0: // submit
			wantSeq, wantOK := m.submit(job)
			seq, ok := r.TrySubmit(jobring.Task[uint64]{Job: job})
			if ok != wantOK || ok && seq != wantSeq {
				t.Fatalf("TrySubmit(%d) = %d, %t; model says %d, %t", job, seq, ok, wantSeq, wantOK)
			}
			if ok {
				job++
			}
		case 1: // complete a claimed job, chosen at random
			var claimed []uint64
			for p := m.next - uint64(min(int(m.next), capacity)); p < m.next; p++ {
				if s, _ := r.SlotState(p); s == "claimed" {
					claimed = append(claimed, p)
				}
			}
			if len(claimed) == 0 {
				continue
			}
			p := claimed[rng.IntN(len(claimed))]
			j := jobOf(m, p)
			close(gate(j))
			waitFor(t, fmt.Sprintf("job at %d done", p), 5*time.Second, func() bool { s, _ := r.SlotState(p); return s == "done" })
			m.complete(p)
		case 2: // retire
			k := 1 + rng.IntN(len(buf))
			want := m.retire(k)
			got := r.Retire(buf[:k])
			if got != len(want) {
				t.Fatalf("Retire(%d) = %d jobs; model retires %d", k, got, len(want))
			}
			for i, w := range want {
				c := buf[i]
				if c.Seq != w.seq || c.Job != w.job || c.Result.Val != val(w.job) || c.Err != nil {
					t.Fatalf("Retire: completion %+v, model says seq %d job %d", c, w.seq, w.job)
				}
			}
		}
		if r.Len() != len(m.jobs) {
			t.Fatalf("Len = %d, model holds %d", r.Len(), len(m.jobs))
		}
	}
	// Let the rest run so that Close can drain.
	for j := uint64(100); j < job; j++ {
		c := gate(j)
		select {
		case <-c:
		default:
			close(c)
		}
	}
}

func jobOf(m *model, seq uint64) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, j := range m.jobs {
		if j.seq == seq {
			return j.job
		}
	}
	panic(fmt.Sprintf("seq %d not in the model", seq))
}

// TestStress drives the ring through the shared stress harness: many
// producers submit (single, burst, blocking), many goroutines retire, the
// jobs are spread over kinds of the three ordering types and workers of
// both classes, and every job must come back exactly once, each producer's
// in its order, its result equal to its job; and the Atomic jobs, which the
// cores that lack their kind take through a fallback once its backlog
// reaches the threshold, must start in submission order within each flow.
func TestStress(t *testing.T) {
	for _, procs := range []int{0, 1} {
		t.Run(fmt.Sprint("GOMAXPROCS=", procs), func(t *testing.T) {
			bad := make(chan string, 1)
			// started[job] is the order in which each Atomic job
			// started, seqOf[job] its position, both by job value.
			var started, seqOf sync.Map
			var starts atomic.Int64
			do := func(id int) jobring.Func[uint64, uint64] {
				return func(_ context.Context, k jobring.Kind, j *uint64, r *uint64) error {
					if k == 2 {
						started.Store(*j, starts.Add(1))
					}
					*r = *j
					return nil
				}
			}
			ring, err := jobring.New(jobring.Config[uint64, uint64]{
				Slots: 256,
				Rules: jobring.Rules{Priority: true, Kinds: []jobring.KindRule{
					{Kind: 0, Order: jobring.Parallel}, {Kind: 1, Order: jobring.Ordered, Affinity: true}, {Kind: 2, Order: jobring.Atomic},
				}, Fallbacks: []jobring.Fallback{{Kind: 2, Threshold: 64}}},
				Workers: []jobring.Worker[uint64, uint64]{
					{Name: "c0", Kinds: jobring.Kinds(0, 1), Do: do(0)},
					{Name: "c1", Kinds: jobring.Kinds(0, 1, 2), Batch: 3, Do: do(1)},
					{Name: "c2", Kinds: jobring.Kinds(1), Batch: 1, Do: do(2)},
					{Name: "dev", Class: jobring.Coprocessor, Kinds: jobring.Kinds(2), Setup: 10 * time.Microsecond, Do: do(3)},
				},
				SampleEvery: 1,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer ring.Close()
			task := func(v uint64) jobring.Task[uint64] {
				return jobring.Task[uint64]{Kind: jobring.Kind(v % 3), Flow: uint32(v>>32) ^ uint32(v%7), Priority: uint8(v % 5), Job: v}
			}
			take := func(c *jobring.Completion[uint64, uint64]) uint64 {
				if c.Kind == 2 {
					seqOf.Store(c.Job, c.Seq)
				}
				if c.Err != nil || c.Result != c.Job {
					select {
					case bad <- fmt.Sprintf("seq %d: job %#x result %#x err %v", c.Seq, c.Job, c.Result, c.Err):
					default:
					}
				}
				return c.Result
			}
			one := make([]jobring.Completion[uint64, uint64], 1)
			var mu sync.Mutex // guards one
			stress.Run(t, stress.Config{Producers: 4, Consumers: 2, PerProducer: stress.N(20000, 2000), GOMAXPROCS: procs},
				stress.Queue[uint64]{
					TryEnqueue: func(v uint64) bool { _, ok := ring.TrySubmit(task(v)); return ok },
					EnqueueBurst: func(src []uint64) int {
						ts := make([]jobring.Task[uint64], len(src))
						for i, v := range src {
							ts[i] = task(v)
						}
						_, n := ring.SubmitBurst(ts)
						return n
					},
					TryDequeue: func() (uint64, bool) {
						mu.Lock()
						defer mu.Unlock()
						if ring.Retire(one) == 0 {
							return 0, false
						}
						return take(&one[0]), true
					},
					DequeueBurst: func(dst []uint64) int {
						cs := make([]jobring.Completion[uint64, uint64], len(dst))
						n := ring.Retire(cs)
						for i := range n {
							dst[i] = take(&cs[i])
						}
						return n
					},
				})
			select {
			case s := <-bad:
				t.Error(s)
			default:
			}
			checkFlowStarts(t, &started, &seqOf, func(v uint64) uint32 { return task(v).Flow })
		})
	}
}

// checkFlowStarts checks that the jobs recorded in started (job -> start
// order) and seqOf (job -> position) started in position order within
// each flow.
func checkFlowStarts(t *testing.T, started, seqOf *sync.Map, flowOf func(job uint64) uint32) {
	t.Helper()
	type run struct{ seq, start int64 }
	byFlow := map[uint32][]run{}
	seqOf.Range(func(k, v any) bool {
		s, ok := started.Load(k)
		if !ok {
			t.Errorf("job %d retired without starting", k)
			return false
		}
		f := flowOf(k.(uint64))
		byFlow[f] = append(byFlow[f], run{int64(v.(uint64)), s.(int64)})
		return true
	})
	inversions := 0
	for f, rs := range byFlow {
		slices.SortFunc(rs, func(a, b run) int { return cmp.Compare(a.seq, b.seq) })
		for i := 1; i < len(rs); i++ {
			if rs[i].start < rs[i-1].start {
				if inversions < 5 {
					t.Errorf("flow %d: the job at %d started before the one at %d", f, rs[i].seq, rs[i-1].seq)
				}
				inversions++
			}
		}
	}
	if inversions > 0 {
		t.Errorf("%d Atomic jobs started before an earlier job of their flow", inversions)
	}
}
