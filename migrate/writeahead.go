package migrate

import (
	"fmt"

	"github.com/ringkit/ringkit/tcpip"
)

// journalLog is a Journal as the write-ahead log of the stack a circuit
// runs while its VM is suspended: each change the stack is about to make
// becomes a record, and a journal that is full refuses it.
type journalLog struct{ j *Journal }

func (l journalLog) Room(mss int) int { return l.j.PayloadRoom(mss) }

// Snapshot journals the whole session as a close and a create, both or
// neither.
func (l journalLog) Snapshot(s *tcpip.Session) error {
	size := sessionFixed + len(s.RecvQueue) + len(s.SendQueue)
	if need := RecordSize(0) + RecordSize(size); l.j.Free() < need {
		return fmt.Errorf("migrate: journal session %d whole: %d bytes, %d free: %w", s.ID, need, l.j.Free(), ErrJournalFull)
	}
	if _, err := l.j.AppendClose(s.ID); err != nil {
		return err
	}
	if _, err := l.j.AppendCreate(s); err != nil {
		panic(fmt.Sprintf("migrate: journal refused a create it had room for: %v", err))
	}
	return nil
}

func (l journalLog) State(id uint64, st tcpip.TCPState, sndNxt, rcvNxt uint32) error {
	_, err := l.j.AppendState(id, st, sndNxt, rcvNxt)
	return err
}

func (l journalLog) Acked(id uint64, sndUna uint32) error {
	_, err := l.j.AppendAck(id, sndUna)
	return err
}

func (l journalLog) Received(id uint64, seq uint32, data []byte) error {
	_, err := l.j.AppendRecv(id, seq, data)
	return err
}

func (l journalLog) Window(id uint64, snd, rcv uint32) error {
	_, err := l.j.AppendWindow(id, snd, rcv)
	return err
}

func (l journalLog) Timestamps(id uint64, recent, lastSent uint32) error {
	_, err := l.j.AppendTimestamp(id, recent, lastSent)
	return err
}

func (l journalLog) Reset(id uint64) error {
	_, err := l.j.AppendClose(id)
	return err
}
