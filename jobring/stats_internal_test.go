package jobring

import (
	"testing"
)

func TestBatchBucket(t *testing.T) {
	for n, want := range map[int]int{1: 0, 2: 1, 3: 2, 4: 2, 5: 3, 8: 3, 9: 4, 32: 5, 1 << 20: 15} {
		if got := batchBucket(n); got != want {
			t.Errorf("batchBucket(%d) = %d, want %d", n, got, want)
		}
	}
}
