package tcpip

// WriteAhead is a log that the stack writes every change to a
// connection's state into before the change is made and before any
// segment that reveals it is sent, so that the log's holder can rebuild the
// connections as the peers last saw them: acknowledged bytes are never
// lost, and no timestamp or sequence number ever steps back. The migration
// circuit of package migrate journals the sessions of a suspended VM this
// way.
//
// Each method is told of one change to the connection whose session id is
// id, and returns nil once the change is logged. An error refuses it: the
// stack leaves the change unmade (the peer sends again what was refused,
// or the stack goes on sending the values last logged) and counts the
// refusal in StackStats.LogRefused. The methods are called on the stack's
// goroutine; none may keep a slice or a *Session it is given.
type WriteAhead interface {
	// Room is how many payload bytes, carried in segments of mss bytes,
	// the log can take now: the stack advertises no larger a receive
	// window.
	Room(mss int) int
	// Snapshot logs a connection's whole state: a dialed connection that
	// has just learned the peer's SYN-ACK carries what no smaller change
	// does (the peer's sequence number, window scale and timestamps).
	Snapshot(s *Session) error
	// State logs a move to TCP state st, with snd_nxt and rcv_nxt after
	// it (a FIN sent or received takes one sequence number).
	State(id uint64, st TCPState, sndNxt, rcvNxt uint32) error
	// Acked logs that the peer acknowledged every byte before sndUna: the
	// stack drops them from the send queue.
	Acked(id uint64, sndUna uint32) error
	// Received logs payload taken in order at sequence number seq (the
	// connection's rcv_nxt), before the stack acknowledges it.
	Received(id uint64, seq uint32, data []byte) error
	// Window logs the peer's window and the one advertised to it, when
	// either closes to zero or opens from zero: the state a peer waiting
	// for a window update depends on.
	Window(id uint64, snd, rcv uint32) error
	// Timestamps logs the TSval about to be sent and the peer's TSval it
	// echoes (TS.Recent).
	Timestamps(id uint64, recent, lastSent uint32) error
	// Reset logs that the peer reset the connection.
	Reset(id uint64) error
}

// noLog is the WriteAhead of a stack without one: every change is taken.
type noLog struct{}

func (noLog) Room(int) int                                 { return MaxQueue }
func (noLog) Snapshot(*Session) error                      { return nil }
func (noLog) State(uint64, TCPState, uint32, uint32) error { return nil }
func (noLog) Acked(uint64, uint32) error                   { return nil }
func (noLog) Received(uint64, uint32, []byte) error        { return nil }
func (noLog) Window(uint64, uint32, uint32) error          { return nil }
func (noLog) Timestamps(uint64, uint32, uint32) error      { return nil }
func (noLog) Reset(uint64) error                           { return nil }
