package migrate

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"

	"github.com/ringkit/ringkit/tcpip"
)

func TestSessionRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := map[string]*tcpip.Session{"zero": {}}
	for id := uint64(1); id <= 6; id++ {
		cases[randSession(rng, id).Tuple.Src.String()] = randSession(rng, id)
	}
	mapped := randSession(rng, 7)
	mapped.Tuple.Src = netip.MustParseAddrPort("[::ffff:10.1.2.3]:80") // IPv4-mapped stays IPv6
	cases["v4-mapped"] = mapped
	syn := &tcpip.Session{ID: 9, State: tcpip.SynSent, SndUna: 0xffffffff, SndNxt: 0} // the SYN takes a sequence number
	cases["syn-sent"] = syn
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			b := AppendSession(nil, s)
			got, err := DecodeSession(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, s) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, s)
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
		{"state", mutate(func(b []byte) { b[offState] = 11 }), tcpip.ErrInvalidSession},
		{"snd_nxt before snd_una", mutate(func(b []byte) { b[offUna+4+3] = b[offUna+3] - 1 }), tcpip.ErrInvalidSession},
		{"window scale", mutate(func(b []byte) { b[offWScale] = 15 }), tcpip.ErrInvalidSession},
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
