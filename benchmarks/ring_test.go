package benchmarks

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// A suite is one ring type within a table: the shapes its type allows,
// and ringkit's ring with the peers that fit those shapes. xsync's bounded
// MPMCQueue stands in for MPSC and SPMC, as it has no bounded queue
// specialized for them.
type suite struct {
	name   string
	shapes []shape
	impls  []impl
}

var (
	oneToOne = []shape{uncontended, pc(1, 1)}
	many     = []shape{uncontended, pc(1, 1), pc(4, 4), pc(16, 16)}
)

// tryTable is the like-for-like table: every contender through calls that
// make one attempt and return, each failed attempt followed by the one
// shared backoff. Workiva is not in it (no try-take; see peers_test.go).
func tryTable() []suite {
	return []suite{
		{"SPSC", oneToOne, []impl{ringkitTrySPSC(), chanTry(), xsyncTrySPSC()}},
		{"MPSC", []shape{uncontended, pc(1, 1), pc(4, 1), pc(16, 1)}, []impl{ringkitTryMPSC(), chanTry(), xsyncTryMPMC()}},
		{"SPMC", []shape{uncontended, pc(1, 1), pc(1, 4), pc(1, 16)}, []impl{ringkitTrySPMC(), chanTry(), xsyncTryMPMC()}},
		{"MPMC", many, []impl{ringkitTryMPMC(), chanTry(), xsyncTryMPMC()}},
	}
}

// bestTable is the each-at-its-best table: every contender through its
// blocking calls, waiting the way it waits. xsync is not in it: v4 has no
// blocking calls.
func bestTable() []suite {
	return []suite{
		{"SPSC", oneToOne, []impl{ringkitBestSPSC(), chanBest(), workivaBest()}},
		{"MPMC", many, []impl{ringkitBestMPMC(), chanBest(), workivaBest()}},
	}
}

// BenchmarkTry is the like-for-like table, BenchmarkTry/RING/SHAPE/burst=N/IMPL.
func BenchmarkTry(b *testing.B) { bench(b, tryTable()) }

// BenchmarkBest is the each-at-its-best table, BenchmarkBest/RING/SHAPE/burst=N/IMPL.
func BenchmarkBest(b *testing.B) { bench(b, bestTable()) }

// TestSmoke runs every loop the benchmarks time, briefly, and checks that
// each element sent was received exactly once. The counts are not multiples
// of the burst or of the number of goroutines, and exceed the capacity, so
// partial bursts, uneven shares and full and empty queues all occur.
func TestSmoke(t *testing.T) {
	for _, table := range []struct {
		name   string
		suites []suite
	}{{"Try", tryTable()}, {"Best", bestTable()}} {
		for _, s := range table.suites {
			for _, sh := range s.shapes {
				for _, burst := range bursts {
					for _, im := range s.impls {
						name := fmt.Sprintf("%s/%s/%s/burst=%d/%s", table.name, s.name, sh.name, burst, im.name)
						t.Run(name, func(t *testing.T) { smoke(t, im, sh, burst) })
					}
				}
			}
		}
	}
}

// smoke runs one implementation's loop for one shape and burst.
func smoke(t *testing.T, im impl, sh shape, burst int) {
	const (
		roundTrips = 101
		elements   = 10_007
	)
	if sh == uncontended {
		var calls uint64
		more := func() bool { calls++; return calls <= roundTrips }
		n, sum := im.roundTrip(more, burst)
		want := min(calls, roundTrips) * uint64(burst)
		if err := verify(want, want, n, sum); err != nil {
			t.Fatal(err)
		}
		return
	}
	p := im.pipe(burst)
	defer p.close()
	sent, got, sum := pump(p, sh.producers, sh.consumers, elements, func() {})
	if err := verify(elements, sent, got, sum); err != nil {
		t.Fatal(err)
	}
}

// TestVerify checks that the check the benchmarks rely on rejects a run that
// lost, duplicated or corrupted an element.
func TestVerify(t *testing.T) {
	const n = 1000
	good := triangle(n)
	for _, tc := range []struct {
		name           string
		sent, got, sum uint64
		wantErr        bool
	}{
		{"correct", n, n, good, false},
		{"producer stopped early", n - 1, n - 1, good - n, true},
		{"lost one", n, n - 1, good - 7, true},
		{"duplicated one in place of another", n, n, good - 7 + 8, true},
		{"zero value in place of one", n, n, good - 7, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := verify(n, tc.sent, tc.got, tc.sum)
			if (err != nil) != tc.wantErr {
				t.Errorf("verify(%d, %d, %d, %d) = %v, want error: %t", uint64(n), tc.sent, tc.got, tc.sum, err, tc.wantErr)
			}
		})
	}
	if got := triangle(n); got != n*(n+1)/2 {
		t.Errorf("triangle(%d) = %d, want %d", n, got, n*(n+1)/2)
	}
}

// TestSplit checks that shares sum to the whole and differ by at most one,
// so that no consumer waits for an element no producer sends.
func TestSplit(t *testing.T) {
	for _, n := range []uint64{0, 1, 15, 16, 17, 10_007} {
		for _, k := range []int{1, 4, 16} {
			shares := split(n, k)
			var sum, lo, hi uint64 = 0, shares[0], shares[0]
			for _, s := range shares {
				sum += s
				lo, hi = min(lo, s), max(hi, s)
			}
			if len(shares) != k || sum != n || hi-lo > 1 {
				t.Errorf("split(%d, %d) = %v, want %d shares summing to %d within one of each other", n, k, shares, k, n)
			}
		}
	}
}

// implSource returns the body of the function in file that makes impl
// name: "func name() impl {" up to the closing brace at the start of a line.
func implSource(t *testing.T, file, name string) string {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	decl := "func " + name + "() impl {"
	_, fn, ok := strings.Cut(string(src), decl)
	fn, _, closed := strings.Cut(fn, "\n}\n")
	if !ok || !closed {
		t.Fatalf("%s: no %s ... } found", file, decl)
	}
	return fn
}

// TestCopiesAgree checks that the per-type copies of the loops (see impl)
// are still one loop under different type names: a change made to one copy
// and not the others would make the benchmarks compare different work.
func TestCopiesAgree(t *testing.T) {
	for _, c := range []struct {
		file, prefix string
		types        []string
	}{
		{"ringkit_test.go", "ringkitTry", []string{"SPSC", "MPSC", "SPMC", "MPMC"}},
		{"ringkit_test.go", "ringkitBest", []string{"SPSC", "MPMC"}},
		{"peers_test.go", "xsyncTry", []string{"SPSC", "MPMC"}},
	} {
		// body is the function that makes the impl of typ, with the type's
		// name replaced by T.
		body := func(typ string) string {
			return strings.ReplaceAll(implSource(t, c.file, c.prefix+typ), typ, "T")
		}
		want := body(c.types[0])
		for _, typ := range c.types[1:] {
			if body(typ) != want {
				t.Errorf("%s: %s%s is not a copy of %s%s with the type renamed", c.file, c.prefix, typ, c.prefix, c.types[0])
			}
		}
	}
}

// TestTryLoopsNeverBlock checks the claim of the like-for-like table: its
// loops call nothing that waits. Every channel operation of chanTry is a
// case of a select (which has a default case), and no ring loop calls
// Enqueue or Dequeue, whose waiting would replace the shared backoff.
func TestTryLoopsNeverBlock(t *testing.T) {
	for _, fn := range []struct{ file, name string }{
		{"peers_test.go", "chanTry"},
		{"peers_test.go", "xsyncTrySPSC"},
		{"peers_test.go", "xsyncTryMPMC"},
		{"ringkit_test.go", "ringkitTrySPSC"},
		{"ringkit_test.go", "ringkitTryMPSC"},
		{"ringkit_test.go", "ringkitTrySPMC"},
		{"ringkit_test.go", "ringkitTryMPMC"},
	} {
		src := implSource(t, fn.file, fn.name)
		selects, defaults := strings.Count(src, "select {"), strings.Count(src, "default:")
		if selects != defaults {
			t.Errorf("%s: %d selects, %d default cases", fn.name, selects, defaults)
		}
		for i, line := range strings.Split(src, "\n") {
			line = strings.TrimSpace(line)
			if strings.Contains(line, "<-") && !strings.HasPrefix(line, "case ") {
				t.Errorf("%s, line %d of its body: %q blocks on a channel", fn.name, i+1, line)
			}
			for _, call := range []string{".Enqueue(", ".Dequeue(", ".Put(", ".Get("} {
				if strings.Contains(line, call) {
					t.Errorf("%s, line %d of its body: %q calls a blocking %s", fn.name, i+1, line, call)
				}
			}
		}
	}
}
