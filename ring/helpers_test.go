package ring_test

import (
	"context"
	"testing"
	"time"

	"github.com/ringkit/ringkit/ring"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// queue is the method set the four ring types share, plus the test hooks
// of export_test.go.
type queue[T any] interface {
	TryEnqueue(v T) bool
	TryDequeue() (T, bool)
	EnqueueBurst(src []T) int
	DequeueBurst(dst []T) int
	EnqueueBulk(src []T) bool
	DequeueBulk(dst []T) bool
	Enqueue(ctx context.Context, v T) error
	Dequeue(ctx context.Context) (T, error)
	Close() error
	Len() int
	Cap() int

	SetPos(p uint64)
	Slots() []T
	Parked() (producers, consumers bool)
}

var (
	_ queue[int] = (*ring.SPSC[int])(nil)
	_ queue[int] = (*ring.MPSC[int])(nil)
	_ queue[int] = (*ring.SPMC[int])(nil)
	_ queue[int] = (*ring.MPMC[int])(nil)
)

// kind names a ring type and what concurrency it allows.
type kind struct {
	name          string
	multiProducer bool
	multiConsumer bool
}

var kinds = []kind{
	{"SPSC", false, false},
	{"MPSC", true, false},
	{"SPMC", false, true},
	{"MPMC", true, true},
}

// producers returns want, or 1 if the kind allows only one producer.
func (k kind) producers(want int) int {
	if k.multiProducer {
		return want
	}
	return 1
}

// consumers returns want, or 1 if the kind allows only one consumer.
func (k kind) consumers(want int) int {
	if k.multiConsumer {
		return want
	}
	return 1
}

// newQueue calls the constructor of kind k.
func newQueue[T any](k kind, capacity int) (queue[T], error) {
	switch k.name {
	case "SPSC":
		return asQueue(ring.NewSPSC[T](capacity))
	case "MPSC":
		return asQueue(ring.NewMPSC[T](capacity))
	case "SPMC":
		return asQueue(ring.NewSPMC[T](capacity))
	case "MPMC":
		return asQueue(ring.NewMPMC[T](capacity))
	}
	panic("unknown kind " + k.name)
}

func asQueue[T any, R queue[T]](r R, err error) (queue[T], error) {
	if err != nil {
		return nil, err
	}
	return r, nil
}

// mustQueue is newQueue for capacities that must be accepted.
func mustQueue[T any](t testing.TB, k kind, capacity int) queue[T] {
	t.Helper()
	r, err := newQueue[T](k, capacity)
	if err != nil {
		t.Fatalf("New%s(%d): %v", k.name, capacity, err)
	}
	return r
}

// forEachKind runs f as a subtest per ring type.
func forEachKind(t *testing.T, f func(t *testing.T, k kind)) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) { f(t, k) })
	}
}

// nonZero counts the slots that hold something other than the zero value.
func nonZero[T comparable](slots []T) int {
	var zero T
	n := 0
	for _, v := range slots {
		if v != zero {
			n++
		}
	}
	return n
}

// eventually polls cond every millisecond until it holds or d passes.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}
