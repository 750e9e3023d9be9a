// Package migrate keeps a VM's network sessions alive while the VM is moved
// to another host: the session state its TCP stack (package tcpip)
// carries and its network interface (MAC, addresses, neighbour cache), a
// journal of the changes made to them while the VM is suspended, the
// transfer of both to the destination over any io.ReadWriter, and an
// idempotent replay there.
//
// It follows the design of US11537419B2 and US20210117224A1. The source
// sends the full session table while the VM still runs (the pre-copy). The
// VM is suspended; a live-migration circuit (built on this package) keeps
// the sessions' signalling going so that peers do not drop them, and
// journals every change it makes to their state: inbound payload it
// buffers, acknowledgements, windows, timestamps. It acknowledges only what
// it has journaled, and shrinks the window it advertises as the journal
// fills (Journal.Free), down to zero when full. After the VM is reactivated
// on the destination, the sealed journal is transferred and replayed into
// the session table received before. No connection is lost. CRIU's TCP
// repair and QEMU's live migration instead snapshot the state and let the
// peer's retransmissions cover the gap; the state saved here is what CRIU's
// tcp_stream_entry saves (sequence numbers, queues, windows, window scale,
// MSS, timestamps) plus the timers, an optional record-protocol context and
// the migration epoch; the interface is what QEMU keeps of a VM's NIC (its
// MAC) and the guest's neighbour cache, which moves with the guest's
// memory.
//
//	// Source, before suspension: the pre-copy.
//	pre := migrate.AppendTable(nil, table)
//	snd, _ := migrate.NewSender(streamPreCopy, bytes.NewReader(pre), migrate.TransferConfig{})
//	err := snd.Send(ctx, conn)
//
//	// Source, while suspended: the circuit journals.
//	j, _ := migrate.NewJournal(1<<20, epoch, table.Applied+1)
//	j.AppendRecv(id, s.RcvNxt, payload) // ErrJournalFull: advertise a zero window
//	j.Seal()
//
//	// After reactivation: the journal, straight out of its ring.
//	snd, _ = migrate.NewSender(streamJournal, j, migrate.TransferConfig{})
//	err = snd.Send(ctx, conn) // on ErrConnection: snd.Resume(ctx, newConn)
//
//	// Destination.
//	tbl, _ := migrate.DecodeTable(preRcv.Data())
//	stats, err := migrate.Restore(tbl, journalRcv.Data())
//
// # Journal record format
//
// A journal is a sequence of records, each starting at a multiple of 8
// bytes. All integers are little-endian. A record is a 40-byte header, the
// payload, and zero padding up to the next multiple of 8:
//
//	offset  size  field
//	     0     4  crc      CRC32C (Castagnoli) of bytes [4, end of padding),
//	                       chained: seeded with the crc of the previous record
//	                       (0 for the first record of a journal)
//	     4     4  hcrc     CRC32C of header bytes [8, 40), not chained
//	     8     4  length   payload length in bytes, at most MaxPayload (1 MiB)
//	    12     1  type     RecordType
//	    13     3  zero     reserved, must be zero
//	    16     8  session  session id (0 for a seal or an interface)
//	    24     8  seq      sequence number: the previous record's plus one
//	    32     4  epoch    migration epoch the record was written in
//	    36     4  zero     reserved, must be zero
//	    40     n  payload
//	  40+n     p  zero     padding, p = (8 - n%8) % 8
//
// The chained crc makes a record valid only after its predecessor, as
// etcd's WAL chains its CRCs; the header check lets a reader trust the
// length before it reads the body. Payloads by type:
//
//	type          value  payload
//	create          1    the session, as AppendSession encodes it
//	close           2    empty
//	state           3    state u8 | zero u8 x3 | snd_nxt u32 | rcv_nxt u32
//	ack             4    snd_una u32 (the unacknowledged bytes before it are dropped)
//	send            5    seq u32 (= snd_nxt) | the bytes sent
//	recv            6    seq u32 (= rcv_nxt) | the bytes received, buffered for the VM
//	window          7    snd_wnd u32 | rcv_wnd u32 (bytes)
//	timestamp       8    ts_recent u32 | ts_last_sent u32
//	crypto          9    key_epoch u32 | zero u32 | tx_seq u64 | rx_seq u64
//	timers         10    keepalive_in i64 | retransmit_in i64 | rto i64 (nanoseconds)
//	interface      11    the VM's interface, as AppendInterface encodes it (session 0)
//	update         12    recv_drop u32 | send_drop u32 | the session as AppendSession encodes it,
//	                     its queues holding only the bytes they gained at their end after
//	                     losing recv_drop and send_drop bytes at their front
//	seal           15    count u64 | last_seq u64 | crc u32 | zero u32
//
// A seal closes a journal: count is the number of records before it since
// the journal's first, last_seq the sequence number of the one just before
// it, crc that record's chained crc.
//
// # Reading: torn tails and corruption
//
// As LevelDB's log reader and etcd's WAL decoder do, the Reader tells a
// write cut short from damage. A journal that ends inside a record (fewer
// than 40 bytes left, or fewer than a sound header's length needs) has a
// torn tail: the records before it are returned with a *TornTailError
// giving the offset to truncate to. A complete record that fails a check
// (either CRC, a reserved byte, a type, a seal that does not match) is
// ErrCorrupt: nothing of the journal may be replayed and the destination
// does not activate. Sequence gaps (ErrSeqGap) and records of another
// epoch (ErrStaleEpoch, ErrFutureEpoch) are refused with the record named.
//
// # Replay
//
// Table.Apply skips records at or below the table's Applied sequence
// number, so replaying twice, or again after a crash in the middle, gives
// the same table. Restore reads and checks the whole journal (CRCs,
// sequence, epochs) before it changes the table; a record that then cannot
// apply to its session (ErrBadRecord) stops the replay with the records
// before it applied. Table.Activate then moves the sessions into the
// table's epoch and rebases their timestamp clocks.
//
// # Transfer
//
// A Sender moves any Source (the pre-copy bytes, a Journal) to a
// Receiver as numbered chunks with cumulative acknowledgements, go-back-N:
// NAKs and timeouts make it resend from the first missing chunk, the
// receiver discards duplicates and chunks past a gap. After a cut, Resume
// on a new connection goes on from the last acknowledged chunk. A Journal
// not yet sealed is streamed as it grows (an open stream): its whole
// chunks as they fill, the rest once it is sealed. Messages are a 24-byte
// header (kind u8 | zero u8 x3 | length u32 | seq u64 | crc u32 | zero
// u32, crc being CRC32C of bytes [0, 16) and the payload) and a payload:
// hello (stream u64 | size u64 | chunk u32 | flags u32; flag 1: open, size
// 0), hello-ack (seq = next chunk expected; stream u64), data (seq = chunk
// number; every chunk whole but the last), ack and nak (seq = next chunk
// expected), bye (seq = chunks; of an open stream, size u64) and bye-ack.
//
// # Sessions on the wire: Circuit, Destination
//
// The VM's TCP endpoint is package tcpip: a tcpip.Stack whose connections'
// state is a tcpip.Session, so that Export and Import move them as they
// are (Neighbors and ImportNeighbors move its neighbour cache), driven by
// a tcpip.Host over the queues of a port. This package moves that state;
// the endpoint knows nothing of migrations but a write-ahead hook
// (tcpip.WriteAhead) that the circuit's journal fills.
//
// A Circuit sits between the source host's NIC and the VM's stack. While
// the VM runs it passes frames through. Suspend freezes the VM and runs its
// sessions in a stand-in tcpip.Stack with the VM's MAC, addresses and
// neighbour cache, whose WriteAhead log is the journal: every change is
// journaled before it is made and before the segment that reveals it is
// sent (write-ahead), inbound payload is acknowledged only once
// journaled, the advertised window is at most the journal's room (zero
// when full), ARP requests for the VM's addresses, keepalives and window
// probes are answered, FINs and acknowledgements move the sessions through
// their states. Seal closes the journal; from then on nobody answers for the VM
// until the destination does, so there are never two active owners.
//
//	vm := tcpip.StackConfig{MAC: mac, Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.10/24")}}
//	circuit, _ := migrate.NewCircuit(migrate.CircuitConfig{Stack: vm}, srcHost.Send)
//	srcHost.SetHandler(circuit)
//	dest, _ := migrate.NewDestination(migrate.DestinationConfig{}, dstHost.Send)
//	dstHost.SetHandler(dest)
//	go dest.Serve(ctx, conn) // on the destination host
//
//	m, err := circuit.Migrate(ctx, []migrate.Dialer{dial}, migrate.MigrateConfig{})
//	fmt.Println(m) // downtime (hold and beyond), bytes, records, keepalives, retries, sessions lost
//
// Migrate: the pre-copy while the VM runs, in rounds as QEMU's memory
// pre-copy: the session table and the VM's interface, then, while what
// changed since the last round would take more than
// MigrateConfig.SuspendBytes of the journal, a sealed journal of those
// changes (update records: an acknowledgement or a timestamp tick costs a
// session's fixed fields, an unread receive queue only the bytes it
// gained), as long as each round's changes shrink (otherwise the migration
// fails with ErrMigration and the VM never stops); Suspend (the journal
// starts with the interface and what changed since the last round); the
// Hold while the rest of the VM would move, during which the journal
// streams to the destination as it grows and the destination replays each
// record as it arrives; Seal (after the interface again: the stand-in's
// neighbour cache learned from the suspension), after which only the
// journal's tail moves and is replayed (a corrupt, torn or unsealed
// journal is refused and nothing activates); the destination builds a
// stack with the VM's MAC, addresses, neighbour cache and sessions and
// holds it ready; the go-ahead; activation; the first announcement round
// (gratuitous ARP for each address and QEMU's RARP, from the VM's MAC, so
// that switches learn where the MAC went) and an acknowledgement on every
// session (the first frames served), then the rest of QEMU's schedule
// (tcpip.AnnounceConfig: five rounds, gaps of 50, 150, 250, 350 ms).
//
// A destination that fails before the go-ahead is dropped and the next
// gets the pre-copy and the journal (a journal transfer cut short is first
// resumed on a new connection to the same destination, from the last chunk
// acknowledged: MigrateConfig.Reconnects); with none left, or on
// cancellation, ResumeLocal replays the journal into the pre-copied table
// on the source and the VM goes on there. Once the go-ahead is given, only
// the destination's word decides (see Faults).
//
// Control messages between the transfers on the migration connection are
// 32 bytes: "RKMC" | kind u8 | zero u8 x3 | a u64 | b u64 | c u64 (hello
// carries the epoch and the migration id; ready and active the replay's
// counts; go, resume, abort and aborted the migration id; served the
// destination's clock reading of its first frame). The table is in
// control.go.
//
// # Faults
//
// Whatever single fault happens — the migration connection cut at any
// message, either side's migration process killed at any point, a dial
// that fails — the VM ends up running on exactly one host and every
// session survives. A "process" here is what runs a migration (Migrate on
// the source, Serve on the destination), as libvirt's daemon is to QEMU;
// what it leaves behind when it dies is the host's: the source's Circuit
// keeps the VM and the migration's record, the Destination keeps a VM held
// ready, the VM once it runs, and the migrations abandoned there. A dead
// process's connections close.
//
// The rule is a two-phase commit whose decision is taken at the
// destination, once, under its lock, for each migration id:
//
//   - The destination builds the VM from the pre-copy and the whole,
//     sealed journal, holds it ready (fed no frame) and says ready. It
//     runs it only on the source's go-ahead for its migration id, given
//     within DestinationConfig.ResumeWait of the ready, on the migration
//     connection or on any new one. A go-ahead for a migration it does not
//     hold ready (not yet, not at all, or no longer), an abort from the
//     source, or the end of the wait abandon the migration there for
//     good: it answers aborted, and never runs that VM.
//   - The source gives the go-ahead once the whole journal is at the
//     destination (PhaseCommitted, recorded in the Circuit), whether or not
//     the ready arrived: the go-ahead itself asks whether the VM is held
//     ready. From then on it resumes the VM only on the destination's word
//     that it abandoned the migration; an answer lost with its connection
//     is asked for again, by migration id, on a new connection, until one
//     comes (MigrateConfig.Deadline; past it, ErrInDoubt, and the VM runs
//     nowhere until Recover settles it — two faults). "active" means the
//     VM runs there: the source hands off.
//   - Before the go-ahead the source may resume the VM or go to another
//     destination at any time: without its go-ahead, no destination runs
//     the VM. It tells the destinations it leaves (abort), which frees them
//     sooner; safety does not depend on it.
//   - A killed source's migration is settled by Circuit.Recover in a new
//     process: before the go-ahead the VM resumes on the source; after it,
//     the go-ahead is given again as above.
//   - A killed destination's migration process loses the transfer it was
//     receiving (a source resuming it is answered aborted), but not a VM
//     held ready or running: a go-ahead on a new connection finds it.
//
// The source's cut journal transfers, lost go-aheads and lost answers are
// all retried on new connections to the same destination; the
// destination's waits are all bounded by ResumeWait.
//
// # Concurrency
//
// A Journal has one appending goroutine and one reading goroutine (the
// transfer); its fullness may be read by any. Tables, Readers, Senders
// and Receivers belong to one goroutine at a time.
// A Circuit's and a Destination's Input and Tick belong to their host's
// goroutine, the only one that sends on its links; the migration steps run
// in another, ordered with the frames by a mutex (Do runs the VM's
// application under it).
package migrate
