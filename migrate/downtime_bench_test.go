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
		MAC: peerMAC, Addrs: []netip.Prefix{netip.PrefixFrom(peerAddr, 16)}}
	if r.peers, err = tcpip.NewStack(cfg, func(f []byte) { r.net.push(&r.net.toVM, f) }); err != nil {
		tb.Fatal(err)
	}
	// Each side knows the other's MAC (a long-lived neighbour entry), so
	// that a thousand dials do not wait on the resolution of one address.
	known := func(a netip.Addr, mac [6]byte) []tcpip.Neighbor {
		return []tcpip.Neighbor{{Addr: a, MAC: mac, State: tcpip.NeighborStale}}
	}
	if err := r.peers.ImportNeighbors(known(vmAddr, vmMAC)); err != nil {
		tb.Fatal(err)
	}
	cfg.MAC, cfg.Addrs = vmMAC, []netip.Prefix{netip.PrefixFrom(vmAddr, 16)}
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
	r.circuit.Do(func(vm *tcpip.Stack) {
		if err := vm.ImportNeighbors(known(peerAddr, peerMAC)); err != nil {
			tb.Fatal(err)
		}
	})
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

// migrate moves the VM while its peers send through a hold of hold, and
// returns the downtime beyond the hold (Metrics.BeyondHold): the real time
// from the suspension to the destination's first served frame that the
// migration itself takes (suspending, sealing, moving the journal's tail,
// replaying it, activating), the hold being the time the rest of a VM's memory would
// take, during which the circuit serves the sessions and the journal
// streams to the destination. The peers' 700-byte segments are paced so
// that the journal grows steadily to about records records by the hold's
// end.
func (r *downtimeRig) migrate(tb testing.TB, records int, hold time.Duration) (time.Duration, Metrics) {
	dial, wait := serve(r.dest, nil)
	var suspended, done atomic.Bool
	holdDone := make(chan struct{})
	var holdStart atomic.Int64
	cfg := MigrateConfig{
		Phase: func(p Phase) { suspended.Store(p == PhaseSuspended) },
		Hold: func(ctx context.Context) {
			holdStart.Store(time.Now().UnixNano())
			<-holdDone
		},
	}
	var m Metrics
	var err error
	go func() {
		m, err = r.circuit.Migrate(context.Background(), []Dialer{dial}, cfg)
		done.Store(true)
	}()
	payload := make([]byte, 700)
	next := 0 // the sender to write next, round robin
	closed := false
	for !done.Load() {
		if start := holdStart.Load(); suspended.Load() && start != 0 && !closed {
			elapsed := time.Since(time.Unix(0, start))
			if elapsed >= hold {
				close(holdDone)
				closed = true
			} else if j := r.circuit.Journal(); j != nil {
				// Behind the steady growth: one segment each on as many
				// sessions (a segment is about one record).
				behind := int(int64(records)*int64(elapsed)/int64(hold)) - int(j.Records())
				for range min(behind, len(r.senders)) {
					_, _ = r.senders[next].Write(payload)
					next = (next + 1) % len(r.senders)
				}
			}
		}
		if r.pump() == 0 {
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
	return m.BeyondHold(), m
}

// downtimeHold is the hold of the downtime benchmarks: about what the rest
// of a small VM's memory takes to move.
const downtimeHold = 200 * time.Millisecond

// BenchmarkDowntime is the downtime a migration adds beyond the hold, by
// number of sessions (each peer sending through the suspension, about ten
// journal records per session): from the suspension to the destination's
// first served frame, without the hold (see downtimeRig.migrate).
// Reported as downtime-ms (the mean) for a plot against sessions.
func BenchmarkDowntime(b *testing.B) {
	for _, n := range []int{64, 256, 1024} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			var total time.Duration
			var records uint64
			for b.Loop() {
				b.StopTimer()
				r := newDowntimeRig(b, n)
				b.StartTimer()
				d, m := r.migrate(b, 10*n, downtimeHold)
				total += d
				records += m.RecordsJournaled
			}
			b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "downtime-ms")
			b.ReportMetric(float64(records)/float64(b.N), "records")
		})
	}
}

// BenchmarkDowntimeP99 migrates a VM of 1024 sessions with 10k journal
// records per iteration and reports the median and the 99th percentile of
// the downtimes beyond the hold (target: p99 ≤ 10 ms; run with
// -benchtime=100x or more for a meaningful p99), and the records journaled.
func BenchmarkDowntimeP99(b *testing.B) {
	var ds []time.Duration
	var records uint64
	for b.Loop() {
		b.StopTimer()
		r := newDowntimeRig(b, 1024)
		b.StartTimer()
		d, m := r.migrate(b, 10_000, downtimeHold)
		ds = append(ds, d)
		records += m.RecordsJournaled
	}
	slices.Sort(ds)
	p99 := ds[min(len(ds)-1, len(ds)*99/100)]
	b.ReportMetric(float64(p99.Microseconds())/1000, "downtime-p99-ms")
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "downtime-p50-ms")
	b.ReportMetric(float64(records)/float64(b.N), "records")
}
