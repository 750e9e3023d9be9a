package wait

import (
	"runtime"
	"testing"
)

// woken reports whether w holds a wake token, without blocking.
func woken(w *Waiter) bool {
	select {
	case <-w.C():
		return true
	default:
		return false
	}
}

func TestWakeOldestFirst(t *testing.T) {
	var q Queue
	a, b, c := q.Prepare(), q.Prepare(), q.Prepare()
	if !q.Waiting() {
		t.Fatal("Waiting() = false with three registered waiters")
	}
	q.Wake(2)
	if !woken(a) || !woken(b) || woken(c) {
		t.Fatal("Wake(2) did not wake exactly the two oldest waiters")
	}
	q.Done(a)
	q.Done(b)
	if !q.Waiting() {
		t.Fatal("Waiting() = false with one waiter left")
	}
	q.WakeAll()
	if !woken(c) {
		t.Fatal("WakeAll did not wake the last waiter")
	}
	q.Done(c)
	if q.Waiting() {
		t.Fatal("Waiting() = true after every waiter was woken")
	}
}

// A waiter that cancels after it was given a wake passes the wake on, so the
// wake-up is not lost.
func TestCancelPassesWakeOn(t *testing.T) {
	var q Queue
	a, b := q.Prepare(), q.Prepare()
	q.Wake(1) // goes to a
	q.Cancel(a)
	if !woken(b) {
		t.Fatal("a cancelled waiter that held a wake did not pass it on")
	}
	q.Done(b)
	if q.Waiting() {
		t.Fatal("Waiting() = true with no waiter left")
	}
}

// A waiter that cancels before any wake leaves the queue without taking one.
func TestCancelUnwoken(t *testing.T) {
	var q Queue
	a, b := q.Prepare(), q.Prepare()
	q.Cancel(a)
	q.Wake(1)
	if !woken(b) {
		t.Fatal("Wake(1) after a's Cancel did not reach b")
	}
	q.Done(b)
}

func TestBackoffEnds(t *testing.T) {
	var b Backoff
	n := 0
	for b.Spin() {
		n++
		if n > 1000 {
			t.Fatal("Spin never ended its busy phase")
		}
	}
	want := spinRounds + yieldRounds
	if runtime.GOMAXPROCS(0) == 1 {
		want = yieldRounds
	}
	if n != want {
		t.Fatalf("Spin returned true %d times, want %d", n, want)
	}
}

// With one P nothing else runs while a waiter spins, so it only yields.
func TestBackoffNoSpinOnOneP(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var b Backoff
	n := 0
	for b.Spin() {
		n++
	}
	if n != yieldRounds {
		t.Fatalf("with GOMAXPROCS=1 Spin returned true %d times, want %d (yields only)", n, yieldRounds)
	}
}

// TestStalled: a wait is Stalled only once Pause has spun every round and
// then yielded stallYields times.
func TestStalled(t *testing.T) {
	var b Backoff
	for i := range spinRounds + stallYields {
		if b.Stalled() {
			t.Fatalf("Stalled after %d Pauses, want only after %d", i, spinRounds+stallYields)
		}
		b.Pause()
	}
	if !b.Stalled() {
		t.Fatalf("not Stalled after %d Pauses", spinRounds+stallYields)
	}
	for range 100 {
		b.Pause()
	}
	if !b.Stalled() {
		t.Fatal("no longer Stalled after more Pauses")
	}
}
