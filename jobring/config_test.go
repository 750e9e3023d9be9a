package jobring_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ringkit/ringkit/jobring"
)

// TestNewMemoryLimit: a legal Slots whose slots would not fit in memory is
// refused with an error wrapping ErrConfig that says how many bytes were
// asked for, the limit and how to raise it, before anything is allocated
// (the process would otherwise die with "fatal error: out of memory",
// which no recover catches); Config.MaxBytes moves the limit.
func TestNewMemoryLimit(t *testing.T) {
	type big [64]byte
	do := func(context.Context, jobring.Kind, *big, *big) error { return nil }
	ws := []jobring.Worker[big, big]{{Name: "c", Kinds: jobring.Kinds(0), Do: do}}
	_, err := jobring.New(jobring.Config[big, big]{Slots: 1 << 30, Workers: ws})
	if !errors.Is(err, jobring.ErrConfig) {
		t.Fatalf("New of 2^30 slots of 64-byte jobs and results = %v, want ErrConfig", err)
	}
	for _, want := range []string{"bytes", fmt.Sprintf("limit of %d bytes", jobring.DefaultMaxBytes), "Config.MaxBytes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("New of 2^30 slots: %v; want it to say %q", err, want)
		}
	}
	for _, tc := range []struct {
		max int64
		ok  bool
	}{{0, true}, {1 << 10, false}, {1 << 30, true}, {-1, false}} {
		r, err := jobring.New(jobring.Config[big, big]{Slots: 1024, Workers: ws, MaxBytes: tc.max})
		if ok := err == nil; ok != tc.ok || !ok && !errors.Is(err, jobring.ErrConfig) {
			t.Errorf("New of 1024 slots with MaxBytes %d = %v, want ok=%t", tc.max, err, tc.ok)
		}
		if r != nil {
			r.Close()
		}
	}
}

// TestSizesCutToSlots: a worker's Batch and the RetireBurst may be any
// positive number; above the slot count they are cut to it (a batch or a
// retirement burst never holds more jobs than the ring), so that they
// cannot ask for more memory than the slots themselves.
func TestSizesCutToSlots(t *testing.T) {
	r := newRing(t, cfg{
		Slots:       4,
		RetireBurst: math.MaxInt,
		OnRetire:    func([]completion) {},
		Workers:     []wk{{Name: "c", Kinds: jobring.Kinds(0), Batch: math.MaxInt, Do: doer(0, nil)}},
	})
	for i := range 4 {
		if _, ok := r.TrySubmit(jobring.Task[uint64]{Job: uint64(i)}); !ok {
			t.Fatalf("TrySubmit %d failed", i)
		}
	}
	waitFor(t, "the jobs retired", 5*time.Second, func() bool { return r.Len() == 0 })
	if st := r.Stats().Workers[0]; st.Jobs != 4 || st.MaxBatch > 4 {
		t.Errorf("worker stats %+v: want 4 jobs in batches of at most 4", st)
	}
}

// TestThresholdAboveSlots: a fallback threshold above the ring's slot
// count (Slots rounded up to a power of two) could never be reached, so
// the fallback would never fire; New refuses it with ErrConfig, and
// accepts a threshold of exactly the slot count.
func TestThresholdAboveSlots(t *testing.T) {
	ws := []wk{{Name: "dev", Class: jobring.Coprocessor, Kinds: jobring.Kinds(0), Do: doer(0, nil)}, {Name: "core", Do: doer(1, nil)}}
	for _, tc := range []struct {
		slots, threshold int
		ok               bool
	}{{8, 8, true}, {8, 9, false}, {5, 8, true}, {5, 9, false}, {8, 0, true}, {8, -1, true}, {64, 1 << 20, false}} {
		r, err := jobring.New(cfg{Slots: tc.slots, Workers: ws, Rules: jobring.Rules{Fallbacks: []jobring.Fallback{{Kind: 0, Threshold: tc.threshold}}}})
		if r != nil {
			r.Close()
		}
		if ok := err == nil; ok != tc.ok || !ok && (!errors.Is(err, jobring.ErrConfig) || !strings.Contains(err.Error(), "Threshold")) {
			t.Errorf("New of %d slots with a fallback threshold of %d = %v, want ok=%t", tc.slots, tc.threshold, err, tc.ok)
		}
	}
}
