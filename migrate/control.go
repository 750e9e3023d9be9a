package migrate

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Streams of a migration's transfers (Sender and Receiver names).
const (
	StreamPreCopy uint64 = 1 // the session table sent while the VM runs
	StreamJournal uint64 = 2 // the sealed journal of the suspension
	StreamRound   uint64 = 3 // a later pre-copy round: a sealed journal of what changed since the one before
)

// The control messages of a migration, between and after its transfers on
// the same connection, and first on a connection a source opens again
// after a cut. Each is 32 bytes, little-endian:
//
//	magic "RKMC" | kind u8 | zero u8 x3 | a u64 | b u64 | c u64
//
//	kind        from  a             b          c
//	hello    1  src   epoch         -          migration id
//	ready    2  dst   applied       skipped    live sessions  (restored: waiting for the go-ahead)
//	fail     3  dst   -             -          -              (the journal did not restore)
//	go       4  src   migration id  -          -              (the go-ahead: run the VM if you hold it ready)
//	active   5  dst   applied       skipped    live sessions  (the VM runs here)
//	served   6  dst   unix ns of the first frame served
//	resume   7  src   migration id                            (resume the journal; the destination echoes it)
//	aborted  8  dst   migration id                            (the migration will never run here)
//	abort    9  src   migration id                            (the source abandons the migration)
//	round   10  src   round number                            (a pre-copy round's transfer follows)
//	journal 11  src   -                                       (the suspension's journal's transfer follows)
const (
	ctlHello   = 1
	ctlReady   = 2
	ctlFail    = 3
	ctlGo      = 4
	ctlActive  = 5
	ctlServed  = 6
	ctlResume  = 7
	ctlAborted = 8
	ctlAbort   = 9
	ctlRound   = 10
	ctlJournal = 11

	ctlLen = 32
)

var ctlMagic = [4]byte{'R', 'K', 'M', 'C'}

type ctlMsg struct {
	kind    uint8
	a, b, c uint64
}

func writeCtl(w io.Writer, m ctlMsg) error {
	var buf [ctlLen]byte
	copy(buf[:], ctlMagic[:])
	buf[4] = m.kind
	le := binary.LittleEndian
	le.PutUint64(buf[8:], m.a)
	le.PutUint64(buf[16:], m.b)
	le.PutUint64(buf[24:], m.c)
	_, err := w.Write(buf[:])
	if err != nil {
		return fmt.Errorf("migrate: control message %d: %w: %w", m.kind, ErrConnection, err)
	}
	return nil
}

// readCtl reads one control message and checks it is of kind want.
func readCtl(r io.Reader, want uint8) (ctlMsg, error) {
	m, err := readCtlAny(r)
	if err == nil && m.kind != want {
		err = fmt.Errorf("migrate: control message %d where %d was due: %w", m.kind, want, ErrProtocol)
	}
	return m, err
}

// readCtlAny reads one control message of any kind.
func readCtlAny(r io.Reader) (ctlMsg, error) {
	var b [ctlLen]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return ctlMsg{}, fmt.Errorf("migrate: waiting for a control message: %w: %w", ErrConnection, err)
	}
	le := binary.LittleEndian
	m := ctlMsg{kind: b[4], a: le.Uint64(b[8:]), b: le.Uint64(b[16:]), c: le.Uint64(b[24:])}
	if [4]byte(b[:4]) != ctlMagic || b[5]|b[6]|b[7] != 0 {
		return m, fmt.Errorf("migrate: control message: bad magic or reserved bytes: %w", ErrProtocol)
	}
	return m, nil
}
