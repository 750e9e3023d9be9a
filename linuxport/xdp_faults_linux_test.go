//go:build linux

package linuxport_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/linuxport"
)

// TestOpenXDPBadPool: a pool that cannot be a UMEM is refused before
// anything touches the kernel. The interface named exists nowhere, so a
// check that let the pool through would fail on the name, touching
// nothing.
func TestOpenXDPBadPool(t *testing.T) {
	for name, cfg := range map[string]descriptor.PoolConfig{
		"default layout":   {Buffers: 64},
		"stride not 2^n":   {Buffers: 64, Headroom: 256, DataRoom: 1500, Align: 4096},
		"headroom too low": {Buffers: 64, Headroom: 128, DataRoom: 1920, Align: 4096},
		"stride over page": {Buffers: 64, Headroom: 256, DataRoom: 8192 - 256, Align: 4096},
	} {
		t.Run(name, func(t *testing.T) {
			pool, err := descriptor.NewPool(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := linuxport.OpenXDP("rk-none0", linuxport.XDPConfig{Pool: pool}); !errors.Is(err, linuxport.ErrConfig) {
				t.Fatalf("OpenXDP = %v, want ErrConfig", err)
			}
		})
	}
	if _, err := linuxport.OpenXDP("rk-none0", linuxport.XDPConfig{}); !errors.Is(err, linuxport.ErrConfig) {
		t.Fatalf("OpenXDP without a pool = %v, want ErrConfig", err)
	}
}

// TestKernelXDPFaults: a missing interface, a queue the interface lacks,
// an MTU larger than a buffer and a second port on a queue already taken
// each fail with their sentinel, leave no program attached, no link made
// and no buffer out of the pool; the port that holds the queue keeps
// working.
func TestKernelXDPFaults(t *testing.T) {
	b := newBed(t, 1)
	pool := umemPool(t, 2048)
	cfg := linuxport.XDPConfig{Pool: pool, NS: b.recv, Mode: linuxport.ModeSKB,
		Rx: descriptor.RxConfig{Descs: 256}, Tx: descriptor.TxConfig{Descs: 256}}
	links, _ := b.recv.Links()
	check := func(what string, err, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Fatalf("%s: %v, want %v", what, err, want)
		}
		t.Logf("%s: %v", what, err)
		wantNoXDP(t, b)
		wantPoolFull(t, pool)
		if got, _ := b.recv.Links(); !slices.Equal(got, links) {
			t.Fatalf("%s: links %v, were %v", what, got, links)
		}
	}
	_, err := linuxport.OpenXDP("nosuch0", cfg)
	check("missing interface", err, linuxport.ErrNoInterface)

	two := cfg
	two.Queues = 2
	_, err = linuxport.OpenXDP("vrecv", two)
	check("queue out of range", err, linuxport.ErrQueue)

	if err := b.recv.Netlink().LinkSetMTU(mustLink(t, b), 4000); err != nil {
		t.Fatal(err)
	}
	_, err = linuxport.OpenXDP("vrecv", cfg)
	check("MTU larger than a buffer", err, linuxport.ErrMTU)
	if err := b.recv.Netlink().LinkSetMTU(mustLink(t, b), 1500); err != nil {
		t.Fatal(err)
	}

	p, err := linuxport.OpenXDP("vrecv", cfg)
	skipUnlessKernel(t, "OpenXDP", err)
	// A second user of the queue, as another process would be: its own
	// UMEM, its own program.
	other := umemPool(t, 1024)
	ocfg := cfg
	ocfg.Pool = other
	_, err = linuxport.OpenXDP("vrecv", ocfg)
	if !errors.Is(err, linuxport.ErrBusy) {
		t.Fatalf("second port on queue 0: %v, want ErrBusy", err)
	}
	wantPoolFull(t, other)
	t.Logf("second port: %v", err)
	if _, err = linuxport.OpenXDP("vrecv", cfg); !errors.Is(err, linuxport.ErrBusy) { // and one on the same pool
		t.Fatalf("second port on queue 0, same pool: %v, want ErrBusy", err)
	}
	streamTest(t, b, p, 300) // the first port is untouched
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	wantNoXDP(t, b)
	wantPoolFull(t, pool)
}

func mustLink(t testing.TB, b *bed) netlinkLink {
	t.Helper()
	l, err := b.recv.Netlink().LinkByName("vrecv")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestKernelXDPCloseUnderTraffic closes a running port while a sender
// keeps sending: Run returns nil, every buffer (those in the kernel's fill
// and RX rings included) is back in the pool, the program is detached.
func TestKernelXDPCloseUnderTraffic(t *testing.T) {
	b := newBed(t, 1)
	pool := umemPool(t, 2048)
	p, err := linuxport.OpenXDP("vrecv", linuxport.XDPConfig{Pool: pool, NS: b.recv,
		Rx: descriptor.RxConfig{Descs: 512}, Tx: descriptor.TxConfig{Descs: 256}})
	skipUnlessKernel(t, "OpenXDP", err)
	s := newSender(t, b)

	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(context.Background()) }()
	var stopDriver atomic.Bool
	var received atomic.Uint64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the driver: receive and free until told to stop
		defer wg.Done()
		rx := p.RxRing(0)
		burst := make([]descriptor.Packet, 64)
		for !stopDriver.Load() {
			k := rx.Receive(burst)
			received.Add(uint64(k))
			_ = rx.Free(burst[:k])
			if k == 0 {
				time.Sleep(50 * time.Microsecond)
			}
		}
	}()
	deadline := time.Now().Add(2 * time.Second)
	for received.Load() < 2000 && time.Now().Before(deadline) {
		s.send(32, 200)
		time.Sleep(20 * time.Microsecond)
	}
	stopDriver.Store(true)
	wg.Wait()
	for range 20 { // traffic still flows while the port closes
		s.send(32, 200)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("Run after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after Close")
	}
	if received.Load() == 0 {
		t.Fatal("nothing received before Close")
	}
	wantPoolFull(t, pool)
	wantNoXDP(t, b)
	if _, err := p.Step(); err == nil {
		t.Fatal("Step after Close succeeded")
	}
}
