// Command offload shares one job ring between two processor cores and a
// co-processor model under a set of rules, then prints who did what and the
// first results in submission order, each checked.
//
// Three kinds of real work, done with the standard library:
//
//	crc32c   Parallel  the cores
//	seal     Atomic    AES-256-GCM, the co-processor; per flow one at a time;
//	                   the cores help once 48 seals are waiting
//	deflate  Ordered   compression, the co-processor only
//
// Run it with: go run ./examples/offload [-jobs 20000] [-show 12]
package main

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/ringkit/ringkit/jobring"
)

const (
	kindCRC     jobring.Kind = 0
	kindSeal    jobring.Kind = 1
	kindDeflate jobring.Kind = 2
)

// job is what a producer submits: a payload and, for seals, its nonce.
type job struct {
	Data  []byte
	Nonce [12]byte
}

// result is what a worker writes into the job's slot.
type result struct {
	Sum uint32 // CRC32C of the payload
	Out []byte // the sealed or compressed payload
}

var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	key        = bytes.Repeat([]byte{0x5a}, 32)
)

func newAEAD() cipher.AEAD {
	blk, err := aes.NewCipher(key)
	if err != nil {
		log.Fatal(err)
	}
	g, err := cipher.NewGCM(blk)
	if err != nil {
		log.Fatal(err)
	}
	return g
}

// engine is one worker's means to do every kind of work; each worker has
// its own, so that no state is shared between goroutines.
type engine struct {
	aead cipher.AEAD
	buf  bytes.Buffer
	zw   *flate.Writer
}

func newEngine() *engine {
	e := &engine{aead: newAEAD()}
	e.zw, _ = flate.NewWriter(&e.buf, flate.BestSpeed)
	return e
}

func (e *engine) do(_ context.Context, k jobring.Kind, j *job, r *result) error {
	switch k {
	case kindCRC:
		r.Sum = crc32.Checksum(j.Data, castagnoli)
	case kindSeal:
		r.Out = e.aead.Seal(nil, j.Nonce[:], j.Data, nil)
	case kindDeflate:
		e.buf.Reset()
		e.zw.Reset(&e.buf)
		if _, err := e.zw.Write(j.Data); err != nil {
			return err
		}
		if err := e.zw.Close(); err != nil {
			return err
		}
		r.Out = bytes.Clone(e.buf.Bytes())
	default:
		return fmt.Errorf("kind %d: no such work", k)
	}
	return nil
}

// verify checks a result against its job, independently of the worker.
func verify(aead cipher.AEAD, c *jobring.Completion[job, result]) (string, error) {
	if c.Err != nil {
		return "", c.Err
	}
	switch c.Kind {
	case kindCRC:
		if want := crc32.Checksum(c.Job.Data, castagnoli); c.Result.Sum != want {
			return "", fmt.Errorf("crc32c %08x, want %08x", c.Result.Sum, want)
		}
		return fmt.Sprintf("crc32c=%08x ok", c.Result.Sum), nil
	case kindSeal:
		plain, err := aead.Open(nil, c.Job.Nonce[:], c.Result.Out, nil)
		if err != nil || !bytes.Equal(plain, c.Job.Data) {
			return "", fmt.Errorf("sealed payload does not open to the job's data: %v", err)
		}
		return fmt.Sprintf("sealed %d bytes, opens ok", len(c.Result.Out)), nil
	case kindDeflate:
		plain, err := io.ReadAll(flate.NewReader(bytes.NewReader(c.Result.Out)))
		if err != nil || !bytes.Equal(plain, c.Job.Data) {
			return "", fmt.Errorf("compressed payload does not inflate to the job's data: %v", err)
		}
		return fmt.Sprintf("deflated %d -> %d bytes, inflates ok", len(c.Job.Data), len(c.Result.Out)), nil
	}
	return "", fmt.Errorf("unknown kind %d", c.Kind)
}

func main() {
	jobs := flag.Int("jobs", 20000, "jobs to submit")
	show := flag.Int("show", 12, "results to print")
	flag.Parse()
	if err := run(os.Stdout, *jobs, *show); err != nil {
		fmt.Fprintln(os.Stderr, "offload:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, n, show int) error {
	rules := jobring.Rules{
		Kinds: []jobring.KindRule{
			{Kind: kindCRC, Name: "crc32c", Order: jobring.Parallel},
			{Kind: kindSeal, Name: "seal", Order: jobring.Atomic},
			{Kind: kindDeflate, Name: "deflate", Order: jobring.Ordered},
		},
		Fallbacks: []jobring.Fallback{{Kind: kindSeal, Threshold: 48}},
	}
	size := func(_ jobring.Kind, j *job) int { return len(j.Data) }
	workers := []jobring.Worker[job, result]{
		{Name: "core0", Class: jobring.Core, Kinds: jobring.Kinds(kindCRC), Batch: 8, Do: newEngine().do},
		{Name: "core1", Class: jobring.Core, Kinds: jobring.Kinds(kindCRC), Batch: 8, Do: newEngine().do},
		{Name: "accel", Class: jobring.Coprocessor, Kinds: jobring.Kinds(kindSeal, kindDeflate), Batch: 32,
			Setup: 40 * time.Microsecond, NsPerByte: 0.25, Size: size, Do: newEngine().do},
	}
	r, err := jobring.New(jobring.Config[job, result]{Slots: 512, Rules: rules, Workers: workers, SampleEvery: 16})
	if err != nil {
		return err
	}
	describe(w, rules, workers)

	ctx := context.Background()
	start := time.Now()
	submitErr := make(chan error, 1)
	go func() {
		rng := rand.New(rand.NewPCG(7, 7))
		for i := range n {
			data := make([]byte, 256+rng.IntN(3840))
			for j := range data {
				data[j] = byte(j/7) ^ byte(i) // compressible, different per job
			}
			t := jobring.Task[job]{Kind: jobring.Kind(rng.IntN(3)), Flow: rng.Uint32() % 64, Job: job{Data: data}}
			binary.LittleEndian.PutUint64(t.Job.Nonce[:], uint64(i))
			if _, err := r.Submit(ctx, t); err != nil {
				submitErr <- err
				return
			}
		}
		submitErr <- nil
	}()

	aead := newAEAD()
	cs := make([]jobring.Completion[job, result], 64)
	next, bad := uint64(0), 0
	fmt.Fprintf(w, "\nfirst %d results, in submission order:\n", show)
	for next < uint64(n) {
		k, err := r.RetireWait(ctx, cs)
		if err != nil {
			return err
		}
		for i := range cs[:k] {
			c := &cs[i]
			if c.Seq != next {
				return fmt.Errorf("retired seq %d, want %d: out of order", c.Seq, next)
			}
			next++
			check, err := verify(aead, c)
			if err != nil {
				bad++
				fmt.Fprintf(w, "  #%d %s flow %d by %s: FAILED: %v\n", c.Seq, r.Policy().Name(c.Kind), c.Flow, who(workers, c.Worker), err)
				continue
			}
			if c.Seq < uint64(show) {
				fmt.Fprintf(w, "  #%-3d %-8s flow %-2d by %-6s %s\n", c.Seq, r.Policy().Name(c.Kind), c.Flow, who(workers, c.Worker), check)
			}
		}
	}
	elapsed := time.Since(start)
	if err := <-submitErr; err != nil {
		return err
	}
	if err := r.Close(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%d jobs retired in order in %v, %d verified, %d failed\n\n", n, elapsed.Round(time.Millisecond), n-bad, bad)
	fmt.Fprint(w, r.Stats())
	if bad > 0 {
		return fmt.Errorf("%d results failed their check", bad)
	}
	return nil
}

func who(ws []jobring.Worker[job, result], id int) string {
	if id < 0 {
		return "ring"
	}
	return ws[id].Name
}

// describe says how the rules share the kinds among the workers: a table
// of each kind's order and who may take it.
func describe(w io.Writer, rules jobring.Rules, workers []jobring.Worker[job, result]) {
	var cores, copros []string
	for _, wk := range workers {
		if wk.Class == jobring.Coprocessor {
			copros = append(copros, wk.Name)
		} else {
			cores = append(cores, wk.Name)
		}
	}
	fmt.Fprintf(w, "%d kinds of job on one ring, shared by %d cores (%s) and %d co-processor model (%s);\n",
		len(rules.Kinds), len(cores), strings.Join(cores, ", "), len(copros), strings.Join(copros, ", "))
	fmt.Fprintf(w, "every job is retired in submission order, whoever ran it:\n\n")
	orders := map[jobring.Order]string{
		jobring.Parallel: "parallel: any number at once",
		jobring.Ordered:  "ordered: each worker takes them in order",
		jobring.Atomic:   "atomic: one at a time per flow",
	}
	fmt.Fprintf(w, "  %-8s  %-41s  %s\n", "kind", "order", "taken by")
	for _, kr := range rules.Kinds {
		var by []string
		for _, wk := range workers {
			if wk.Kinds.Has(kr.Kind) {
				by = append(by, wk.Name)
			}
		}
		taken := strings.Join(by, ", ")
		for _, fb := range rules.Fallbacks {
			if fb.Kind == kr.Kind {
				taken += fmt.Sprintf("; the cores too once %d are waiting, or if no holder is left", fb.Threshold)
			}
		}
		fmt.Fprintf(w, "  %-8s  %-41s  %s\n", kr.Name, orders[kr.Order], taken)
	}
}
