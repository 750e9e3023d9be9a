package migrate

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"
)

func TestSeqArithmetic(t *testing.T) {
	tests := []struct {
		a, b    uint32
		lt, leq bool
	}{
		{1, 2, true, true},
		{2, 1, false, false},
		{5, 5, false, true},
		{0xfffffff0, 0x10, true, true}, // across the wrap
		{0x10, 0xfffffff0, false, false},
		{0, 0x7fffffff, true, true},
		{0xffffffff, 0, true, true},
	}
	for _, tc := range tests {
		if got := seqLT(tc.a, tc.b); got != tc.lt {
			t.Errorf("seqLT(%#x, %#x) = %v", tc.a, tc.b, got)
		}
		if got := seqLEQ(tc.a, tc.b); got != tc.leq {
			t.Errorf("seqLEQ(%#x, %#x) = %v", tc.a, tc.b, got)
		}
	}
}

func TestSessionRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := map[string]*Session{"zero": {}}
	for id := uint64(1); id <= 6; id++ {
		cases[randSession(rng, id).Tuple.Src.String()] = randSession(rng, id)
	}
	mapped := randSession(rng, 7)
	mapped.Tuple.Src = netip.MustParseAddrPort("[::ffff:10.1.2.3]:80") // IPv4-mapped stays IPv6
	cases["v4-mapped"] = mapped
	syn := &Session{ID: 9, State: SynSent, SndUna: 0xffffffff, SndNxt: 0} // the SYN takes a sequence number
	cases["syn-sent"] = syn
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := s.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeSession(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, s) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, s)
			}
			var u Session
			if err := u.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(&u, s) {
				t.Fatalf("UnmarshalBinary: %v", err)
			}
		})
	}
}

func TestSessionDecodeRejects(t *testing.T) {
	good := randSession(rand.New(rand.NewPCG(3, 4)), 3) // has crypto, IPv4
	enc := AppendSession(nil, good)
	// Offsets of fields in the encoding of good (see AppendSession).
	const (
		offFam    = 1 + 8 + 1
		offState  = offFam + 2*19
		offUna    = offState + 1
		offWScale = offUna + 5*4
		offTSFlag = offWScale + 4
		offCrFlag = offTSFlag + 1 + 12 + 40 + 1
	)
	mutate := func(f func(b []byte)) []byte {
		b := append([]byte(nil), enc...)
		f(b)
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"version", mutate(func(b []byte) { b[0] = 2 }), ErrMalformed},
		{"family", mutate(func(b []byte) { b[offFam] = 5 }), ErrMalformed},
		{"ipv4 tail bytes", mutate(func(b []byte) { b[offFam+1+10] = 1 }), ErrMalformed},
		{"state", mutate(func(b []byte) { b[offState] = 11 }), ErrInvalidSession},
		{"snd_nxt before snd_una", mutate(func(b []byte) { b[offUna+4+3] = b[offUna+3] - 1 }), ErrInvalidSession},
		{"window scale", mutate(func(b []byte) { b[offWScale] = 15 }), ErrInvalidSession},
		{"timestamp flag", mutate(func(b []byte) { b[offTSFlag] = 2 }), ErrMalformed},
		{"crypto flag", mutate(func(b []byte) { b[offCrFlag] = 2 }), ErrMalformed},
		{"crypto fields without flag", mutate(func(b []byte) { b[offCrFlag] = 0 }), ErrMalformed},
		{"trailing byte", append(append([]byte(nil), enc...), 0), ErrMalformed},
		{"queue length past end", mutate(func(b []byte) { b[len(b)-len(good.SendQueue)-2] = 0x7f }), ErrMalformed},
		{"queue above MaxQueue", mutate(func(b []byte) { b[len(b)-len(good.SendQueue)-1] = 0xff }), ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := DecodeSession(tc.in)
			if !errors.Is(err, tc.want) || s != nil {
				t.Fatalf("DecodeSession = %v, %v; want %v", s, err, tc.want)
			}
		})
	}
	for n := range len(enc) { // every truncation
		if _, err := DecodeSession(enc[:n]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("truncated to %d of %d bytes: %v", n, len(enc), err)
		}
	}
}

func TestSessionValidate(t *testing.T) {
	s := &Session{ID: 1, State: Established, SndUna: 10, SndNxt: 13, SendQueue: []byte("abc")}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	s.SndNxt = 16 // three more sequence numbers than bytes: no TCP sends that
	if err := s.Validate(); !errors.Is(err, ErrInvalidSession) {
		t.Fatalf("Validate = %v", err)
	}
	s.SndNxt = 13
	s.Tuple.Src = netip.AddrPortFrom(netip.MustParseAddr("fe80::1%eth0"), 1)
	if _, err := s.MarshalBinary(); !errors.Is(err, ErrInvalidSession) {
		t.Fatalf("zoned address: %v", err)
	}
}

func TestTimestampsRebase(t *testing.T) {
	// The source clock read 0xfffffff0 (about to wrap); the destination's
	// reads 1000: TSval must still move forward for the peer's PAWS check.
	ts := Timestamps{Enabled: true, Offset: 0}
	ts.LastSent = ts.TSval(0xfffffff0)
	got := ts.Rebase(1000)
	if !seqLT(ts.LastSent, got) || got != ts.LastSent+1 {
		t.Fatalf("TSval after rebase %#x, last sent %#x", got, ts.LastSent)
	}
	if later := ts.TSval(1500); !seqLT(got, later) || later-got != 500 {
		t.Fatalf("TSval 500 ticks later %#x, want %#x", later, got+500)
	}
}

func TestTableRoundTrip(t *testing.T) {
	w := newWorkload(t, 5, 50, 4)
	b := AppendTable(nil, w.precopy)
	got, err := DecodeTable(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, w.precopy) {
		t.Fatal("table round trip differs")
	}
	if _, err := DecodeTable(append(b, 0)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("trailing byte: %v", err)
	}
	for n := range len(b) {
		if _, err := DecodeTable(b[:n]); err == nil {
			t.Fatalf("truncated to %d: no error", n)
		}
	}
}
