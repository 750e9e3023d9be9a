package release

import (
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"
)

func TestStores(t *testing.T) {
	var a atomic.Uint64
	Store64(&a, 1<<40+3)
	if a.Load() != 1<<40+3 {
		t.Fatalf("after Store64: %d, want %d", a.Load(), uint64(1<<40+3))
	}
}

// TestRun64 stores runs into words spaced as ring slots are (a word and a
// value), and checks that exactly the run's words changed, to the right
// values.
func TestRun64(t *testing.T) {
	type slot struct {
		seq atomic.Uint64
		val [3]uint64
	}
	for _, n := range []uint64{0, 1, 2, 7, 16} {
		slots := make([]slot, 20)
		for i := range slots {
			slots[i].seq.Store(^uint64(0))
			slots[i].val = [3]uint64{7, 7, 7}
		}
		const first = 2
		Run64(&slots[first].seq, unsafe.Sizeof(slots[0]), n, 100)
		for i := range slots {
			want := ^uint64(0)
			if i >= first && uint64(i) < first+n {
				want = 100 + uint64(i-first)
			}
			if got := slots[i].seq.Load(); got != want {
				t.Errorf("n=%d: slot %d's word = %d, want %d", n, i, got, want)
			}
			if slots[i].val != [3]uint64{7, 7, 7} {
				t.Errorf("n=%d: slot %d's value changed: %v", n, i, slots[i].val)
			}
		}
	}
}

// TestPublish hands values from one goroutine to another through a word
// stored with Store64: whoever loads the word sees what was written
// before it.
func TestPublish(t *testing.T) {
	const rounds = 10000
	var word atomic.Uint64
	data := make([]uint64, rounds+1)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := uint64(1); i <= rounds; i++ {
			data[i] = i * 3
			Store64(&word, i)
		}
	})
	for seen := uint64(0); seen < rounds; {
		w := word.Load()
		for ; seen < w; seen++ {
			if data[seen+1] != (seen+1)*3 {
				t.Fatalf("value %d read as %d after its word was seen", seen+1, data[seen+1])
			}
		}
	}
	wg.Wait()
}
