package migrate

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/ringkit/ringkit/tcpip"
)

// The typed appends below are what a circuit journals while a VM is
// suspended: each builds its payload in the Journal and appends it, so
// none allocates (AppendCreate reuses one buffer). Appender only; each
// returns the record's sequence number or Append's error.

// AppendCreate journals a new session: its whole encoded state.
func (j *Journal) AppendCreate(s *tcpip.Session) (uint64, error) {
	j.scratch = AppendSession(j.scratch[:0], s)
	return j.append(RecCreate, s.ID, nil, j.scratch, sealSize)
}

// AppendUpdate journals what changed in a session whose previous state the
// reader holds: s carries every field as it is now, and in its queues only
// the bytes each gained at its end; recvDrop and sendDrop are the bytes
// each queue lost at its front (read by the application, acknowledged by
// the peer) before that. An acknowledgement or a timestamp tick costs a
// record of its fixed fields, not the session's queues.
func (j *Journal) AppendUpdate(s *tcpip.Session, recvDrop, sendDrop int) (uint64, error) {
	if recvDrop < 0 || sendDrop < 0 || recvDrop > tcpip.MaxQueue || sendDrop > tcpip.MaxQueue {
		return 0, fmt.Errorf("migrate: append update for session %d: drops %d, %d: %w", s.ID, recvDrop, sendDrop, ErrBadRecord)
	}
	le := binary.LittleEndian
	j.scratch = le.AppendUint32(j.scratch[:0], uint32(recvDrop))
	j.scratch = le.AppendUint32(j.scratch, uint32(sendDrop))
	j.scratch = AppendSession(j.scratch, s)
	return j.append(RecUpdate, s.ID, nil, j.scratch, sealSize)
}

// AppendInterface journals the VM's interface (session 0): its MAC,
// addresses, gateway and neighbour cache.
func (j *Journal) AppendInterface(ifc *Interface) (uint64, error) {
	j.scratch = AppendInterface(j.scratch[:0], ifc)
	return j.append(RecInterface, 0, nil, j.scratch, sealSize)
}

// AppendClose journals that a session is gone.
func (j *Journal) AppendClose(id uint64) (uint64, error) {
	return j.append(RecClose, id, nil, nil, sealSize)
}

// AppendState journals a TCP state change, with snd_nxt and rcv_nxt after
// it (a FIN sent or received takes one sequence number).
func (j *Journal) AppendState(id uint64, st tcpip.TCPState, sndNxt, rcvNxt uint32) (uint64, error) {
	p := j.small[:stateLen]
	clear(p)
	p[0] = byte(st)
	binary.LittleEndian.PutUint32(p[4:], sndNxt)
	binary.LittleEndian.PutUint32(p[8:], rcvNxt)
	return j.append(RecState, id, nil, p, sealSize)
}

// AppendAck journals that the peer acknowledged everything before sndUna.
func (j *Journal) AppendAck(id uint64, sndUna uint32) (uint64, error) {
	p := j.small[:ackLen]
	binary.LittleEndian.PutUint32(p, sndUna)
	return j.append(RecAck, id, nil, p, sealSize)
}

// AppendSend journals bytes sent at sequence number seq (the session's
// snd_nxt).
func (j *Journal) AppendSend(id uint64, seq uint32, data []byte) (uint64, error) {
	p := j.small[:dataHdrLen]
	binary.LittleEndian.PutUint32(p, seq)
	return j.append(RecSend, id, p, data, sealSize)
}

// AppendRecv journals inbound payload received in order at sequence number
// seq (the session's rcv_nxt) and buffered for the VM.
func (j *Journal) AppendRecv(id uint64, seq uint32, data []byte) (uint64, error) {
	p := j.small[:dataHdrLen]
	binary.LittleEndian.PutUint32(p, seq)
	return j.append(RecRecv, id, p, data, sealSize)
}

// AppendWindow journals the peer's window and the window advertised to it.
func (j *Journal) AppendWindow(id uint64, sndWnd, rcvWnd uint32) (uint64, error) {
	p := j.small[:windowLen]
	binary.LittleEndian.PutUint32(p[0:], sndWnd)
	binary.LittleEndian.PutUint32(p[4:], rcvWnd)
	return j.append(RecWindow, id, nil, p, sealSize)
}

// AppendTimestamp journals TS.Recent (the peer's TSval to echo) and the last
// TSval sent.
func (j *Journal) AppendTimestamp(id uint64, recent, lastSent uint32) (uint64, error) {
	p := j.small[:timestampLen]
	binary.LittleEndian.PutUint32(p[0:], recent)
	binary.LittleEndian.PutUint32(p[4:], lastSent)
	return j.append(RecTimestamp, id, nil, p, sealSize)
}

// AppendCrypto journals the key epoch and record sequence numbers.
func (j *Journal) AppendCrypto(id uint64, c tcpip.Crypto) (uint64, error) {
	p := j.small[:cryptoLen]
	clear(p)
	binary.LittleEndian.PutUint32(p[0:], c.KeyEpoch)
	binary.LittleEndian.PutUint64(p[8:], c.TxSeq)
	binary.LittleEndian.PutUint64(p[16:], c.RxSeq)
	return j.append(RecCrypto, id, nil, p, sealSize)
}

// AppendTimers journals re-armed timers, as durations from the moment of
// the change.
func (j *Journal) AppendTimers(id uint64, keepaliveIn, retransmitIn, rto time.Duration) (uint64, error) {
	p := j.small[:timersLen]
	binary.LittleEndian.PutUint64(p[0:], uint64(keepaliveIn))
	binary.LittleEndian.PutUint64(p[8:], uint64(retransmitIn))
	binary.LittleEndian.PutUint64(p[16:], uint64(rto))
	return j.append(RecTimers, id, nil, p, sealSize)
}
