package ring_test

import (
	"fmt"
	"testing"
	"unsafe"
)

// elem20 is a 20-byte element: not a multiple of 8, so slots straddle
// words.
type elem20 struct{ a, b, c, d, e int32 }

func TestElem20Size(t *testing.T) {
	if s := unsafe.Sizeof(elem20{}); s != 20 {
		t.Fatalf("elem20 is %d bytes, want 20", s)
	}
}

// TestFIFO passes elements of several sizes through every ring type with
// single operations, bursts and bulks interleaved, checking order and
// values.
func TestFIFO(t *testing.T) {
	ptrs := make([]*int, 500)
	for i := range ptrs {
		ptrs[i] = new(int)
	}
	forEachKind(t, func(t *testing.T, k kind) {
		t.Run("int32", func(t *testing.T) { checkFIFO(t, k, func(i int) int32 { return int32(i*7 + 1) }) })
		t.Run("elem20", func(t *testing.T) {
			checkFIFO(t, k, func(i int) elem20 { return elem20{int32(i), -int32(i), int32(i) << 8, 1, int32(i) ^ 0x5a5a} })
		})
		t.Run("pointer", func(t *testing.T) { checkFIFO(t, k, func(i int) *int { return ptrs[i] }) })
		t.Run("string", func(t *testing.T) { checkFIFO(t, k, func(i int) string { return fmt.Sprint("element ", i) }) })
	})
}

// checkFIFO moves 500 elements gen(0..499) through a ring of capacity 7,
// alternating between enqueue and dequeue operations of every kind.
func checkFIFO[T comparable](t *testing.T, k kind, gen func(i int) T) {
	const n, c = 500, 7
	r := mustQueue[T](t, k, c)
	in, out := 0, 0
	buf := make([]T, c+1)
	var zero T
	for step := 0; out < n; step++ {
		// Enqueue with the step's operation.
		switch step % 3 {
		case 0:
			if in < n && r.TryEnqueue(gen(in)) {
				in++
			}
		case 1:
			m := min(1+step%5, n-in)
			for i := range m {
				buf[i] = gen(in + i)
			}
			in += r.EnqueueBurst(buf[:m])
		case 2:
			m := min(1+step%4, n-in)
			for i := range m {
				buf[i] = gen(in + i)
			}
			if r.EnqueueBulk(buf[:m]) {
				in += m
			}
		}
		if r.Len() != in-out {
			t.Fatalf("step %d: Len() = %d, want %d", step, r.Len(), in-out)
		}
		// Dequeue with another operation, so that the ring fills up.
		got := 0
		clear(buf)
		switch step % 4 {
		case 0:
			if v, ok := r.TryDequeue(); ok {
				buf[0], got = v, 1
			}
		case 1:
			got = r.DequeueBurst(buf[:1+step%3])
		case 2:
			if m := 1 + step%2; r.DequeueBulk(buf[:m]) {
				got = m
			}
		case 3:
			// nothing: let the ring fill
		}
		for i, v := range buf[:got] {
			if want := gen(out + i); v != want {
				t.Fatalf("step %d: element %d = %v, want %v", step, out+i, v, want)
			}
			if v == zero {
				t.Fatalf("step %d: element %d is the zero value", step, out+i)
			}
		}
		out += got
		if r.Len() != in-out {
			t.Fatalf("step %d: Len() = %d, want %d", step, r.Len(), in-out)
		}
	}
	if in != n || r.Len() != 0 {
		t.Fatalf("enqueued %d, Len() = %d at the end", in, r.Len())
	}
}
