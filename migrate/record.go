package migrate

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// RecordType says what a journal record changes. The payload layout of each
// type is in the package documentation.
type RecordType uint8

const (
	RecCreate    RecordType = 1  // a session appears: the full encoded Session
	RecClose     RecordType = 2  // a session is gone
	RecState     RecordType = 3  // TCP state change with snd_nxt and rcv_nxt (FIN and SYN take a sequence number)
	RecAck       RecordType = 4  // the peer acknowledged up to snd_una
	RecSend      RecordType = 5  // bytes sent at snd_nxt
	RecRecv      RecordType = 6  // inbound payload buffered at rcv_nxt
	RecWindow    RecordType = 7  // send and receive windows
	RecTimestamp RecordType = 8  // TS.Recent and the last TSval sent
	RecCrypto    RecordType = 9  // key epoch and record sequence numbers
	RecTimers    RecordType = 10 // keepalive and retransmit timers re-armed
	RecInterface RecordType = 11 // the VM's interface: MAC, addresses, gateway, neighbour cache
	RecUpdate    RecordType = 12 // what changed in a session: its fields, and the bytes its queues lost and gained
	RecSeal      RecordType = 15 // closes a journal: count, last sequence number, chained CRC
)

var recordTypeNames = map[RecordType]string{
	RecCreate: "create", RecClose: "close", RecState: "state", RecAck: "ack", RecSend: "send",
	RecRecv: "recv", RecWindow: "window", RecTimestamp: "timestamp", RecCrypto: "crypto",
	RecTimers: "timers", RecInterface: "interface", RecUpdate: "update", RecSeal: "seal",
}

func (t RecordType) String() string {
	if n, ok := recordTypeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("RecordType(%d)", uint8(t))
}

// Valid reports whether t is a record type this package writes.
func (t RecordType) Valid() bool { _, ok := recordTypeNames[t]; return ok }

// Record framing. See the table in doc.go.
const (
	// HeaderSize is the size of a record header in bytes.
	HeaderSize = 40
	// Align is the alignment of every record: payloads are zero-padded to it.
	Align = 8
	// MaxPayload is the largest payload of one record.
	MaxPayload = 1 << 20

	offCRC     = 0
	offHdrCRC  = 4
	offLen     = 8
	offType    = 12
	offSession = 16
	offSeq     = 24
	offEpoch   = 32

	sealPayload = 24 // count u64 | last seq u64 | chained CRC u32 | zero u32
)

// castagnoli is the CRC32C table (iSCSI polynomial, SSE 4.2 and ARMv8
// compute it in hardware), as LevelDB, RocksDB and etcd's WAL use.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// padded is n rounded up to Align.
func padded(n int) int { return (n + Align - 1) &^ (Align - 1) }

// recordSize is the bytes a record with an n-byte payload takes.
func recordSize(n int) int { return HeaderSize + padded(n) }

// Record is one decoded journal record. Payload aliases the journal bytes it
// was read from: it stays valid as long as those bytes are not modified.
type Record struct {
	Type    RecordType
	Session uint64 // session the record changes (0 for a seal)
	Seq     uint64 // journal sequence number, one more than the previous record's
	Epoch   uint32 // migration epoch the record was written in
	Payload []byte
}

func (r *Record) String() string {
	return fmt.Sprintf("record %d (%v, session %d, epoch %d)", r.Seq, r.Type, r.Session, r.Epoch)
}

// putHeader fills the fixed fields of a header (not the CRCs) and returns
// the header check CRC, computed over bytes [8, 40).
func putHeader(h *[HeaderSize]byte, typ RecordType, session, seq uint64, epoch uint32, n int) uint32 {
	le := binary.LittleEndian
	le.PutUint32(h[offLen:], uint32(n))
	h[offType] = byte(typ)
	le.PutUint64(h[offSession:], session)
	le.PutUint64(h[offSeq:], seq)
	le.PutUint32(h[offEpoch:], epoch)
	hc := crc32.Checksum(h[offLen:], castagnoli)
	le.PutUint32(h[offHdrCRC:], hc)
	return hc
}

// Payload layouts of the fixed-size record types (little-endian).
const (
	stateLen     = 12 // state u8 | zero u8 x3 | snd_nxt u32 | rcv_nxt u32
	ackLen       = 4  // snd_una u32
	windowLen    = 8  // snd_wnd u32 | rcv_wnd u32
	timestampLen = 8  // recent u32 | last_sent u32
	cryptoLen    = 24 // key_epoch u32 | zero u32 | tx_seq u64 | rx_seq u64
	timersLen    = 24 // keepalive_in i64 | retransmit_in i64 | rto i64 (ns)
	dataHdrLen   = 4  // seq u32, then the bytes (send, recv)
	updateHdrLen = 8  // recv_drop u32 | send_drop u32, then the session (update)
)
