package pcap_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/frame"
	"github.com/ringkit/ringkit/pcap"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// capture writes n UDP frames of assorted sizes, at times that step by up
// to gap, with header h, and returns the file.
func capture(t testing.TB, h pcap.Header, n int, gap time.Duration, seed uint64) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	var buf bytes.Buffer
	w, err := pcap.NewWriter(&buf, h)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f := make([]byte, 0, 2048)
	for i := range n {
		s := frame.Spec{Src: netip.AddrFrom4([4]byte{198, 18, 0, byte(i)}), Dst: netip.MustParseAddr("198.18.1.1"),
			Proto: frame.ProtoUDP, SrcPort: uint16(1000 + i), DstPort: 53, PayloadLen: rng.IntN(1400)}
		f = frame.Build(f[:0], &s)
		at = at.Add(time.Duration(rng.Int64N(int64(gap))) + time.Microsecond)
		if !h.Nano {
			at = at.Truncate(time.Microsecond)
		}
		if err := w.Write(at, f, len(f)+rng.IntN(2)*4); err != nil { // some records keep less than the frame
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var headers = map[string]pcap.Header{
	"little micro": {SnapLen: 65535, LinkType: pcap.LinkEthernet},
	"little nano":  {SnapLen: 65535, LinkType: pcap.LinkEthernet, Nano: true},
	"big micro":    {SnapLen: 1600, LinkType: pcap.LinkEthernet, BigEndian: true},
	"big nano":     {SnapLen: 262144, LinkType: pcap.LinkEthernet, BigEndian: true, Nano: true, ThisZone: -3600, SigFigs: 3},
}

// TestRoundTrip: a capture parsed (whole, and record by record) and
// written again with its own header is the same bytes.
func TestRoundTrip(t *testing.T) {
	for name, h := range headers {
		t.Run(name, func(t *testing.T) {
			file := capture(t, h, 200, time.Millisecond, 1)
			gh, recs, err := pcap.Parse(file)
			if err != nil || len(recs) != 200 {
				t.Fatalf("Parse: %d records, %v", len(recs), err)
			}
			if gh.Nano != h.Nano || gh.BigEndian != h.BigEndian || gh.SnapLen != h.SnapLen || gh.ThisZone != h.ThisZone {
				t.Fatalf("header %+v, wrote %+v", gh, h)
			}
			r, err := pcap.NewReader(bytes.NewReader(file))
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			w, err := pcap.NewWriter(&out, r.Header())
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; ; i++ {
				rec, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if !rec.Time.Equal(recs[i].Time) || !bytes.Equal(rec.Data, recs[i].Data) || rec.Original != recs[i].Original {
					t.Fatalf("record %d: Reader and Parse differ", i)
				}
				if err := frame.Verify(rec.Data); err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				if err := w.Write(rec.Time, rec.Data, rec.Original); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), file) {
				t.Fatal("the capture written again differs")
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	file := capture(t, headers["little micro"], 3, time.Millisecond, 2)
	for cut := range len(file) {
		_, recs, err := pcap.Parse(file[:cut])
		if cut == 24 || cut == len(file) {
			continue
		}
		if err == nil && !complete(file, cut) {
			t.Fatalf("cut at %d: no error, %d records", cut, len(recs))
		}
		if err != nil && !errors.Is(err, pcap.ErrFormat) {
			t.Fatalf("cut at %d: %v does not wrap ErrFormat", cut, err)
		}
	}
	mod := func(off int, b ...byte) []byte {
		c := bytes.Clone(file)
		copy(c[off:], b)
		return c
	}
	for name, b := range map[string][]byte{
		"magic":        mod(0, 1, 2, 3, 4),
		"version":      mod(4, 3, 0),
		"microseconds": mod(24+4, 0x40, 0x42, 0x0f, 0),
		"kept > frame": mod(24+12, 1, 0, 0, 0),
		"kept > snap":  mod(16, 10, 0, 0, 0),
		"empty":        nil,
		"kept > file":  mod(24+8, 0xff, 0xff, 0, 0),
	} {
		if _, _, err := pcap.Parse(b); !errors.Is(err, pcap.ErrFormat) {
			t.Errorf("%s: %v, want ErrFormat", name, err)
		}
		if r, err := pcap.NewReader(bytes.NewReader(b)); err == nil {
			for err == nil {
				_, err = r.Next()
			}
			if !errors.Is(err, pcap.ErrFormat) {
				t.Errorf("%s: Reader: %v, want ErrFormat", name, err)
			}
		} else if !errors.Is(err, pcap.ErrFormat) {
			t.Errorf("%s: NewReader: %v, want ErrFormat", name, err)
		}
	}
}

// complete reports whether file[:cut] ends on a record boundary.
func complete(file []byte, cut int) bool {
	_, recs, _ := pcap.Parse(file)
	off := 24
	for _, r := range recs {
		off += 16 + len(r.Data)
		if off == cut {
			return true
		}
	}
	return false
}

func FuzzParse(f *testing.F) {
	for name, h := range headers {
		_ = name
		f.Add(capture(f, h, 3, time.Millisecond, 3))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, recs, err := pcap.Parse(b)
		if err != nil && !errors.Is(err, pcap.ErrFormat) {
			t.Fatalf("%v does not wrap ErrFormat", err)
		}
		// The Reader agrees with Parse.
		r, rerr := pcap.NewReader(bytes.NewReader(b))
		n := 0
		for rerr == nil {
			var rec pcap.Record
			rec, rerr = r.Next()
			if rerr != nil {
				break
			}
			if n >= len(recs) || !bytes.Equal(rec.Data, recs[n].Data) || !rec.Time.Equal(recs[n].Time) {
				t.Fatalf("record %d: Reader and Parse differ", n)
			}
			n++
		}
		if n != len(recs) || (err == nil) != (rerr == io.EOF) {
			t.Fatalf("Reader read %d records ending %v; Parse %d ending %v", n, rerr, len(recs), err)
		}
		// A valid capture with a snap length is written back as it was.
		if err != nil || h.SnapLen == 0 || h.SnapLen > pcap.MaxRecord {
			return
		}
		var out bytes.Buffer
		w, err := pcap.NewWriter(&out, h)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs {
			if err := w.Write(rec.Time, rec.Data, rec.Original); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), b) {
			t.Fatalf("written back differently:\n%x\n%x", out.Bytes(), b)
		}
	})
}

func TestReplayDue(t *testing.T) {
	t0 := time.Unix(1000, 0)
	recs := []pcap.Record{{Time: t0, Data: []byte{1}}, {Time: t0.Add(time.Millisecond), Data: []byte{2}}, {Time: t0.Add(3 * time.Millisecond), Data: []byte{3}}}
	r := pcap.NewReplay(recs, true)
	for _, c := range []struct {
		now  time.Duration
		take int
		want int
	}{{0, 0, 1}, {999 * time.Microsecond, 1, 1}, {time.Millisecond, 0, 1}, {2 * time.Millisecond, 1, 1}, {2 * time.Millisecond, 0, 0}, {time.Hour, 0, 1}} {
		if got := r.Due(c.now); got != c.want {
			t.Fatalf("Due(%v) = %d, want %d", c.now, got, c.want)
		}
		for range c.take {
			r.Next(nil)
		}
	}
	f := r.Next(make([]byte, 0, 8))
	if len(f) != 1 || f[0] != 3 || !r.Time().Equal(recs[2].Time) || !r.Done() || r.Next(nil) != nil {
		t.Fatalf("last frame %v at %v, done %v", f, r.Time(), r.Done())
	}
	if u := pcap.NewReplay(recs, false); u.Due(0) != 3 {
		t.Fatalf("unpaced Due(0) = %d, want 3", u.Due(0))
	}
}

// TestPortRoundTrip replays a capture into a capture port whose driver
// sends every packet it receives back out: the sink's file is the
// capture, byte for byte, and the pool is full afterwards.
func TestPortRoundTrip(t *testing.T) {
	for name, h := range headers {
		t.Run(name, func(t *testing.T) {
			file := capture(t, h, 500, time.Millisecond, 4)
			gh, recs, err := pcap.Parse(file)
			if err != nil {
				t.Fatal(err)
			}
			pool, _ := descriptor.NewPool(descriptor.PoolConfig{Buffers: 1024})
			var out bytes.Buffer
			sink, err := pcap.NewWriter(&out, gh)
			if err != nil {
				t.Fatal(err)
			}
			p, err := pcap.NewPort(pcap.PortConfig{Pool: pool, Source: pcap.NewReplay(recs, false), Sink: sink,
				Rx: descriptor.RxConfig{Descs: 64}})
			if err != nil {
				t.Fatal(err)
			}
			loopback(t, p, len(recs))
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			if st := pool.Stats(); st.InUse != 0 {
				t.Fatalf("pool after Close: %+v", st)
			}
			if st := p.Stats(); st.Total.RxPackets != 500 || st.Total.TxPackets != 500 {
				t.Fatalf("stats: %v", st)
			}
			if !bytes.Equal(out.Bytes(), file) {
				t.Fatal("the capture replayed and written again differs")
			}
		})
	}
}

// loopback drives p by Step, sending each received packet back out, until
// n have been sent.
func loopback(t *testing.T, p *pcap.Port, n int) {
	t.Helper()
	burst := make([]descriptor.Packet, 32)
	sent := 0
	for range 100000 {
		if _, err := p.Step(); err != nil {
			t.Fatal(err)
		}
		k := p.RxRing(0).Receive(burst)
		for off := 0; off < k; {
			m, err := p.TxRing(0).Transmit(burst[off:k])
			if err != nil {
				t.Fatal(err)
			}
			off += m
			sent += m
			if _, err := p.Step(); err != nil {
				t.Fatal(err)
			}
		}
		if sent == n && p.TxRing(0).Reclaim() >= 0 && p.Stats().Total.TxPackets == uint64(n) {
			return
		}
	}
	t.Fatalf("sent %d of %d", sent, n)
}

// TestPortRunPaced runs a capture port with a paced replay: frames are
// not received before their time, all arrive, and Close ends Run.
func TestPortRunPaced(t *testing.T) {
	file := capture(t, headers["little nano"], 50, 2*time.Millisecond, 5)
	_, recs, _ := pcap.Parse(file)
	span := recs[len(recs)-1].Time.Sub(recs[0].Time)
	pool, _ := descriptor.NewPool(descriptor.PoolConfig{Buffers: 256})
	p, err := pcap.NewPort(pcap.PortConfig{Pool: pool, Source: pcap.NewReplay(recs, true), Rx: descriptor.RxConfig{Descs: 64}})
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	start := time.Now()
	go func() { runErr <- p.Run(context.Background()) }()
	burst := make([]descriptor.Packet, 32)
	got := 0
	for got < len(recs) && time.Since(start) < 10*time.Second {
		k := p.RxRing(0).Receive(burst)
		for _, pk := range burst[:k] {
			if at := recs[got].Time.Sub(recs[0].Time); time.Since(start) < at {
				t.Fatalf("frame %d received %v into the replay, due at %v", got, time.Since(start), at)
			}
			if !bytes.Equal(pool.Bytes(pk), recs[got].Data) {
				t.Fatalf("frame %d differs", got)
			}
			got++
		}
		_ = p.RxRing(0).Free(burst[:k])
		time.Sleep(100 * time.Microsecond)
	}
	if got != len(recs) || time.Since(start) < span {
		t.Fatalf("%d of %d frames in %v (the capture spans %v)", got, len(recs), time.Since(start), span)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-runErr; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := p.Step(); err == nil {
		t.Fatal("Step after Close succeeded")
	}
	if st := pool.Stats(); st.InUse != 0 {
		t.Fatalf("pool after Close: %+v", st)
	}
}

func ExampleNewReplay() {
	var buf bytes.Buffer
	w, _ := pcap.NewWriter(&buf, pcap.Header{LinkType: pcap.LinkEthernet})
	_ = w.Write(time.Unix(1, 0), make([]byte, 60), 60)
	_ = w.Flush()
	_, recs, _ := pcap.Parse(buf.Bytes())
	r := pcap.NewReplay(recs, false)
	fmt.Println(r.Due(0), len(r.Next(nil)), r.Done())
	// Output: 1 60 true
}

// TestNewPortMemoryLimit: legal sizes whose memory would not fit (a huge
// burst, a huge number of queues) are refused with an error wrapping
// ErrConfig before anything is allocated; PortConfig.MaxBytes moves the
// limit, which counts the rings, the bursts and the stamp kept for each
// buffer of the pool.
func TestNewPortMemoryLimit(t *testing.T) {
	pool, err := descriptor.NewPool(descriptor.PoolConfig{Buffers: 256})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []pcap.PortConfig{
		{Pool: pool, Burst: math.MaxInt / 2},
		{Pool: pool, Queues: 1 << 20},
		{Pool: pool, MaxBytes: -1},
		{Pool: pool, Queues: 4, MaxBytes: 1 << 10},
	} {
		p, err := pcap.NewPort(c)
		if p != nil {
			p.Close()
		}
		if !errors.Is(err, pcap.ErrConfig) {
			t.Errorf("NewPort with burst %d, %d queues, MaxBytes %d = %v, want ErrConfig", c.Burst, c.Queues, c.MaxBytes, err)
		}
	}
	_, err = pcap.NewPort(pcap.PortConfig{Pool: pool, Queues: 1 << 20})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("limit of %d bytes", pcap.DefaultMaxBytes)) || !strings.Contains(err.Error(), "PortConfig.MaxBytes") {
		t.Errorf("NewPort of 2^20 queues = %v, want an error naming the limit and PortConfig.MaxBytes", err)
	}
	p, err := pcap.NewPort(pcap.PortConfig{Pool: pool, Queues: 4})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if st := pool.Stats(); st.Free != st.Buffers {
		t.Errorf("pool %+v after the ports closed", st)
	}
}
