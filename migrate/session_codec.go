package migrate

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"github.com/ringkit/ringkit/tcpip"
)

// sessionVersion is the first byte of an encoded Session.
const sessionVersion = 1

// sessionFixed is the size of an encoded session without its queues.
const sessionFixed = 1 + 8 + 1 + 2*19 + 1 + 3*4 + 2*4 + 2 + 2 + 1 + 3*4 + 5*8 + 1 + 1 + 4 + 8 + 8 + 4 + 4 + 4

// AppendSession appends the binary encoding of s to dst and returns the
// extended slice. The layout (little-endian, fixed offsets) is:
//
//	version u8 (1) | id u64 | proto u8 | src addr | dst addr |
//	state u8 | snd_una u32 | snd_nxt u32 | rcv_nxt u32 | snd_wnd u32 | rcv_wnd u32 |
//	snd_wscale u8 | rcv_wscale u8 | mss u16 |
//	ts_flags u8 (bit 0: enabled) | ts_offset u32 | ts_last_sent u32 | ts_recent u32 |
//	keepalive_idle i64 | keepalive_interval i64 | keepalive_in i64 | rto i64 | retransmit_in i64 (ns) |
//	keepalive_probes u8 | crypto_flag u8 (0 or 1) | key_epoch u32 | tx_seq u64 | rx_seq u64 |
//	epoch u32 | recv_len u32 | recv bytes | send_len u32 | send bytes
//
// An address is family u8 (0 none, 4, 6), 16 address bytes (IPv4 in the
// first four, the rest zero) and port u16. The crypto fields are zero when
// crypto_flag is 0.
func AppendSession(dst []byte, s *tcpip.Session) []byte {
	le := binary.LittleEndian
	dst = append(dst, sessionVersion)
	dst = le.AppendUint64(dst, s.ID)
	dst = append(dst, s.Tuple.Proto)
	dst = appendAddrPort(dst, s.Tuple.Src)
	dst = appendAddrPort(dst, s.Tuple.Dst)
	dst = append(dst, uint8(s.State))
	dst = le.AppendUint32(dst, s.SndUna)
	dst = le.AppendUint32(dst, s.SndNxt)
	dst = le.AppendUint32(dst, s.RcvNxt)
	dst = le.AppendUint32(dst, s.SndWnd)
	dst = le.AppendUint32(dst, s.RcvWnd)
	dst = append(dst, s.SndWScale, s.RcvWScale)
	dst = le.AppendUint16(dst, s.MSS)
	var tsFlags uint8
	if s.TS.Enabled {
		tsFlags = 1
	}
	dst = append(dst, tsFlags)
	dst = le.AppendUint32(dst, s.TS.Offset)
	dst = le.AppendUint32(dst, s.TS.LastSent)
	dst = le.AppendUint32(dst, s.TS.Recent)
	t := s.Timers
	for _, d := range [5]time.Duration{t.KeepaliveIdle, t.KeepaliveInterval, t.KeepaliveIn, t.RTO, t.RetransmitIn} {
		dst = le.AppendUint64(dst, uint64(d))
	}
	dst = append(dst, t.KeepaliveProbes)
	var cr tcpip.Crypto
	var crFlag uint8
	if s.Crypto != nil {
		cr, crFlag = *s.Crypto, 1
	}
	dst = append(dst, crFlag)
	dst = le.AppendUint32(dst, cr.KeyEpoch)
	dst = le.AppendUint64(dst, cr.TxSeq)
	dst = le.AppendUint64(dst, cr.RxSeq)
	dst = le.AppendUint32(dst, s.Epoch)
	dst = le.AppendUint32(dst, uint32(len(s.RecvQueue)))
	dst = append(dst, s.RecvQueue...)
	dst = le.AppendUint32(dst, uint32(len(s.SendQueue)))
	dst = append(dst, s.SendQueue...)
	return dst
}

func appendAddrPort(dst []byte, ap netip.AddrPort) []byte {
	a := ap.Addr()
	var fam uint8
	var raw [16]byte
	switch {
	case a.Is4():
		fam = 4
		v4 := a.As4()
		copy(raw[:], v4[:])
	case a.Is6():
		fam = 6
		raw = a.As16()
	}
	dst = append(dst, fam)
	dst = append(dst, raw[:]...)
	return binary.LittleEndian.AppendUint16(dst, ap.Port())
}

// decoder reads little-endian fields and remembers the first shortfall, so
// that a decode reads as a list of fields and checks once.
type decoder struct {
	b    []byte
	off  int
	what string // the field that ran past the end
}

func (d *decoder) take(n int, what string) []byte {
	if d.what != "" {
		return nil
	}
	if n < 0 || len(d.b)-d.off < n {
		d.what = what
		return nil
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p
}

func (d *decoder) u8(what string) uint8 {
	if p := d.take(1, what); p != nil {
		return p[0]
	}
	return 0
}

func (d *decoder) u16(what string) uint16 {
	if p := d.take(2, what); p != nil {
		return binary.LittleEndian.Uint16(p)
	}
	return 0
}

func (d *decoder) u32(what string) uint32 {
	if p := d.take(4, what); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (d *decoder) u64(what string) uint64 {
	if p := d.take(8, what); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

func (d *decoder) err(kind string) error {
	if d.what == "" {
		return nil
	}
	return fmt.Errorf("%s: truncated at %s (byte %d of %d): %w", kind, d.what, d.off, len(d.b), ErrMalformed)
}

// DecodeSession decodes a session encoded by AppendSession and validates
// it: every field is range-checked, reserved bytes must be zero, queue
// lengths must fit the input and MaxQueue, trailing bytes are an error. The
// returned session shares no memory with b. It never panics.
func DecodeSession(b []byte) (*tcpip.Session, error) {
	d := decoder{b: b}
	s, err := decodeSession(&d)
	if err != nil {
		return nil, err
	}
	if d.off != len(b) {
		return nil, fmt.Errorf("session %d: %d trailing bytes: %w", s.ID, len(b)-d.off, ErrMalformed)
	}
	return s, nil
}

func decodeSession(d *decoder) (*tcpip.Session, error) {
	s, err := decodeSessionFields(d)
	if err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("%w (%w)", err, ErrMalformed)
	}
	return s, nil
}

func decodeSessionFields(d *decoder) (*tcpip.Session, error) {
	if v := d.u8("version"); d.what == "" && v != sessionVersion {
		return nil, fmt.Errorf("session: version %d, want %d: %w", v, sessionVersion, ErrMalformed)
	}
	s := &tcpip.Session{}
	s.ID = d.u64("id")
	s.Tuple.Proto = d.u8("proto")
	var err error
	if s.Tuple.Src, err = decodeAddrPort(d, "src"); err != nil {
		return nil, err
	}
	if s.Tuple.Dst, err = decodeAddrPort(d, "dst"); err != nil {
		return nil, err
	}
	s.State = tcpip.TCPState(d.u8("state"))
	s.SndUna = d.u32("snd_una")
	s.SndNxt = d.u32("snd_nxt")
	s.RcvNxt = d.u32("rcv_nxt")
	s.SndWnd = d.u32("snd_wnd")
	s.RcvWnd = d.u32("rcv_wnd")
	s.SndWScale = d.u8("snd_wscale")
	s.RcvWScale = d.u8("rcv_wscale")
	s.MSS = d.u16("mss")
	switch f := d.u8("ts_flags"); f {
	case 0, 1:
		s.TS.Enabled = f == 1
	default:
		return nil, fmt.Errorf("session %d: timestamp flags %#x: %w", s.ID, f, ErrMalformed)
	}
	s.TS.Offset = d.u32("ts_offset")
	s.TS.LastSent = d.u32("ts_last_sent")
	s.TS.Recent = d.u32("ts_recent")
	s.Timers.KeepaliveIdle = time.Duration(d.u64("keepalive_idle"))
	s.Timers.KeepaliveInterval = time.Duration(d.u64("keepalive_interval"))
	s.Timers.KeepaliveIn = time.Duration(d.u64("keepalive_in"))
	s.Timers.RTO = time.Duration(d.u64("rto"))
	s.Timers.RetransmitIn = time.Duration(d.u64("retransmit_in"))
	s.Timers.KeepaliveProbes = d.u8("keepalive_probes")
	crFlag := d.u8("crypto_flag")
	cr := tcpip.Crypto{KeyEpoch: d.u32("key_epoch"), TxSeq: d.u64("tx_seq"), RxSeq: d.u64("rx_seq")}
	switch {
	case crFlag == 1:
		s.Crypto = &cr
	case crFlag != 0:
		return nil, fmt.Errorf("session %d: crypto flag %d: %w", s.ID, crFlag, ErrMalformed)
	case cr != tcpip.Crypto{}:
		return nil, fmt.Errorf("session %d: crypto fields set without crypto flag: %w", s.ID, ErrMalformed)
	}
	s.Epoch = d.u32("epoch")
	if s.RecvQueue, err = decodeQueue(d, s.ID, "recv"); err != nil {
		return nil, err
	}
	if s.SendQueue, err = decodeQueue(d, s.ID, "send"); err != nil {
		return nil, err
	}
	if err := d.err("session"); err != nil {
		return nil, err
	}
	return s, nil
}

// decodeSessionRaw decodes all of b as one session, checking every field
// but not the session as a whole: an update record's session carries in
// its queues only the bytes they gained (Table.update validates what it
// builds).
func decodeSessionRaw(b []byte) (*tcpip.Session, error) {
	d := decoder{b: b}
	s, err := decodeSessionFields(&d)
	if err != nil {
		return nil, err
	}
	if d.off != len(b) {
		return nil, fmt.Errorf("session %d: %d trailing bytes: %w", s.ID, len(b)-d.off, ErrMalformed)
	}
	return s, nil
}

func decodeQueue(d *decoder, id uint64, what string) ([]byte, error) {
	n := d.u32(what + "_len")
	if d.what != "" {
		return nil, d.err("session")
	}
	if n > tcpip.MaxQueue {
		return nil, fmt.Errorf("session %d: %s queue of %d bytes above %d: %w", id, what, n, tcpip.MaxQueue, ErrMalformed)
	}
	p := d.take(int(n), what+" bytes")
	if p == nil {
		return nil, d.err("session")
	}
	if n == 0 {
		return nil, nil
	}
	return append([]byte(nil), p...), nil
}

func decodeAddrPort(d *decoder, what string) (netip.AddrPort, error) {
	fam := d.u8(what + " family")
	raw := d.take(16, what+" address")
	port := d.u16(what + " port")
	if d.what != "" {
		return netip.AddrPort{}, nil // reported by d.err
	}
	var a netip.Addr
	switch fam {
	case 0:
		if !allZero(raw) {
			return netip.AddrPort{}, fmt.Errorf("session: %s: address bytes without a family: %w", what, ErrMalformed)
		}
	case 4:
		if !allZero(raw[4:]) {
			return netip.AddrPort{}, fmt.Errorf("session: %s: IPv4 address with bytes past the fourth: %w", what, ErrMalformed)
		}
		a = netip.AddrFrom4([4]byte(raw[:4]))
	case 6:
		a = netip.AddrFrom16([16]byte(raw))
	default:
		return netip.AddrPort{}, fmt.Errorf("session: %s: address family %d: %w", what, fam, ErrMalformed)
	}
	return netip.AddrPortFrom(a, port), nil
}

func allZero(p []byte) bool {
	for _, c := range p {
		if c != 0 {
			return false
		}
	}
	return true
}
