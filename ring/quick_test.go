package ring_test

import (
	"context"
	"sync"
	"testing"

	"github.com/ringkit/ringkit/ring"
)

func TestQuickMPMC(t *testing.T) {
	r, err := ring.NewMPMC[int](5)
	if err != nil {
		t.Fatal(err)
	}
	r.SetPos(ring.WrapPoint - 7)
	for i := 0; i < 5; i++ {
		if !r.TryEnqueue(i) {
			t.Fatal("enqueue", i)
		}
	}
	if r.TryEnqueue(9) {
		t.Fatal("enqueue on full")
	}
	for i := 0; i < 5; i++ {
		v, ok := r.TryDequeue()
		if !ok || v != i {
			t.Fatal("dequeue", i, v, ok)
		}
	}
	var wg sync.WaitGroup
	const P, N = 4, 20000
	sum := make(chan int, P)
	for p := 0; p < P; p++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < N; i++ {
				if err := r.Enqueue(context.Background(), i); err != nil {
					t.Error(err)
				}
			}
		}()
		go func() {
			defer wg.Done()
			s := 0
			for i := 0; i < N; i++ {
				v, err := r.Dequeue(context.Background())
				if err != nil {
					t.Error(err)
				}
				s += v
			}
			sum <- s
		}()
	}
	wg.Wait()
	total := 0
	for p := 0; p < P; p++ {
		total += <-sum
	}
	if total != P*N*(N-1)/2 {
		t.Fatal("sum", total)
	}
}

func TestQuickSPSC(t *testing.T) {
	r, _ := ring.NewSPSC[int](3)
	r.SetPos(ring.WrapPoint - 2)
	const N = 100000
	go func() {
		buf := []int{0, 0}
		for i := 0; i < N; {
			if i%3 == 0 {
				if err := r.Enqueue(context.Background(), i); err != nil {
					panic(err)
				}
				i++
				continue
			}
			buf[0], buf[1] = i, i+1
			n := min(2, N-i)
			i += r.EnqueueBurst(buf[:n])
		}
		r.Close()
	}()
	want := 0
	for {
		v, err := r.Dequeue(context.Background())
		if err != nil {
			break
		}
		if v != want {
			t.Fatal("got", v, "want", want)
		}
		want++
	}
	if want != N {
		t.Fatal("count", want)
	}
}
