package ring_test

import (
	"context"
	"testing"

	"github.com/ringkit/ringkit/ring"
)

// TestAllocs checks that no operation allocates when it need not wait:
// Try, Burst and Bulk never, Enqueue and Dequeue when there is room or an
// element, and SPSC's Reserve/Commit and Peek/Release. It covers a value
// and a pointer element type. It runs under the race detector too, which
// adds no allocations to these paths (checked on Go 1.26).
func TestAllocs(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		t.Run("int", func(t *testing.T) { checkAllocs(t, k, func(i int) int { return i + 1 }) })
		ptrs := make([]*int, 4)
		for i := range ptrs {
			ptrs[i] = new(int)
		}
		t.Run("pointer", func(t *testing.T) { checkAllocs(t, k, func(i int) *int { return ptrs[i%len(ptrs)] }) })
	})
}

func checkAllocs[T any](t *testing.T, k kind, gen func(i int) T) {
	const c, runs = 512, 100 // AllocsPerRun calls once more than runs
	r := mustQueue[T](t, k, c)
	r.SetPos(ring.WrapPoint - 200)
	src := []T{gen(0), gen(1), gen(2)}
	dst := make([]T, 3)
	big := make([]T, c)
	empty := func() { r.DequeueBurst(big) }
	filled := func() {
		empty()
		for i := range big {
			big[i] = gen(i)
		}
		if r.EnqueueBulk(big) != true {
			t.Fatal("EnqueueBulk of a whole ring failed")
		}
	}
	ctx := context.Background()
	spsc, _ := r.(*ring.SPSC[T])
	for _, op := range []struct {
		name  string
		setup func()
		f     func()
	}{
		{"TryEnqueue", empty, func() { r.TryEnqueue(src[0]) }},
		{"TryDequeue", filled, func() { r.TryDequeue() }},
		{"EnqueueBurst", empty, func() { r.EnqueueBurst(src) }},
		{"DequeueBurst", filled, func() { r.DequeueBurst(dst) }},
		{"EnqueueBulk", empty, func() { r.EnqueueBulk(src) }},
		{"DequeueBulk", filled, func() { r.DequeueBulk(dst) }},
		{"Enqueue", empty, func() { r.Enqueue(ctx, src[0]) }},
		{"Dequeue", filled, func() { r.Dequeue(ctx) }},
		{"refused TryEnqueue", filled, func() { r.TryEnqueue(src[0]) }},
		{"refused TryDequeue", empty, func() { r.TryDequeue() }},
		{"refused EnqueueBurst", filled, func() { r.EnqueueBurst(src) }},
		{"refused DequeueBulk", empty, func() { r.DequeueBulk(dst) }},
		{"Reserve/Commit", empty, func() {
			first, second := spsc.Reserve(2)
			copy(second, src[copy(first, src[:2]):2])
			spsc.Commit(2)
		}},
		{"Peek/Release", filled, func() {
			spsc.Peek(2)
			spsc.Release(2)
		}},
	} {
		if spsc == nil && (op.name == "Reserve/Commit" || op.name == "Peek/Release") {
			continue
		}
		op.setup()
		before := r.Len()
		if n := testing.AllocsPerRun(runs, op.f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", op.name, n)
		}
		if r.Len() == before && op.name[:3] != "ref" {
			t.Errorf("%s did nothing: Len() stayed %d", op.name, before)
		}
	}
}
