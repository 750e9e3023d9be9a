package migrate

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ringkit/ringkit/tcpip"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// nearWrap is a sequence number a few hundred bytes before 2^32, so that
// workloads cross the wrap in their first records.
const nearWrap = 0xffffff00

// randSession returns a valid session with every field set from rng.
func randSession(rng *rand.Rand, id uint64) *tcpip.Session {
	v4 := netip.AddrFrom4([4]byte{10, 0, byte(id >> 8), byte(id)})
	v6 := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(id)})
	src, dst := netip.AddrPortFrom(v4, 443), netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, 7}), uint16(rng.Uint32()))
	if id%2 == 0 {
		src, dst = netip.AddrPortFrom(v6, 8443), netip.AddrPortFrom(v6.Next(), uint16(rng.Uint32()))
	}
	una := nearWrap + rng.Uint32N(0x80)
	sendQ := randBytes(rng, rng.IntN(100))
	s := &tcpip.Session{
		ID:     id,
		Tuple:  tcpip.FiveTuple{Proto: 6, Src: src, Dst: dst},
		State:  tcpip.Established,
		SndUna: una, SndNxt: una + uint32(len(sendQ)), RcvNxt: nearWrap + rng.Uint32N(0x80),
		SndWnd: 65535 << 3, RcvWnd: 29200 << 2, SndWScale: 3, RcvWScale: 2, MSS: 1460,
		TS: tcpip.Timestamps{Enabled: true, Offset: rng.Uint32(), LastSent: rng.Uint32(), Recent: rng.Uint32()},
		Timers: tcpip.Timers{
			KeepaliveIdle: 2 * time.Hour, KeepaliveInterval: 75 * time.Second, KeepaliveProbes: 9,
			KeepaliveIn: time.Duration(rng.Int64N(int64(time.Hour))), RTO: 200 * time.Millisecond,
			RetransmitIn: time.Duration(rng.Int64N(int64(time.Second))),
		},
		RecvQueue: randBytes(rng, rng.IntN(100)),
		SendQueue: sendQ,
		Epoch:     3,
	}
	if id%3 == 0 {
		s.Crypto = &tcpip.Crypto{KeyEpoch: 2, TxSeq: rng.Uint64(), RxSeq: rng.Uint64()}
	}
	return s
}

func randBytes(rng *rand.Rand, n int) []byte {
	if n == 0 {
		return nil
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// workload is a source side: the pre-copy table, the journal of what
// happened after it, and the reference model of the sessions at the end,
// kept by plain field updates independent of Table.apply.
type workload struct {
	precopy *Table
	journal []byte
	model   map[uint64]*tcpip.Session
	iface   Interface // the VM's interface at the end
	records int       // records in the journal, seal included
}

// randInterface returns an interface with every field set from rng.
func randInterface(rng *rand.Rand) Interface {
	ifc := Interface{MAC: [6]byte{2, byte(rng.Uint32()), 0, 0, 0, byte(rng.Uint32())}}
	for i := range 1 + rng.IntN(3) {
		ifc.Addrs = append(ifc.Addrs, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, byte(rng.Uint32())}), 8+rng.IntN(25)))
	}
	if rng.IntN(2) == 0 {
		ifc.Gateway = netip.AddrFrom4([4]byte{10, 0, 0, 254})
	}
	states := []tcpip.NeighborState{tcpip.NeighborReachable, tcpip.NeighborStale, tcpip.NeighborDelay, tcpip.NeighborProbe}
	for i := range rng.IntN(5) {
		ifc.Neighbors = append(ifc.Neighbors, tcpip.Neighbor{
			Addr: netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}), MAC: [6]byte{2, 0, 0, 1, 0, byte(i)},
			State: states[rng.IntN(len(states))], TimerIn: time.Duration(rng.Int64N(int64(time.Minute))), Probes: uint8(rng.IntN(3)),
		})
	}
	return ifc
}

// newWorkload builds a workload of n changes over a few sessions, every
// record type included, sequence numbers crossing 2^32.
func newWorkload(t testing.TB, seed uint64, n int, epoch uint32) *workload {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	pre := NewTable(epoch)
	pre.Applied = 100
	irng := rand.New(rand.NewPCG(seed, 2)) // the interfaces draw apart from the sessions' stream
	pre.Interface = randInterface(irng)
	iface := pre.Interface
	model := map[uint64]*tcpip.Session{}
	for id := uint64(1); id <= 4; id++ {
		s := randSession(rng, id)
		pre.Sessions[id] = s.Clone()
		model[id] = s.Clone()
	}
	j, err := NewJournal(1<<20, epoch, pre.Applied+1)
	if err != nil {
		t.Fatal(err)
	}
	nextID := uint64(5)
	must := func(_ uint64, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	extra := 0
	for i := range n {
		if i%64 == 32 { // now and then the VM's neighbour cache changes
			iface = randInterface(irng)
			must(j.AppendInterface(&iface))
			extra++
		}
		ids := make([]uint64, 0, len(model))
		for id := range model {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		if len(ids) == 0 || rng.IntN(40) == 0 {
			s := randSession(rng, nextID)
			nextID++
			model[s.ID] = s.Clone()
			must(j.AppendCreate(s))
			continue
		}
		s := model[ids[rng.IntN(len(ids))]]
		switch rng.IntN(11) {
		case 0, 1, 2:
			data := randBytes(rng, rng.IntN(300))
			must(j.AppendRecv(s.ID, s.RcvNxt, data))
			s.RecvQueue = append(s.RecvQueue, data...)
			s.RcvNxt += uint32(len(data))
		case 3:
			data := randBytes(rng, rng.IntN(200))
			must(j.AppendSend(s.ID, s.SndNxt, data))
			s.SendQueue = append(s.SendQueue, data...)
			s.SndNxt += uint32(len(data))
		case 4:
			k := rng.IntN(len(s.SendQueue) + 1)
			must(j.AppendAck(s.ID, s.SndUna+uint32(k)))
			s.SendQueue = s.SendQueue[k:]
			s.SndUna += uint32(k)
		case 5:
			s.SndWnd, s.RcvWnd = rng.Uint32N(1<<20), rng.Uint32N(1<<20)
			must(j.AppendWindow(s.ID, s.SndWnd, s.RcvWnd))
		case 6:
			s.TS.Recent, s.TS.LastSent = rng.Uint32(), s.TS.LastSent+rng.Uint32N(1000)
			must(j.AppendTimestamp(s.ID, s.TS.Recent, s.TS.LastSent))
		case 7:
			c := tcpip.Crypto{KeyEpoch: rng.Uint32N(4), TxSeq: rng.Uint64(), RxSeq: rng.Uint64()}
			s.Crypto = &c
			must(j.AppendCrypto(s.ID, c))
		case 8:
			s.Timers.KeepaliveIn = time.Duration(rng.Int64N(int64(time.Hour)))
			s.Timers.RetransmitIn = time.Duration(rng.Int64N(int64(time.Second)))
			s.Timers.RTO = time.Duration(rng.Int64N(int64(time.Second)))
			must(j.AppendTimers(s.ID, s.Timers.KeepaliveIn, s.Timers.RetransmitIn, s.Timers.RTO))
		case 9:
			switch {
			case s.State == tcpip.Established:
				s.State, s.RcvNxt = tcpip.CloseWait, s.RcvNxt+1 // the peer's FIN
			case s.State == tcpip.CloseWait && int(s.SndNxt-s.SndUna) == len(s.SendQueue):
				s.State, s.SndNxt = tcpip.LastAck, s.SndNxt+1 // our FIN
			default:
				must(j.AppendClose(s.ID))
				delete(model, s.ID)
				continue
			}
			must(j.AppendState(s.ID, s.State, s.SndNxt, s.RcvNxt))
		case 10:
			// What changed in a round: bytes read and acknowledged at the
			// queues' fronts, bytes received and sent at their ends, and
			// the fixed fields.
			rd, sd := rng.IntN(len(s.RecvQueue)+1), rng.IntN(len(s.SendQueue)+1)
			in, out := randBytes(rng, rng.IntN(300)), randBytes(rng, rng.IntN(200))
			u := s.Clone()
			u.RecvQueue = append(u.RecvQueue[rd:], in...)
			u.SendQueue = append(u.SendQueue[sd:], out...)
			u.RcvNxt += uint32(len(in))
			u.SndUna += uint32(sd)
			u.SndNxt += uint32(len(out))
			u.SndWnd, u.RcvWnd = rng.Uint32N(1<<20), rng.Uint32N(1<<20)
			u.TS.Recent, u.TS.LastSent = rng.Uint32(), u.TS.LastSent+rng.Uint32N(1000)
			u.Timers.KeepaliveIn = time.Duration(rng.Int64N(int64(time.Hour)))
			enc := u.Clone()
			enc.RecvQueue, enc.SendQueue = in, out
			must(j.AppendUpdate(enc, rd, sd))
			model[s.ID] = u
		}
	}
	if _, err := j.Seal(); err != nil {
		t.Fatal(err)
	}
	return &workload{precopy: pre, journal: j.Bytes(), model: model, iface: iface, records: n + extra + 1}
}

// destination decodes a fresh copy of the pre-copy table, as the receiving
// host does.
func (w *workload) destination(t testing.TB) *Table {
	t.Helper()
	tbl, err := DecodeTable(AppendTable(nil, w.precopy))
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// normalize maps empty queues to nil, so that a model that trimmed a queue
// to nothing compares equal to a table that holds none.
func normalize(m map[uint64]*tcpip.Session) map[uint64]*tcpip.Session {
	out := make(map[uint64]*tcpip.Session, len(m))
	for id, s := range m {
		c := s.Clone()
		if len(c.RecvQueue) == 0 {
			c.RecvQueue = nil
		}
		if len(c.SendQueue) == 0 {
			c.SendQueue = nil
		}
		out[id] = c
	}
	return out
}

func checkSessions(t testing.TB, want, got map[uint64]*tcpip.Session) {
	t.Helper()
	w, g := normalize(want), normalize(got)
	if reflect.DeepEqual(w, g) {
		return
	}
	for id, ws := range w {
		gs, ok := g[id]
		switch {
		case !ok:
			t.Errorf("session %d missing", id)
		case !reflect.DeepEqual(ws, gs):
			t.Errorf("session %d:\n got %+v\nwant %+v", id, gs, ws)
		}
	}
	for id := range g {
		if _, ok := w[id]; !ok {
			t.Errorf("session %d should not exist", id)
		}
	}
	t.FailNow()
}

// recordOffsets returns the byte offset of each record of a sound journal.
func recordOffsets(t testing.TB, b []byte) []int {
	t.Helper()
	r := NewReader(b)
	var offs []int
	for {
		off := r.Offset()
		_, err := r.Next()
		if err == io.EOF {
			return offs
		}
		if err != nil {
			t.Fatal(err)
		}
		offs = append(offs, off)
	}
}

// pipe is an in-memory full-duplex connection with unbounded buffers:
// writes never block, reads block until bytes or Close. Closing either end
// closes both, as a cut cable does; reads drain what was written first.
type pipe struct {
	mu     *sync.Mutex
	cond   *sync.Cond
	closed *bool
	in     *bytes.Buffer
	out    *bytes.Buffer
}

func newPipe() (*pipe, *pipe) {
	mu := &sync.Mutex{}
	cond := sync.NewCond(mu)
	closed := new(bool)
	ab, ba := &bytes.Buffer{}, &bytes.Buffer{}
	return &pipe{mu, cond, closed, ba, ab}, &pipe{mu, cond, closed, ab, ba}
}

func (p *pipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.in.Len() == 0 && !*p.closed {
		p.cond.Wait()
	}
	if p.in.Len() == 0 {
		return 0, io.EOF
	}
	return p.in.Read(b)
}

func (p *pipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if *p.closed {
		return 0, io.ErrClosedPipe
	}
	p.out.Write(b)
	p.cond.Broadcast()
	return len(b), nil
}

func (p *pipe) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	*p.closed = true
	p.cond.Broadcast()
	return nil
}

// faults says how often a faultConn disturbs the messages written through it.
type faults struct {
	Drop, Dup, Reorder float64 // probability per message
	CutAfter           int     // close the connection at this write (0: never)
	Kinds              []uint8 // disturb only messages of these kinds (nil: all)
}

// faultConn wraps a connection and, from a seeded generator, drops,
// duplicates, reorders (holds a message back until after the next one) and
// cuts the messages written through it. Each Write is one message, as the
// transfer protocol writes them. Reads pass through.
type faultConn struct {
	c      io.ReadWriteCloser
	rng    *rand.Rand
	f      faults
	writes int
	held   []byte
	log    []string
}

func newFaultConn(c io.ReadWriteCloser, seed uint64, f faults) *faultConn {
	return &faultConn{c: c, rng: rand.New(rand.NewPCG(seed, 7)), f: f}
}

func (fc *faultConn) Read(b []byte) (int, error) { return fc.c.Read(b) }
func (fc *faultConn) Close() error               { return fc.c.Close() }

func (fc *faultConn) Write(b []byte) (int, error) {
	fc.writes++
	if fc.f.CutAfter > 0 && fc.writes >= fc.f.CutAfter {
		fc.log = append(fc.log, "cut")
		fc.c.Close()
		return 0, io.ErrClosedPipe
	}
	p := fc.rng.Float64()
	if fc.f.Kinds != nil && (len(b) == 0 || !slices.Contains(fc.f.Kinds, b[0])) {
		p = 1 // a message kind left alone
	}
	switch {
	case p < fc.f.Drop:
		fc.log = append(fc.log, "drop")
		return len(b), nil
	case p < fc.f.Drop+fc.f.Dup:
		fc.log = append(fc.log, "dup")
		if _, err := fc.c.Write(b); err != nil {
			return 0, err
		}
	case p < fc.f.Drop+fc.f.Dup+fc.f.Reorder && fc.held == nil:
		fc.log = append(fc.log, "reorder")
		fc.held = append([]byte(nil), b...)
		return len(b), nil
	}
	if _, err := fc.c.Write(b); err != nil {
		return 0, err
	}
	if fc.held != nil {
		h := fc.held
		fc.held = nil
		if _, err := fc.c.Write(h); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

func (fc *faultConn) count(kind string) int {
	n := 0
	for _, k := range fc.log {
		if k == kind {
			n++
		}
	}
	return n
}

func (fc *faultConn) String() string { return fmt.Sprint(fc.log) }

func randSessionForAllocs() *tcpip.Session {
	return randSession(rand.New(rand.NewPCG(9, 9)), 1)
}
