package jobring_test

import (
	"context"
	"testing"

	"github.com/ringkit/ringkit/jobring"
)

func TestSmoke(t *testing.T) {
	r, err := jobring.New(jobring.Config[uint64, uint64]{
		Slots: 64,
		Workers: []jobring.Worker[uint64, uint64]{
			{Name: "c0", Kinds: jobring.Kinds(0), Do: func(k jobring.Kind, j *uint64, res *uint64) error { *res = *j * 2; return nil }},
			{Name: "c1", Kinds: jobring.Kinds(0), Do: func(k jobring.Kind, j *uint64, res *uint64) error { *res = *j * 2; return nil }},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const n = 10000
	go func() {
		for i := range uint64(n) {
			if _, err := r.Submit(ctx, jobring.Task[uint64]{Job: i}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	buf := make([]jobring.Completion[uint64, uint64], 16)
	next := uint64(0)
	for next < n {
		k, err := r.RetireWait(ctx, buf)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range buf[:k] {
			if c.Seq != next || c.Job != next || c.Result != 2*next {
				t.Fatalf("got %+v want seq %d", c, next)
			}
			next++
		}
	}
	r.Close()
	t.Log(r.Stats())
}
