package migrate

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	streamPreCopy = 1
	streamJournal = 2
)

var testCfg = TransferConfig{ChunkSize: 512, Window: 8, Timeout: 5 * time.Millisecond, MaxRetries: 200}

// transferRun is one transfer through faultConns, resumed on a new
// connection after each cut, as a source and a destination would.
type transferRun struct {
	data     []byte
	sender   TransferStats
	receiver TransferStats
	faults   map[string]int
	conns    int
}

func runTransfer(t *testing.T, stream uint64, src Source, cfg TransferConfig, seed uint64, f func(conn int) faults) transferRun {
	return runTransfer2(t, stream, src, cfg, seed, f, nil)
}

// runTransfer2 also disturbs the receiver's messages with rf, when set.
func runTransfer2(t *testing.T, stream uint64, src Source, cfg TransferConfig, seed uint64, f, rf func(conn int) faults) transferRun {
	t.Helper()
	ctx := context.Background()
	snd, err := NewSender(stream, src, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rcv := NewReceiver(stream, 1<<30)
	run := transferRun{faults: map[string]int{}}
	for conn := 0; !snd.Done() || !rcv.Done(); conn++ {
		if conn > 40 {
			t.Fatalf("not done after %d connections", conn)
		}
		a, b := newPipe()
		fc := newFaultConn(a, seed+uint64(conn), f(conn))
		var rb io.ReadWriteCloser = b
		if rf != nil {
			rb = newFaultConn(b, seed+uint64(conn)+500, rf(conn))
		}
		var rerr error
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			if conn == 0 {
				rerr = rcv.Receive(ctx, rb)
			} else {
				rerr = rcv.Resume(ctx, rb)
			}
		}()
		var serr error
		if conn == 0 {
			serr = snd.Send(ctx, fc)
		} else {
			serr = snd.Resume(ctx, fc)
		}
		a.Close()
		wg.Wait()
		for _, k := range []string{"drop", "dup", "reorder", "cut"} {
			run.faults[k] += fc.count(k)
			if rfc, ok := rb.(*faultConn); ok {
				run.faults["ack "+k] += rfc.count(k)
			}
		}
		run.conns++
		if serr != nil && !errors.Is(serr, ErrConnection) {
			t.Fatalf("sender on connection %d: %v (faults %v)", conn, serr, fc)
		}
		if rerr != nil && !errors.Is(rerr, ErrConnection) {
			t.Fatalf("receiver on connection %d: %v", conn, rerr)
		}
		if serr == nil && rerr != nil {
			t.Fatalf("sender done, receiver failed: %v", rerr)
		}
	}
	run.data, run.sender, run.receiver = rcv.Data(), snd.Stats(), rcv.Stats()
	return run
}

// migrateOver moves a workload's pre-copy and journal through faulty
// connections and restores it on a destination table.
func migrateOver(t *testing.T, w *workload, seed uint64, f func(conn int) faults) (*Table, transferRun, transferRun) {
	return migrateOverCfg(t, w, seed, testCfg, f)
}

func migrateOverCfg(t *testing.T, w *workload, seed uint64, cfg TransferConfig, f func(conn int) faults) (*Table, transferRun, transferRun) {
	t.Helper()
	pre := runTransfer(t, streamPreCopy, bytes.NewReader(AppendTable(nil, w.precopy)), cfg, seed, f)
	// The journal travels straight out of its ring, released as it is acknowledged.
	j := journalOf(t, w)
	jr := runTransfer(t, streamJournal, j, cfg, seed+100, f)
	if j.Used() != 0 {
		t.Fatalf("journal holds %d bytes after its transfer", j.Used())
	}
	tbl, err := DecodeTable(pre.data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(tbl, jr.data); err != nil {
		t.Fatal(err)
	}
	return tbl, pre, jr
}

// journalOf puts a workload's journal bytes back into a sealed Journal, as
// the source's circuit leaves it.
func journalOf(t *testing.T, w *workload) *Journal {
	t.Helper()
	j, err := NewJournal(len(w.journal)+sealSize+64, w.precopy.Epoch, w.precopy.Applied+1)
	if err != nil {
		t.Fatal(err)
	}
	recs, _, err := ReadAll(w.journal)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs[:len(recs)-1] {
		if _, err := j.append(r.Type, r.Session, nil, r.Payload, sealSize); err != nil {
			t.Fatal(err)
		}
	}
	j.Seal()
	if !bytes.Equal(j.Bytes(), w.journal) {
		t.Fatal("rebuilt journal differs")
	}
	return j
}

func TestTransferClean(t *testing.T) {
	w := newWorkload(t, 41, 200, 9)
	// A timeout far above any scheduling delay: a clean run never resends.
	cfg := testCfg
	cfg.Timeout = time.Second
	tbl, pre, jr := migrateOverCfg(t, w, 1, cfg, func(int) faults { return faults{} })
	checkSessions(t, w.model, tbl.Sessions)
	for _, r := range []transferRun{pre, jr} {
		if r.conns != 1 || r.sender.Retransmits != 0 || r.sender.Timeouts != 0 || r.receiver.Duplicates != 0 {
			t.Fatalf("clean run: %d connections, sender %+v receiver %+v", r.conns, r.sender, r.receiver)
		}
	}
	if !bytes.Equal(pre.data, AppendTable(nil, w.precopy)) || !bytes.Equal(jr.data, w.journal) {
		t.Fatal("received bytes differ")
	}
}

// TestTransferFaults moves the same migration through connections that
// drop, duplicate, reorder and cut messages: the destination ends with the
// same bytes and the same sessions as a clean run.
func TestTransferFaults(t *testing.T) {
	w := newWorkload(t, 42, 300, 9)
	clean, _, _ := migrateOver(t, w, 1, func(int) faults { return faults{} })
	tests := []struct {
		name  string
		f     func(conn int) faults
		check string // the fault that must have happened
	}{
		{"drop", func(int) faults { return faults{Drop: 0.1} }, "drop"},
		{"duplicate", func(int) faults { return faults{Dup: 0.2} }, "dup"},
		{"reorder", func(int) faults { return faults{Reorder: 0.2} }, "reorder"},
		{"cut", func(conn int) faults {
			if conn < 4 {
				return faults{CutAfter: 5 + 3*conn}
			}
			return faults{}
		}, "cut"},
		{"all", func(conn int) faults {
			f := faults{Drop: 0.05, Dup: 0.05, Reorder: 0.05}
			if conn < 3 {
				f.CutAfter = 8 + 4*conn
			}
			return f
		}, "reorder"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 3; seed++ {
				tbl, pre, jr := migrateOver(t, w, seed*1000, tc.f)
				if n := pre.faults[tc.check] + jr.faults[tc.check]; n == 0 {
					t.Fatalf("seed %d: no %s happened", seed, tc.check)
				}
				checkSessions(t, clean.Sessions, tbl.Sessions)
				checkSessions(t, w.model, tbl.Sessions)
				if tc.check == "dup" && pre.receiver.Duplicates+jr.receiver.Duplicates == 0 {
					t.Fatal("duplicates not seen by the receiver")
				}
				if tc.check == "cut" && jr.conns < 2 {
					t.Fatal("no resume")
				}
			}
		})
	}
}

// TestTransferAckFaults loses, duplicates and reorders the receiver's
// greetings, acknowledgements and NAKs too (not its answer to the end,
// which only a cut connection loses): the stream still arrives whole.
func TestTransferAckFaults(t *testing.T) {
	data := bytes.Repeat([]byte("ack faults "), 9000)
	ackFaults := func(int) faults {
		return faults{Drop: 0.1, Dup: 0.1, Reorder: 0.1, Kinds: []uint8{msgHelloAck, msgAck, msgNak}}
	}
	for seed := uint64(1); seed <= 3; seed++ {
		r := runTransfer2(t, 3, bytes.NewReader(data), testCfg, seed,
			func(int) faults { return faults{Drop: 0.05, Reorder: 0.05} }, ackFaults)
		if !bytes.Equal(r.data, data) {
			t.Fatalf("seed %d: %d bytes arrived of %d", seed, len(r.data), len(data))
		}
		if r.faults["ack drop"] == 0 || r.faults["ack dup"] == 0 || r.faults["ack reorder"] == 0 {
			t.Fatalf("seed %d: acknowledgements undisturbed: %v", seed, r.faults)
		}
	}
}

// TestTransferResumesFromAck cuts a connection and checks that the resumed
// transfer does not start over: the chunks sent stay well below twice the
// stream.
func TestTransferResumesFromAck(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 128 chunks of 512
	cfg := testCfg
	cfg.Timeout = time.Second // no resends by timeout: only the cut is at work
	r := runTransfer(t, 7, bytes.NewReader(data), cfg, 5, func(conn int) faults {
		if conn == 0 {
			return faults{CutAfter: 100}
		}
		return faults{}
	})
	if !bytes.Equal(r.data, data) || r.conns != 2 {
		t.Fatalf("%d bytes over %d connections", len(r.data), r.conns)
	}
	// The resumed connection starts at the chunk the receiver expects:
	// nothing reaches it twice.
	if r.receiver.Duplicates != 0 || r.sender.Chunks > 128+uint64(cfg.Window) {
		t.Fatalf("%d chunks sent for 128, %d duplicates: the resume went back", r.sender.Chunks, r.receiver.Duplicates)
	}
}

func TestTransferStalls(t *testing.T) {
	cfg := TransferConfig{ChunkSize: 64, Timeout: time.Millisecond, MaxRetries: 3}
	snd, _ := NewSender(1, bytes.NewReader(make([]byte, 1000)), cfg)
	rcv := NewReceiver(1, 1000)
	a, b := newPipe()
	done := make(chan error, 1)
	go func() { done <- rcv.Receive(context.Background(), b) }()
	err := snd.Send(context.Background(), newFaultConn(a, 1, faults{Drop: 1}))
	if !errors.Is(err, ErrStalled) {
		t.Fatalf("Send into a black hole: %v", err)
	}
	if err := <-done; !errors.Is(err, ErrConnection) { // Send closed the connection
		t.Fatalf("receiver: %v", err)
	}
}

func TestTransferCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	snd, _ := NewSender(1, bytes.NewReader(make([]byte, 1000)), TransferConfig{Timeout: time.Hour})
	a, b := newPipe()
	defer b.Close()
	time.AfterFunc(10*time.Millisecond, cancel)
	if err := snd.Send(ctx, a); !errors.Is(err, context.Canceled) { // nobody answers the greeting
		t.Fatalf("Send: %v", err)
	}
}

func TestTransferProtocolErrors(t *testing.T) {
	tests := []struct {
		name    string
		stream  uint64
		maxSize int64
	}{
		{"wrong stream", 2, 1 << 20},
		{"too large", 1, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			snd, _ := NewSender(1, bytes.NewReader(make([]byte, 1000)), TransferConfig{Timeout: time.Hour})
			rcv := NewReceiver(tc.stream, tc.maxSize)
			a, b := newPipe()
			done := make(chan error, 1)
			go func() { done <- snd.Send(context.Background(), a) }()
			if err := rcv.Receive(context.Background(), b); !errors.Is(err, ErrProtocol) {
				t.Fatalf("Receive: %v", err)
			}
			b.Close()
			if err := <-done; !errors.Is(err, ErrConnection) {
				t.Fatalf("Send: %v", err)
			}
		})
	}
	j, _ := NewJournal(4096, 1, 1)
	if _, err := NewSender(1, j, TransferConfig{ChunkSize: MaxChunk + 1}); err == nil {
		t.Fatal("chunk above MaxChunk accepted")
	}
}

func TestTransferTCP(t *testing.T) {
	w := newWorkload(t, 43, 100, 9)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skip("no loopback TCP:", err)
	}
	defer ln.Close()
	rcv := NewReceiver(streamJournal, 1<<30)
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		done <- rcv.Receive(context.Background(), c)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	snd, _ := NewSender(streamJournal, journalOf(t, w), TransferConfig{})
	if err := snd.Send(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	tbl := w.destination(t)
	if _, err := Restore(tbl, rcv.Data()); err != nil {
		t.Fatal(err)
	}
	checkSessions(t, w.model, tbl.Sessions)
}

// grow appends n receive records of 100 bytes to j from a goroutine of its
// own, one every gap, waiting while pause says so, then seals it; the
// returned function waits for the seal.
func grow(j *Journal, n int, gap time.Duration, pause func(appended int) bool) func() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		data := bytes.Repeat([]byte("journal!"), 13)[:100]
		for i := range n {
			for pause != nil && pause(i) {
				time.Sleep(100 * time.Microsecond)
			}
			if _, err := j.AppendRecv(1, uint32(i*100), data); err != nil {
				panic(err)
			}
			time.Sleep(gap)
		}
		if _, err := j.Seal(); err != nil {
			panic(err)
		}
	}()
	return func() { <-done }
}

// A journal sent while it grows (an open stream), through lost,
// duplicated and reordered messages both ways and three cuts, each
// resumed: the receiver ends with every byte, sealed.
func TestTransferOpenStream(t *testing.T) {
	for seed := range uint64(4) {
		j, _ := NewJournal(1<<20, 1, 1)
		sealed := grow(j, 600, 20*time.Microsecond, nil)
		f := func(conn int) faults {
			if conn >= 3 {
				return faults{Drop: 0.02, Dup: 0.02, Reorder: 0.02}
			}
			return faults{Drop: 0.02, Dup: 0.02, Reorder: 0.02, CutAfter: 20 + int(seed)*7}
		}
		run := runTransfer2(t, streamJournal, journalSource{j}, TransferConfig{ChunkSize: 1024, Window: 8, Timeout: 5 * time.Millisecond, MaxRetries: 400},
			seed, f, func(int) faults { return faults{Drop: 0.02, Dup: 0.02, Reorder: 0.02} })
		sealed()
		if !bytes.Equal(run.data, j.Bytes()) {
			t.Fatalf("seed %d: %d bytes received, the journal holds %d", seed, len(run.data), j.Size())
		}
		if _, ok, err := ReadAll(run.data); !ok || err != nil {
			t.Fatalf("seed %d: sealed %v, %v", seed, ok, err)
		}
		if run.faults["cut"] < 2 || run.faults["drop"]+run.faults["dup"]+run.faults["reorder"] == 0 {
			t.Errorf("seed %d: %d connections, faults %v", seed, run.conns, run.faults)
		}
	}
}

// An open stream moves while it grows: the journal is not sealed until
// the receiver holds half of what it has appended, which only a sender
// that streams brings about.
func TestTransferStreamsBeforeSeal(t *testing.T) {
	j, _ := NewJournal(1<<20, 1, 1)
	var got atomic.Int64
	rcv := NewReceiver(streamJournal, 1<<20)
	rcv.onData = func(d []byte) { got.Store(int64(len(d))) }
	deadline := time.Now().Add(5 * time.Second)
	stalled := false
	sealed := grow(j, 2000, 0, func(i int) bool {
		if i < 1000 || got.Load() >= j.Size()/2 {
			return false
		}
		if time.Now().After(deadline) {
			stalled = true
			return false
		}
		return true
	})
	snd, err := NewSender(streamJournal, journalSource{j}, TransferConfig{ChunkSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	a, b := newPipe()
	done := make(chan error, 1)
	go func() { done <- rcv.Receive(context.Background(), b) }()
	if err := snd.Send(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	sealed()
	if err := <-done; err != nil || stalled || !bytes.Equal(rcv.Data(), j.Bytes()) {
		t.Fatalf("receive: %v; stalled before the seal %v; %d of %d bytes", err, stalled, len(rcv.Data()), j.Size())
	}
}

// A receiver refuses an open stream that breaks its rules: a size in the
// greeting, a chunk after a short one, an end without its size or with
// another size than arrived.
func TestTransferOpenStreamErrors(t *testing.T) {
	le := binary.LittleEndian
	hello := func(size uint64, flags uint32) []byte {
		p := le.AppendUint64(nil, streamJournal)
		p = le.AppendUint64(p, size)
		p = le.AppendUint32(p, 8)
		return le.AppendUint32(p, flags)
	}
	type msg struct {
		kind    uint8
		seq     uint64
		payload []byte
	}
	chunk := []byte("12345678")
	tests := []struct {
		name string
		msgs []msg
	}{
		{"open with a size", []msg{{msgHello, 0, hello(16, helloOpen)}}},
		{"unknown flag", []msg{{msgHello, 0, hello(0, 2)}}},
		{"chunk after a short one", []msg{{msgHello, 0, hello(0, helloOpen)}, {msgData, 0, chunk[:3]}, {msgData, 1, chunk}}},
		{"chunk above the chunk size", []msg{{msgHello, 0, hello(0, helloOpen)}, {msgData, 0, append(chunk, 'x')}}},
		{"end without a size", []msg{{msgHello, 0, hello(0, helloOpen)}, {msgData, 0, chunk}, {msgBye, 1, nil}}},
		{"end with another size", []msg{{msgHello, 0, hello(0, helloOpen)}, {msgData, 0, chunk}, {msgBye, 1, le.AppendUint64(nil, 9)}}},
		{"end before the last chunk", []msg{{msgHello, 0, hello(0, helloOpen)}, {msgData, 0, chunk}, {msgBye, 2, le.AppendUint64(nil, 16)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := newPipe()
			rcv := NewReceiver(streamJournal, 1<<20)
			done := make(chan error, 1)
			go func() { done <- rcv.Receive(context.Background(), b); b.Close() }()
			mw := msgWriter{w: a}
			for _, m := range tc.msgs {
				if err := mw.write(m.kind, m.seq, m.payload); err != nil {
					break
				}
			}
			go func() { _, _ = io.Copy(io.Discard, a) }()
			if err := <-done; !errors.Is(err, ErrProtocol) {
				t.Fatalf("Receive: %v, want ErrProtocol", err)
			}
			a.Close()
		})
	}
	// A sound open stream of two chunks, the second short, ends well.
	a, b := newPipe()
	rcv := NewReceiver(streamJournal, 1<<20)
	done := make(chan error, 1)
	go func() { done <- rcv.Receive(context.Background(), b) }()
	mw := msgWriter{w: a}
	for _, m := range []msg{{msgHello, 0, hello(0, helloOpen)}, {msgData, 0, chunk}, {msgData, 1, chunk[:5]}, {msgBye, 2, le.AppendUint64(nil, 13)}} {
		if err := mw.write(m.kind, m.seq, m.payload); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil || string(rcv.Data()) != "1234567812345" {
		t.Fatalf("Receive: %v, data %q", err, rcv.Data())
	}
	a.Close()
}
