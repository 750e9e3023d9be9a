package jobring_test

import (
	"context"
	"fmt"
	"hash/crc32"

	"github.com/ringkit/ringkit/jobring"
)

// A core computes checksums; results come back in submission order.
func Example() {
	const crc jobring.Kind = 0
	table := crc32.MakeTable(crc32.Castagnoli)
	r, err := jobring.New(jobring.Config[string, uint32]{
		Slots: 8,
		Rules: jobring.Rules{Kinds: []jobring.KindRule{{Kind: crc, Name: "crc32c", Order: jobring.Ordered}}},
		Workers: []jobring.Worker[string, uint32]{{
			Name: "core0", Class: jobring.Core, Kinds: jobring.Kinds(crc),
			Do: func(_ context.Context, _ jobring.Kind, s *string, sum *uint32) error {
				*sum = crc32.Checksum([]byte(*s), table)
				return nil
			},
		}},
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for _, s := range []string{"hello", "job", "ring"} {
		if _, err := r.Submit(ctx, jobring.Task[string]{Kind: crc, Job: s}); err != nil {
			panic(err)
		}
	}
	cs := make([]jobring.Completion[string, uint32], 3)
	for got := 0; got < 3; {
		n, err := r.RetireWait(ctx, cs[got:])
		if err != nil {
			panic(err)
		}
		got += n
	}
	for _, c := range cs {
		fmt.Printf("%d %-5s %08x\n", c.Seq, c.Job, c.Result)
	}
	r.Close()
	// Output:
	// 0 hello 9a71bb4c
	// 1 job   d6637811
	// 2 ring  189d0564
}

// Rules are data: they print, and Decide can be asked about any case.
func ExamplePolicy_Decide() {
	pol, err := jobring.Compile(jobring.Rules{
		Kinds:     []jobring.KindRule{{Kind: 1, Name: "seal", Order: jobring.Atomic, Affinity: true}},
		Fallbacks: []jobring.Fallback{{Kind: 1, Threshold: 32}},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(pol)
	accel := jobring.Seat{Class: jobring.Coprocessor, Kinds: jobring.Kinds(1)}
	core := jobring.Seat{Class: jobring.Core, Kinds: jobring.Kinds(0)}
	fmt.Println(pol.Decide(accel, 1, 6, jobring.View{AffIndex: 0, AffCount: 2, Holders: 2}))
	fmt.Println(pol.Decide(accel, 1, 7, jobring.View{AffIndex: 0, AffCount: 2, Holders: 2}))
	fmt.Println(pol.Decide(core, 1, 7, jobring.View{Holders: 2, Backlog: 10}))
	fmt.Println(pol.Decide(core, 1, 7, jobring.View{Holders: 2, Backlog: 40}))
	fmt.Println(pol.Decide(core, 1, 7, jobring.View{Holders: 2, Backlog: 40, FlowBusy: true}))
	// Output:
	// rules{priority=false; kind 1 "seal": atomic, affinity flow%holders; fallback kind 1 to cores at backlog>=32 or no holder}
	// take
	// other-affinity
	// not-saturated
	// take
	// flow-busy
}
