package migrate

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// tableMagic opens an encoded Table: "RKST" and a version byte.
var tableMagic = [5]byte{'R', 'K', 'S', 'T', 2}

// MaxSessions bounds the session count of an encoded table.
const MaxSessions = 1 << 20

// AppendTable appends the encoding of t (the pre-copy image a source sends
// before it suspends the VM) to dst:
//
//	"RKST" | version u8 (2) | epoch u32 | applied u64 |
//	interface_len u32 | the VM's interface as AppendInterface encodes it |
//	count u32 | count × (length u32 | session as AppendSession encodes it)
//
// Sessions are in increasing id order, so equal tables encode equally.
func AppendTable(dst []byte, t *Table) []byte {
	le := binary.LittleEndian
	dst = append(dst, tableMagic[:]...)
	dst = le.AppendUint32(dst, t.Epoch)
	dst = le.AppendUint64(dst, t.Applied)
	at := len(dst)
	dst = le.AppendUint32(dst, 0)
	dst = AppendInterface(dst, &t.Interface)
	le.PutUint32(dst[at:], uint32(len(dst)-at-4))
	dst = le.AppendUint32(dst, uint32(len(t.Sessions)))
	ids := make([]uint64, 0, len(t.Sessions))
	for id := range t.Sessions {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		at := len(dst)
		dst = le.AppendUint32(dst, 0)
		dst = AppendSession(dst, t.Sessions[id])
		le.PutUint32(dst[at:], uint32(len(dst)-at-4))
	}
	return dst
}

// DecodeTable decodes a table encoded by AppendTable, validating its
// interface (DecodeInterface) and every session (DecodeSession), that ids
// increase (so each is there once and
// the encoding is canonical), and that no byte trails. It never panics.
func DecodeTable(b []byte) (*Table, error) {
	d := decoder{b: b}
	if m := d.take(len(tableMagic), "magic"); m != nil && [5]byte(m) != tableMagic {
		return nil, fmt.Errorf("table: magic % x, want % x: %w", m, tableMagic[:], ErrMalformed)
	}
	t := NewTable(d.u32("epoch"))
	t.Applied = d.u64("applied")
	size := d.u32("interface length")
	p := d.take(int(size), "interface")
	if err := d.err("table"); err != nil {
		return nil, err
	}
	ifc, err := DecodeInterface(p)
	if err != nil {
		return nil, fmt.Errorf("table: %w", err)
	}
	t.Interface = *ifc
	n := d.u32("count")
	if err := d.err("table"); err != nil {
		return nil, err
	}
	if n > MaxSessions {
		return nil, fmt.Errorf("table: %d sessions above %d: %w", n, MaxSessions, ErrMalformed)
	}
	var prev uint64
	for i := range n {
		size := d.u32("session length")
		p := d.take(int(size), "session")
		if err := d.err("table"); err != nil {
			return nil, fmt.Errorf("session %d of %d: %w", i, n, err)
		}
		s, err := DecodeSession(p)
		if err != nil {
			return nil, fmt.Errorf("table: session %d of %d: %w", i, n, err)
		}
		if i > 0 && s.ID <= prev {
			return nil, fmt.Errorf("table: session id %d after %d, ids must increase: %w", s.ID, prev, ErrMalformed)
		}
		prev = s.ID
		t.Sessions[s.ID] = s
	}
	if d.off != len(b) {
		return nil, fmt.Errorf("table: %d trailing bytes: %w", len(b)-d.off, ErrMalformed)
	}
	return t, nil
}
