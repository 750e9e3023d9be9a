package migrate

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringkit/ringkit/tcpip"
)

// directNet joins a VM (its circuit, then its destination) and its peers
// without NICs, on the real clock: each side's frames are queued and the
// pump delivers them. It isolates what a migration costs from the NIC
// model, for the downtime benchmarks.
type directNet struct {
	mu            sync.Mutex
	toPeers, toVM [][]byte
	spare         [][]byte
}

func (n *directNet) push(q *[][]byte, f []byte) {
	n.mu.Lock()
	var b []byte
	if k := len(n.spare); k > 0 {
		b, n.spare = n.spare[k-1][:0], n.spare[:k-1]
	}
	*q = append(*q, append(b, f...))
	n.mu.Unlock()
}

func (n *directNet) take(q *[][]byte, into [][]byte) [][]byte {
	n.mu.Lock()
	into = append(into[:0], *q...)
	*q = (*q)[:0]
	n.mu.Unlock()
	return into
}

func (n *directNet) recycle(fs [][]byte) {
	n.mu.Lock()
	n.spare = append(n.spare, fs...)
	n.mu.Unlock()
}

// downtimeRig is one VM with sessions to peers over a directNet, ready to
// migrate to a destination served by a goroutine.
type downtimeRig struct {
	net     directNet
	peers   *tcpip.Stack
	circuit *Circuit
	dest    *Destination
	senders []*tcpip.Conn
}

func newDowntimeRig(tb testing.TB, sessions int) *downtimeRig {
	r := &downtimeRig{}
	var err error
	vmAddr, peerAddr := netip.MustParseAddr("10.0.0.10"), netip.MustParseAddr("10.0.1.1")
	cfg := tcpip.StackConfig{RTO: time.Second, MaxRTO: 4 * time.Second, RecvBuffer: 64 << 10,
		Addrs: []netip.Prefix{netip.PrefixFrom(peerAddr, 16)}}
	if r.peers, err = tcpip.NewStack(cfg, func(f []byte) { r.net.push(&r.net.toVM, f) }); err != nil {
		tb.Fatal(err)
	}
	cfg.Addrs = []netip.Prefix{netip.PrefixFrom(vmAddr, 16)}
	toPeers := func(f []byte) { r.net.push(&r.net.toPeers, f) }
	if r.circuit, err = NewCircuit(CircuitConfig{Stack: cfg, JournalSize: 32 << 20}, toPeers); err != nil {
		tb.Fatal(err)
	}
	if r.dest, err = NewDestination(DestinationConfig{Stack: cfg}, toPeers); err != nil {
		tb.Fatal(err)
	}
	if err := r.peers.Listen(netip.AddrPortFrom(peerAddr, 80), func(c *tcpip.Conn) { r.senders = append(r.senders, c) }); err != nil {
		tb.Fatal(err)
	}
	for i := range sessions {
		port := uint16(10000 + i)
		r.circuit.Do(func(vm *tcpip.Stack) {
			if _, err := vm.Dial(netip.AddrPortFrom(vmAddr, port), netip.AddrPortFrom(peerAddr, 80)); err != nil {
				tb.Fatal(err)
			}
		})
	}
	for range 10 {
		r.pump()
	}
	if len(r.senders) != sessions {
		tb.Fatalf("%d of %d sessions established", len(r.senders), sessions)
	}
	return r
}

// pump delivers what is queued both ways once and ticks every side; it
// returns the number of frames delivered.
func (r *downtimeRig) pump() int {
	var buf [][]byte
	buf = r.net.take(&r.net.toVM, buf)
	moved := r.circuit.Mode() == Moved
	for _, f := range buf {
		if moved {
			r.dest.Input(f)
		} else {
			r.circuit.Input(f)
		}
	}
	r.net.recycle(buf)
	n := len(buf)
	buf = r.net.take(&r.net.toPeers, buf[:0])
	n += len(buf)
	for _, f := range buf {
		r.peers.Input(f)
	}
	r.net.recycle(buf)
	r.circuit.Tick()
	r.dest.Tick()
	r.peers.Tick()
	return n
}

// migrate moves the VM while the peers send, holding the suspension until
// the journal has records records, and returns the downtime without the
// hold: the real time from the suspension to the destination's first
// served frame that the migration itself takes (suspending, sealing,
// moving and replaying the journal, activating), the hold being the time
// the rest of a VM's memory would take, during which the circuit serves.
func (r *downtimeRig) migrate(tb testing.TB, records uint64) (time.Duration, Metrics) {
	dial, wait := serve(r.dest, nil)
	var suspended, done atomic.Bool
	holdDone := make(chan struct{})
	var hold time.Duration
	cfg := MigrateConfig{
		Phase: func(p Phase) { suspended.Store(p == PhaseSuspended) },
		Hold: func(ctx context.Context) {
			start := time.Now()
			<-holdDone
			hold = time.Since(start)
		},
	}
	var m Metrics
	var err error
	go func() {
		m, err = r.circuit.Migrate(context.Background(), []Dialer{dial}, cfg)
		done.Store(true)
	}()
	payload := make([]byte, 700)
	closed := false
	for !done.Load() {
		if suspended.Load() && !closed {
			for _, c := range r.senders {
				_, _ = c.Write(payload)
			}
			if j := r.circuit.Journal(); j != nil && j.Records() >= records {
				close(holdDone)
				closed = true
			}
		}
		if r.pump() == 0 && closed {
			time.Sleep(20 * time.Microsecond) // leave the cores to the transfer
		}
	}
	if err != nil {
		tb.Fatal(err)
	}
	if err := wait(); err != nil {
		tb.Fatal(err)
	}
	if m.SessionsLost != 0 {
		tb.Fatalf("metrics: %v", m)
	}
	return m.Downtime - hold, m
}

// BenchmarkDowntime is the downtime a migration adds, by number of
// sessions (each peer sending through the suspension, about ten journal
// records per session): from the suspension to the destination's first
// served frame, without the hold (see downtimeRig.migrate). Reported as
// downtime-ms, for a plot of downtime against sessions.
func BenchmarkDowntime(b *testing.B) {
	for _, n := range []int{64, 256, 1024} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			var total time.Duration
			var records uint64
			for b.Loop() {
				b.StopTimer()
				r := newDowntimeRig(b, n)
				b.StartTimer()
				d, m := r.migrate(b, uint64(10*n))
				total += d
				records += m.RecordsJournaled
			}
			b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "downtime-ms")
			b.ReportMetric(float64(records)/float64(b.N), "records")
		})
	}
}

// BenchmarkDowntimeP99 migrates a VM of 1024 sessions with 10k journal
// records per iteration and reports the 99th percentile of the downtimes
// (target ≤ 10 ms; run with -benchtime=100x or more for a meaningful p99).
func BenchmarkDowntimeP99(b *testing.B) {
	var ds []time.Duration
	for b.Loop() {
		b.StopTimer()
		r := newDowntimeRig(b, 1024)
		b.StartTimer()
		d, _ := r.migrate(b, 10_000)
		ds = append(ds, d)
	}
	slices.Sort(ds)
	p99 := ds[min(len(ds)-1, len(ds)*99/100)]
	b.ReportMetric(float64(p99.Microseconds())/1000, "downtime-p99-ms")
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "downtime-p50-ms")
}
