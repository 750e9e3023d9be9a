package ring_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/ringkit/ringkit/internal/stress"
)

// The linearizability tests record short concurrent histories of a small
// ring, so that it is often full or empty, and check each with porcupine
// against a sequential bounded FIFO queue. Elements are bytes and a queue's
// state is the string of its elements, oldest first.

type linOp uint8

const (
	linTryEnqueue linOp = iota
	linTryDequeue
	linEnqueueBurst
	linDequeueBurst
	linEnqueueBulk
	linDequeueBulk
)

var linOpNames = [...]string{"TryEnqueue", "TryDequeue", "EnqueueBurst", "DequeueBurst", "EnqueueBulk", "DequeueBulk"}

func (o linOp) enqueues() bool {
	return o == linTryEnqueue || o == linEnqueueBurst || o == linEnqueueBulk
}

// linInput is an operation's argument: the elements to enqueue, or how
// many to dequeue.
type linInput struct {
	op   linOp
	vals string
	n    int
}

// linOutput is an operation's result: ok for the Try and Bulk operations,
// the count for bursts, and the elements dequeued.
type linOutput struct {
	ok   bool
	n    int
	vals string
}

// queueModel is the sequential specification of a bounded FIFO queue of
// capacity c holding init at first.
//
// With strict, a burst moves exactly min(asked, room) or min(asked, held)
// elements. Without it, a burst that moves none must have found the queue
// full (or empty), and one that moves n > 0 may move fewer than it could:
// that is the contract of package ring, because a burst decides how many
// fit before it claims them, and the other side may free room (or add
// elements) in between.
func queueModel(c int, init string, strict bool) porcupine.Model {
	return porcupine.Model{
		Init: func() any { return init },
		Step: func(state, input, output any) (bool, any) {
			s, in, out := state.(string), input.(linInput), output.(linOutput)
			free := c - len(s)
			switch in.op {
			case linTryEnqueue:
				if out.ok != (free > 0) {
					return false, s
				}
				if out.ok {
					return true, s + in.vals
				}
				return true, s
			case linTryDequeue:
				if out.ok != (len(s) > 0) || out.ok && out.vals != s[:1] {
					return false, s
				}
				if out.ok {
					return true, s[1:]
				}
				return true, s
			case linEnqueueBurst:
				if !burstCount(out.n, len(in.vals), free, strict) {
					return false, s
				}
				return true, s + in.vals[:out.n]
			case linDequeueBurst:
				if !burstCount(out.n, in.n, len(s), strict) || out.vals != s[:out.n] {
					return false, s
				}
				return true, s[out.n:]
			case linEnqueueBulk:
				if out.ok != (len(in.vals) <= free) {
					return false, s
				}
				if out.ok {
					return true, s + in.vals
				}
				return true, s
			case linDequeueBulk:
				if out.ok != (in.n <= len(s)) || out.ok && out.vals != s[:in.n] {
					return false, s
				}
				if out.ok {
					return true, s[in.n:]
				}
				return true, s
			}
			return false, s
		},
		DescribeOperation: func(input, output any) string {
			in, out := input.(linInput), output.(linOutput)
			return fmt.Sprintf("%s(%v, %d) -> ok=%v n=%d %v", linOpNames[in.op], []byte(in.vals), in.n, out.ok, out.n, []byte(out.vals))
		},
		DescribeState: func(state any) string { return fmt.Sprint([]byte(state.(string))) },
	}
}

// burstCount reports whether a burst that asked for want elements may move
// n when there were avail (room or elements).
func burstCount(n, want, avail int, strict bool) bool {
	if strict || avail == 0 {
		return n == min(want, avail)
	}
	return n >= 1 && n <= min(want, avail)
}

// linQueue is the part of a ring the histories use.
type linQueue interface {
	TryEnqueue(v byte) bool
	TryDequeue() (byte, bool)
	EnqueueBurst(src []byte) int
	DequeueBurst(dst []byte) int
	EnqueueBulk(src []byte) bool
	DequeueBulk(dst []byte) bool
}

// apply runs one operation on q.
func apply(q linQueue, in linInput) linOutput {
	switch in.op {
	case linTryEnqueue:
		return linOutput{ok: q.TryEnqueue(in.vals[0])}
	case linTryDequeue:
		v, ok := q.TryDequeue()
		if ok {
			return linOutput{ok: true, vals: string([]byte{v})}
		}
		return linOutput{}
	case linEnqueueBurst:
		return linOutput{n: q.EnqueueBurst([]byte(in.vals))}
	case linDequeueBurst:
		dst := make([]byte, in.n)
		n := q.DequeueBurst(dst)
		return linOutput{n: n, vals: string(dst[:n])}
	case linEnqueueBulk:
		return linOutput{ok: q.EnqueueBulk([]byte(in.vals))}
	case linDequeueBulk:
		dst := make([]byte, in.n)
		if q.DequeueBulk(dst) {
			return linOutput{ok: true, vals: string(dst)}
		}
		return linOutput{}
	}
	panic("bad op")
}

// linRole is what one goroutine of a history may do.
type linRole uint8

const (
	roleBoth linRole = iota
	roleProducer
	roleConsumer
)

// roles returns the goroutines of a history on a ring of kind k.
func (k kind) roles(goroutines int) []linRole {
	switch {
	case k.multiProducer && k.multiConsumer:
		return slicesRepeat(roleBoth, goroutines)
	case k.multiProducer:
		return append(slicesRepeat(roleProducer, goroutines-1), roleConsumer)
	case k.multiConsumer:
		return append([]linRole{roleProducer}, slicesRepeat(roleConsumer, goroutines-1)...)
	}
	return []linRole{roleProducer, roleConsumer}
}

func slicesRepeat(r linRole, n int) []linRole {
	rs := make([]linRole, n)
	for i := range rs {
		rs[i] = r
	}
	return rs
}

// randomInput draws an operation for a goroutine of the given role; next
// hands out distinct element values.
func randomInput(rng *rand.Rand, role linRole, next func() byte) linInput {
	var op linOp
	switch role {
	case roleProducer:
		op = [...]linOp{linTryEnqueue, linEnqueueBurst, linEnqueueBulk}[rng.IntN(3)]
	case roleConsumer:
		op = [...]linOp{linTryDequeue, linDequeueBurst, linDequeueBulk}[rng.IntN(3)]
	default:
		op = linOp(rng.IntN(6))
	}
	n := 1
	if op != linTryEnqueue && op != linTryDequeue {
		n = 1 + rng.IntN(3)
	}
	if !op.enqueues() {
		return linInput{op: op, n: n}
	}
	vals := make([]byte, n)
	for i := range vals {
		vals[i] = next()
	}
	return linInput{op: op, vals: string(vals)}
}

// recordHistory runs one short history: the ring is prefilled with up to
// its capacity, then each role's goroutine runs opsEach random operations,
// all starting together. It returns the history and the prefilled state.
func recordHistory(q linQueue, capacity int, roles []linRole, opsEach int, rng *rand.Rand) ([]porcupine.Operation, string) {
	var pre []byte
	for i := range rng.IntN(capacity + 1) {
		v := byte(250 - i)
		if !q.TryEnqueue(v) {
			panic("prefill failed")
		}
		pre = append(pre, v)
	}
	base := time.Now()
	var start atomic.Bool
	var ready sync.WaitGroup
	var wg sync.WaitGroup
	hists := make([][]porcupine.Operation, len(roles))
	for g, role := range roles {
		seed1, seed2 := rng.Uint64(), rng.Uint64()
		ready.Add(1)
		wg.Go(func() {
			grng := rand.New(rand.NewPCG(seed1, seed2))
			nextVal := byte(g*50 + 1) // at most 50 values per goroutine, below the prefill's
			next := func() byte { nextVal++; return nextVal - 1 }
			ops := make([]porcupine.Operation, 0, opsEach)
			ready.Done()
			for !start.Load() {
				runtime.Gosched()
			}
			for range opsEach {
				in := randomInput(grng, role, next)
				for range grng.IntN(3) * 50 { // vary the interleaving a little
					_ = grng.Uint32()
				}
				call := time.Since(base).Nanoseconds()
				out := apply(q, in)
				ret := time.Since(base).Nanoseconds()
				ops = append(ops, porcupine.Operation{ClientId: g, Input: in, Call: call, Output: out, Return: ret})
			}
			hists[g] = ops
		})
	}
	ready.Wait()
	start.Store(true)
	wg.Wait()
	var all []porcupine.Operation
	for _, h := range hists {
		all = append(all, h...)
	}
	return all, string(pre)
}

// describeHistory prints a history for a failure message.
func describeHistory(model porcupine.Model, init string, ops []porcupine.Operation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "initial state %v\n", []byte(init))
	for _, op := range ops {
		fmt.Fprintf(&b, "\tgoroutine %d [%d, %d] %s\n", op.ClientId, op.Call, op.Return, model.DescribeOperation(op.Input, op.Output))
	}
	return b.String()
}

// checkHistories records and checks n histories on fresh rings from newQ.
// It returns the first history porcupine rejects, or nil.
func checkHistories(t *testing.T, newQ func() linQueue, capacity int, roles []linRole, opsEach, n int, seed uint64, strict bool) []porcupine.Operation {
	rng := rand.New(rand.NewPCG(seed, uint64(capacity)))
	for range n {
		q := newQ()
		ops, init := recordHistory(q, capacity, roles, opsEach, rng)
		model := queueModel(capacity, init, strict)
		switch porcupine.CheckOperationsTimeout(model, ops, 10*time.Second) {
		case porcupine.Illegal:
			t.Logf("not linearizable:\n%s", describeHistory(model, init, ops))
			return ops
		case porcupine.Unknown:
			t.Logf("porcupine timed out on:\n%s", describeHistory(model, init, ops))
		}
	}
	return nil
}

// TestLinearizable checks short concurrent histories of every ring type,
// with each side using only as many goroutines as the type allows.
func TestLinearizable(t *testing.T) {
	histories := stress.N(30_000, 4_500)
	forEachKind(t, func(t *testing.T, k kind) {
		for _, c := range []int{2, 3} {
			for _, goroutines := range []int{2, 3, 4} {
				roles := k.roles(goroutines)
				if goroutines != len(roles) {
					continue // SPSC: always two
				}
				name := fmt.Sprintf("cap=%d/goroutines=%d", c, goroutines)
				t.Run(name, func(t *testing.T) {
					newQ := func() linQueue { return mustQueue[byte](t, k, c) }
					opsEach := 8 - goroutines // 6 to 12 operations in all
					if bad := checkHistories(t, newQ, c, roles, opsEach, histories/3, uint64(goroutines), false); bad != nil {
						t.Fatal("history not linearizable (see log)")
					}
				})
			}
		}
	})
}

// TestLinearizabilityCheckerRejects proves that the checker above can
// fail: it rejects hand-built histories that no queue could produce, and
// the histories of queues that break linearizability in subtle ways.
func TestLinearizabilityCheckerRejects(t *testing.T) {
	op := func(client int, call, ret int64, in linInput, out linOutput) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}
	}
	enq := func(v byte) linInput { return linInput{op: linTryEnqueue, vals: string([]byte{v})} }
	deq := linInput{op: linTryDequeue}
	for _, tc := range []struct {
		name           string
		capacity       int
		init           string
		ops            []porcupine.Operation
		strict, ok     bool
		relaxedAlsoBad bool
	}{
		{
			name: "empty after a completed enqueue", capacity: 2,
			ops: []porcupine.Operation{
				op(0, 0, 1, enq(1), linOutput{ok: true}),
				op(1, 2, 3, deq, linOutput{}),
			},
		},
		{
			name: "full when it was not", capacity: 2, init: "\x05",
			ops: []porcupine.Operation{op(0, 0, 1, enq(1), linOutput{})},
		},
		{
			name: "dequeue out of order", capacity: 3,
			ops: []porcupine.Operation{
				op(0, 0, 1, enq(1), linOutput{ok: true}),
				op(0, 2, 3, enq(2), linOutput{ok: true}),
				op(1, 4, 5, deq, linOutput{ok: true, vals: "\x02"}),
			},
		},
		{
			name: "burst of none on a ring with room", capacity: 2,
			ops: []porcupine.Operation{op(0, 0, 1, linInput{op: linEnqueueBurst, vals: "\x01"}, linOutput{n: 0})},
		},
		{
			name: "bulk that took part", capacity: 3, init: "\x01\x02",
			ops: []porcupine.Operation{op(0, 0, 1, linInput{op: linDequeueBulk, n: 3}, linOutput{ok: true, vals: "\x01\x02"})},
		},
		{
			// The producer's burst decided one slot was free, then the
			// consumer emptied the ring and found it empty before the
			// burst published: legal for package ring, not for a strict
			// queue.
			name: "burst smaller than the room at its end", capacity: 2, init: "\x09",
			ops: []porcupine.Operation{
				op(0, 0, 10, linInput{op: linEnqueueBurst, vals: "\x01\x02"}, linOutput{n: 1}),
				op(1, 1, 2, deq, linOutput{ok: true, vals: "\x09"}),
				op(1, 3, 4, deq, linOutput{}),
			},
			strict: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if porcupine.CheckOperations(queueModel(tc.capacity, tc.init, tc.strict), tc.ops) {
				t.Errorf("checker accepted a history that is not linearizable (strict=%v)", tc.strict)
			}
			if tc.strict && !porcupine.CheckOperations(queueModel(tc.capacity, tc.init, false), tc.ops) {
				t.Errorf("relaxed checker rejected a history the ring's contract allows")
			}
		})
	}

	// Queues that misbehave only under concurrency.
	for _, tc := range []struct {
		name string
		q    func() linQueue
	}{
		{"spurious empty", func() linQueue { return &brokenQueue{capacity: 2, spuriousEmpty: true} }},
		{"burst out of order", func() linQueue { return &brokenQueue{capacity: 3, swapBurst: true} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			roles := []linRole{roleBoth, roleBoth, roleBoth}
			if checkHistories(t, tc.q, 3, roles, 6, 3000, 1, false) == nil {
				t.Errorf("no history of a %s queue was rejected", tc.name)
			}
		})
	}
}

// brokenQueue is a mutex-protected bounded queue with a planted fault.
type brokenQueue struct {
	mu            sync.Mutex
	elems         []byte
	capacity      int
	calls         int
	spuriousEmpty bool // every third TryDequeue reports empty regardless
	swapBurst     bool // DequeueBurst returns its first two elements swapped
}

func (b *brokenQueue) TryEnqueue(v byte) bool { return b.EnqueueBulk([]byte{v}) }

func (b *brokenQueue) TryDequeue() (byte, bool) {
	var dst [1]byte
	b.mu.Lock()
	b.calls++
	spurious := b.spuriousEmpty && b.calls%3 == 0
	b.mu.Unlock()
	if spurious || b.DequeueBurst(dst[:]) == 0 {
		return 0, false
	}
	return dst[0], true
}

func (b *brokenQueue) EnqueueBurst(src []byte) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := min(len(src), b.capacity-len(b.elems))
	b.elems = append(b.elems, src[:n]...)
	return n
}

func (b *brokenQueue) DequeueBurst(dst []byte) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := copy(dst, b.elems)
	b.elems = b.elems[n:]
	if b.swapBurst && n >= 2 {
		dst[0], dst[1] = dst[1], dst[0]
	}
	return n
}

func (b *brokenQueue) EnqueueBulk(src []byte) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(src) > b.capacity-len(b.elems) {
		return false
	}
	b.elems = append(b.elems, src...)
	return true
}

func (b *brokenQueue) DequeueBulk(dst []byte) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(dst) > len(b.elems) {
		return false
	}
	copy(dst, b.elems)
	b.elems = b.elems[len(dst):]
	return true
}
