package tail

import (
	"sync"
	"sync/atomic"
	"testing"
)

func TestCloseOnceKeepsPosition(t *testing.T) {
	var w atomic.Uint64
	w.Store(12345)
	if IsClosed(&w) {
		t.Fatal("a fresh word is closed")
	}
	if !Close(&w) {
		t.Fatal("the first Close reported the word closed already")
	}
	if Close(&w) {
		t.Fatal("a second Close reported that it closed the word")
	}
	if !IsClosed(&w) || w.Load()&Pos != 12345 {
		t.Fatalf("after Close: closed %v, position %d, want true, 12345", IsClosed(&w), w.Load()&Pos)
	}
}

// TestCloseRacesClaims closes the word while claimers move it forward with
// compare-and-swap, as producers do: exactly one Close wins, and the
// position is the number of claims that succeeded.
func TestCloseRacesClaims(t *testing.T) {
	var w atomic.Uint64
	var wins, claims atomic.Int32
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10000 {
				p := w.Load()
				if p&Closed != 0 {
					return
				}
				if w.CompareAndSwap(p, p+1) {
					claims.Add(1)
				}
			}
		})
	}
	for range 3 {
		wg.Go(func() {
			if Close(&w) {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d Close calls won, want 1", wins.Load())
	}
	if got := w.Load() & Pos; got != uint64(claims.Load()) || !IsClosed(&w) {
		t.Fatalf("position %d with %d claims, closed %v", got, claims.Load(), IsClosed(&w))
	}
}
