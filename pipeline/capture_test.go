package pipeline

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/ringkit/ringkit/descriptor"
)

func TestCapturePcap(t *testing.T) {
	pool, err := descriptor.NewPool(descriptor.PoolConfig{Buffers: 64})
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCapture(2, 5, 100)
	if err != nil {
		t.Fatal(err)
	}
	var pkts []descriptor.Packet
	var frames [][]byte
	for i := range 12 {
		b, _ := pool.Get()
		n := 60 + 10*i
		d := pool.Data(b)[:n]
		for j := range d {
			d[j] = byte(i + j)
		}
		pkts = append(pkts, descriptor.Packet{Buf: b, Len: uint16(n)})
		frames = append(frames, d)
	}
	c.Sample(pool, pkts[:7], 1500*time.Microsecond)
	c.Sample(pool, pkts[7:], 3*time.Second)
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	file := buf.Bytes()
	// The global header, field by field.
	le := binary.LittleEndian
	if le.Uint32(file) != 0xa1b2c3d4 || le.Uint16(file[4:]) != 2 || le.Uint16(file[6:]) != 4 ||
		le.Uint32(file[16:]) != 100 || le.Uint32(file[20:]) != 1 {
		t.Fatalf("global header % x", file[:24])
	}
	// Every 2nd frame, 5 of them, cut at 100 bytes.
	recs, snap, err := ReadPcap(file)
	if err != nil || snap != 100 || len(recs) != 5 {
		t.Fatalf("ReadPcap: %d records, snap %d, %v", len(recs), snap, err)
	}
	for k, r := range recs {
		want := frames[2*k]
		if r.Original != len(want) || !bytes.Equal(r.Data, want[:min(len(want), 100)]) {
			t.Errorf("record %d: %d of %d bytes, want frame %d", k, len(r.Data), r.Original, 2*k)
		}
	}
	if d := recs[4].Time.Sub(recs[0].Time); d != 3*time.Second-1500*time.Microsecond {
		t.Errorf("timestamps %v apart", d)
	}
	// The first record header, field by field: seconds and microseconds
	// of the capture's start plus 1.5ms, bytes kept, original length.
	at := c.start.Add(1500 * time.Microsecond)
	if le.Uint32(file[24:]) != uint32(at.Unix()) || le.Uint32(file[28:]) != uint32(at.Nanosecond()/1000) ||
		le.Uint32(file[32:]) != 60 || le.Uint32(file[36:]) != 60 || !bytes.Equal(file[40:100], frames[0]) {
		t.Errorf("first record % x", file[24:48])
	}
	// Truncations are errors, not panics.
	for _, cut := range []int{0, 23, 30, len(file) - 1} {
		if _, _, err := ReadPcap(file[:cut]); !errors.Is(err, ErrPcap) {
			t.Errorf("cut at %d: %v", cut, err)
		}
	}
}

func FuzzReadPcap(f *testing.F) {
	c, _ := NewCapture(1, 2, 64)
	c.Add(make([]byte, 60), 60, time.Millisecond)
	var buf bytes.Buffer
	c.WriteTo(&buf)
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, snap, err := ReadPcap(b)
		if err != nil && !errors.Is(err, ErrPcap) {
			t.Fatal(err)
		}
		for _, r := range recs {
			if len(r.Data) > snap || len(r.Data) > r.Original {
				t.Fatalf("record of %d bytes, snap %d, original %d", len(r.Data), snap, r.Original)
			}
		}
	})
}

// A run with a capture writes frames that verify.
func TestCaptureFromRun(t *testing.T) {
	c, _ := NewCapture(10, 50, 1514)
	p, err := New(simConfig(false), Options{Capture: c})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RunSim(p, 20*time.Millisecond, 32*time.Microsecond, 0); err != nil {
		t.Fatal(err)
	}
	if c.Len() != 50 {
		t.Fatalf("captured %d frames, want 50", c.Len())
	}
	var buf bytes.Buffer
	c.WriteTo(&buf)
	recs, _, err := ReadPcap(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		if len(r.Data) != r.Original || r.Original < 60 {
			t.Errorf("record %d: %d of %d bytes", i, len(r.Data), r.Original)
		}
	}
}
