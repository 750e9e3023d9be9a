package migrate

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ringkit/ringkit/tcpip"
)

// CircuitMode is what a circuit does with the frames of its VM.
type CircuitMode uint8

const (
	// Running: the VM runs here; frames pass through to its stack.
	Running CircuitMode = iota
	// Suspended: the VM is frozen; the circuit answers for its sessions and
	// journals every change.
	Suspended
	// Sealed: the journal is closed and on its way; nobody answers here
	// (frames are dropped, peers retransmit), so that the source and the
	// destination never answer at the same time.
	Sealed
	// Moved: the destination runs the VM; the source never answers for it
	// again.
	Moved
)

func (m CircuitMode) String() string {
	return [...]string{"running", "suspended", "sealed", "moved"}[m]
}

// CircuitConfig describes a VM's network presence on its source host.
type CircuitConfig struct {
	// Stack configures the VM's TCP stack: its MAC, addresses and
	// gateway are the VM's, and move with it. The circuit runs a stack
	// like it, with the journal, while the VM is suspended.
	Stack tcpip.StackConfig
	// JournalSize is the journal's capacity in bytes (4 MiB; at most
	// MaxJournalSize): how much session change and inbound payload the
	// circuit can hold for the destination. Its advertised windows shrink
	// as it fills.
	JournalSize int
	// Epoch is the migration epoch the VM's sessions are in now (1).
	Epoch uint32
}

// Circuit is the live-migration circuit of US11537419B2: it sits between a
// host's NIC and a VM's TCP stack. While the VM runs, frames pass through.
// While the VM is suspended, the circuit runs the VM's sessions itself with
// a stand-in tcpip.Stack whose write-ahead log is the journal, with the
// VM's MAC, addresses and neighbour cache: it answers ARP, keepalives and
// window probes,
// acknowledges only payload it has written to the journal (write-ahead),
// buffers that payload in the journal, advertises a window no larger than
// the journal's room (zero when full), and follows the peers' FINs and
// acknowledgements through the TCP states. Once the journal is sealed it
// answers for nobody, and after the hand-off it never answers again.
//
// Input and Tick belong to the host's goroutine; the migration steps
// (PreCopy, Suspend, Seal, ResumeLocal, HandOff) may be called from another
// goroutine: a mutex orders them with the frames.
type Circuit struct {
	mu    sync.Mutex
	cfg   CircuitConfig
	out   func([]byte)
	mode  CircuitMode
	vm    *tcpip.Stack // the VM's stack: frozen (not fed) unless Running
	ckt   *tcpip.Stack // the circuit's stack while Suspended
	j     *Journal
	epoch uint32

	// The pre-copy, as the destination's table holds it: the first round
	// (the whole table, pre), then each later round, a sealed journal of
	// what changed since the round before. base is each session as of the
	// last round; nextSeq is the sequence number of the next record a
	// round or the suspension's journal writes.
	pre     []byte
	rounds  [][]byte
	base    map[uint64]baseMark
	nextSeq uint64
	jbuf    []byte // the next suspension's journal buffer, allocated by PreCopy

	cktStats tcpip.StackStats // the last circuit stack's counters
	// Dropped counts frames for the VM that arrived while nobody answered
	// for it (sealed or moved).
	dropped uint64
	lost    int // sessions reset or lost while suspended
	// announce asks the next Tick to acknowledge every session after a
	// local resume (reopening the windows the circuit closed).
	announce bool

	// mig is the migration begun and not yet settled (nil: none). It is
	// the host's record of it, kept across the end of the Migrate that
	// began it, so that Recover can settle it.
	mig *migRecord
}

// baseMark is what the pre-copy knows of a session as the destination's
// table holds it: its change count, how many bytes its application had
// read and written, and its queues' lengths. The bytes a queue lost at its
// front since then and the bytes it gained at its end follow from them.
type baseMark struct {
	gen               uint64
	bytesIn, bytesOut uint64
	recvLen, sendLen  int
}

// migRecord is what the source's host keeps of a migration in progress,
// as libvirt keeps a migration job's phase in its status file.
type migRecord struct {
	id        uint64
	epoch     uint32
	dest      int       // the destination that holds the pre-copy (an index of Migrate's dests; -1: none)
	committed bool      // the go-ahead is given to dest: only its word that it never runs the VM lets the source resume it
	started   time.Time // the pre-copy's start, for the total time
	suspended time.Time // the suspension's start, for the downtime
}

// NewCircuit returns a circuit with a running VM whose stack sends with out.
func NewCircuit(cfg CircuitConfig, out func([]byte)) (*Circuit, error) {
	if cfg.JournalSize == 0 {
		cfg.JournalSize = 4 << 20
	}
	if cfg.Epoch == 0 {
		cfg.Epoch = 1
	}
	if err := checkJournalSize(cfg.JournalSize); err != nil {
		return nil, fmt.Errorf("migrate: circuit: %w", err)
	}
	cfg.JournalSize &^= Align - 1 // as NewJournal rounds it, for the buffer PreCopy allocates
	if cfg.Stack.WriteAhead != nil || cfg.Stack.StandIn {
		return nil, fmt.Errorf("migrate: circuit: the VM's stack config carries a write-ahead log: %w", ErrConfig)
	}
	vm, err := tcpip.NewStack(cfg.Stack, out)
	if err != nil {
		return nil, err
	}
	return &Circuit{cfg: cfg, out: out, vm: vm, epoch: cfg.Epoch}, nil
}

// Mode returns what the circuit does now.
func (c *Circuit) Mode() CircuitMode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mode
}

// Epoch is the migration epoch of the VM's sessions.
func (c *Circuit) Epoch() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epoch
}

// Clock is the clock of the VM's stack.
func (c *Circuit) Clock() tcpip.Clock { return c.vm.Config().Clock }

// Do runs fn with the VM's stack if the VM runs here, and reports whether
// it did: the VM's applications run inside fn, ordered with the frames.
func (c *Circuit) Do(fn func(vm *tcpip.Stack)) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mode != Running {
		return false
	}
	fn(c.vm)
	return true
}

// Input takes a frame from the NIC.
func (c *Circuit) Input(f []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.mode {
	case Running:
		c.vm.Input(f)
	case Suspended:
		c.ckt.Input(f)
	default:
		c.dropped++
	}
}

// Tick runs the VM's timers while it runs here, and the stand-in's
// neighbour cache while the VM is suspended.
func (c *Circuit) Tick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.mode {
	case Running:
		if c.announce {
			c.announce = false
			c.vm.AckAll()
		}
		c.vm.Tick()
	case Suspended:
		c.ckt.Tick()
	}
}

// PreCopy snapshots the running VM's sessions and interface and returns
// them encoded (AppendTable): the first round of a pre-copy. It remembers
// what each session looked like, so that a later round (preCopyRound) or
// the suspension journals only what changed since.
func (c *Circuit) PreCopy() ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mode != Running {
		return nil, fmt.Errorf("migrate: pre-copy while %v: %w", c.mode, ErrMigration)
	}
	t := NewTable(c.epoch)
	t.Interface = InterfaceOf(c.vm)
	c.base = make(map[uint64]baseMark)
	for _, cn := range c.vm.Conns() {
		if !cn.Live() {
			continue
		}
		v := cn.SessionView()
		t.Sessions[v.ID] = cn.Session()
		c.base[v.ID] = markOf(cn, &v)
	}
	c.pre, c.rounds, c.nextSeq = AppendTable(nil, t), nil, 1
	if len(c.jbuf) != c.cfg.JournalSize {
		// The suspension's journal, allocated (and cleared) while the VM
		// still runs.
		c.jbuf = make([]byte, c.cfg.JournalSize)
	}
	return c.pre, nil
}

func markOf(cn *tcpip.Conn, v *tcpip.Session) baseMark {
	st := cn.Stats()
	return baseMark{gen: cn.Changes(), bytesIn: st.BytesIn, bytesOut: st.BytesOut,
		recvLen: len(v.RecvQueue), sendLen: len(v.SendQueue)}
}

// preCopyRound journals what changed since the last round, in a sealed
// journal of the migration's epoch that continues the sequence numbers,
// and returns it: a later round of the pre-copy, as QEMU's later rounds
// send the pages dirtied since the one before.
func (c *Circuit) preCopyRound(epoch uint32) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mode != Running || c.pre == nil {
		return nil, fmt.Errorf("migrate: pre-copy round while %v: %w", c.mode, ErrMigration)
	}
	size, err := c.journalChanges(nil)
	if err != nil {
		return nil, err
	}
	j, err := NewJournal(size+sealSize+RecordSize(0), epoch, c.nextSeq)
	if err != nil {
		return nil, err
	}
	if _, err := c.journalChanges(j); err != nil {
		return nil, err
	}
	seal, err := j.Seal()
	if err != nil {
		return nil, err
	}
	b := j.Bytes()
	c.rounds = append(c.rounds, b)
	c.nextSeq = seal + 1
	return b, nil
}

// changed returns the bytes the records of what changed since the last
// round would take in a journal (what the suspension would journal, its
// interface record aside).
func (c *Circuit) changed() (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.journalChanges(nil)
}

// rounds returns the later rounds of the pre-copy so far.
func (c *Circuit) preCopyRounds() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.rounds)
}

// journalChanges appends to j the records that bring the destination's
// table from the last round to the VM's sessions now, and then makes now
// the last round; with j nil it only counts them. It returns the bytes the
// records take. Each session changed since is journaled by what changed
// (RecUpdate: its fields, and the bytes its queues lost and gained), each
// new one whole (RecCreate), each gone closed (RecClose). Nothing is
// remembered unless every record was appended.
func (c *Circuit) journalChanges(j *Journal) (int, error) {
	size := 0
	var marks map[uint64]baseMark
	if j != nil {
		marks = make(map[uint64]baseMark, len(c.base))
	}
	live := make(map[uint64]bool, len(c.base))
	var enc tcpip.Session
	for _, cn := range c.vm.Conns() {
		if !cn.Live() {
			continue
		}
		v := cn.SessionView()
		live[v.ID] = true
		now := markOf(cn, &v)
		b, ok := c.base[v.ID]
		if marks != nil {
			marks[v.ID] = now
		}
		if ok && b.gen == now.gen {
			continue
		}
		recvDrop, sendDrop, ok := queueDelta(b, now, ok)
		if !ok {
			// New (or its queues do not follow from what the table holds):
			// whole.
			n := RecordSize(sessionFixed + len(v.RecvQueue) + len(v.SendQueue))
			if _, held := c.base[v.ID]; held {
				n += RecordSize(0)
			}
			size += n
			if j == nil {
				continue
			}
			if _, held := c.base[v.ID]; held {
				if _, err := j.AppendClose(v.ID); err != nil {
					return size, err
				}
			}
			if _, err := j.AppendCreate(&v); err != nil {
				return size, err
			}
			continue
		}
		enc = v
		enc.RecvQueue = v.RecvQueue[b.recvLen-recvDrop:]
		enc.SendQueue = v.SendQueue[b.sendLen-sendDrop:]
		size += RecordSize(updateHdrLen + sessionFixed + len(enc.RecvQueue) + len(enc.SendQueue))
		if j == nil {
			continue
		}
		if _, err := j.AppendUpdate(&enc, recvDrop, sendDrop); err != nil {
			return size, err
		}
	}
	for id := range c.base {
		if !live[id] {
			size += RecordSize(0)
			if j == nil {
				continue
			}
			if _, err := j.AppendClose(id); err != nil {
				return size, err
			}
		}
	}
	if j != nil {
		c.base = marks
	}
	return size, nil
}

// queueDelta is how many bytes each queue of a session lost at its front
// since base b: the receive queue what the application read, the send
// queue what the peer acknowledged, each at most what the queue held then
// (bytes that came and went in between never reach the destination).
// false when there is no base or the counts do not add up.
func queueDelta(b, now baseMark, ok bool) (recvDrop, sendDrop int, _ bool) {
	if !ok || now.bytesIn < b.bytesIn || now.bytesOut < b.bytesOut {
		return 0, 0, false
	}
	read := now.bytesIn - b.bytesIn
	acked := int64(b.sendLen) + int64(now.bytesOut-b.bytesOut) - int64(now.sendLen)
	if acked < 0 {
		return 0, 0, false
	}
	recvDrop = int(min(read, uint64(b.recvLen)))
	sendDrop = int(min(acked, int64(b.sendLen)))
	// What is left of the old queues must still be there, in front.
	if b.recvLen-recvDrop > now.recvLen || b.sendLen-sendDrop > now.sendLen {
		return 0, 0, false
	}
	return recvDrop, sendDrop, true
}

// Suspend freezes the VM and hands its sessions to the circuit. The
// journal, in the new migration epoch, continues the pre-copy's sequence
// numbers: it starts with the VM's interface as it is now (its neighbour
// cache may have changed since the pre-copy), then what changed since the
// last pre-copy round (journalChanges), as the last round of a memory
// pre-copy resends the pages dirtied since the one before. A journal too
// small for it fails the suspension (ErrJournalFull): the VM keeps
// running.
func (c *Circuit) Suspend(epoch uint32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mode != Running {
		return fmt.Errorf("migrate: suspend while %v: %w", c.mode, ErrMigration)
	}
	if epoch <= c.epoch {
		return fmt.Errorf("migrate: suspend into epoch %d, sessions are in %d: %w", epoch, c.epoch, ErrStaleEpoch)
	}
	if c.pre == nil {
		c.pre, c.rounds, c.base, c.nextSeq = AppendTable(nil, NewTable(c.epoch)), nil, map[uint64]baseMark{}, 1
	}
	var j *Journal
	if len(c.jbuf) == c.cfg.JournalSize {
		j, c.jbuf = newJournalOn(c.jbuf, epoch, c.nextSeq), nil
	} else {
		var err error
		if j, err = NewJournal(c.cfg.JournalSize, epoch, c.nextSeq); err != nil {
			return err
		}
	}
	ifc := InterfaceOf(c.vm)
	if _, err := j.AppendInterface(&ifc); err != nil {
		return fmt.Errorf("migrate: suspend: journal of %d bytes: %w", c.cfg.JournalSize, err)
	}
	base := c.base
	if _, err := c.journalChanges(j); err != nil {
		c.base = base
		return fmt.Errorf("migrate: suspend: journal of %d bytes: %w", c.cfg.JournalSize, err)
	}
	// The stand-in takes the VM's configuration, its timestamp origin
	// included (TSvals go on from the VM's), and its sessions. It shares
	// their queues with the VM rather than copying them: the VM is frozen
	// until it is resumed (with sessions restored from the journal) or
	// handed off, and a stand-in writes into no queue: it keeps no
	// received payload (the journal does) and sends nothing new, and an
	// acknowledgement only reslices its send queue.
	cfg := c.vm.Config()
	cfg.WriteAhead, cfg.StandIn = journalLog{j}, true
	ckt, err := tcpip.NewStack(cfg, c.out)
	if err != nil {
		return err
	}
	var sessions []*tcpip.Session
	for _, cn := range c.vm.Conns() {
		if cn.Live() {
			v := cn.SessionView()
			sessions = append(sessions, &v)
		}
	}
	if err := ckt.Import(sessions); err != nil {
		return err
	}
	if err := ckt.ImportNeighbors(ifc.Neighbors); err != nil {
		return err
	}
	c.ckt, c.j, c.mode = ckt, j, Suspended
	return nil
}

// Seal closes the journal: from here on nobody answers for the VM until the
// destination activates it or the source resumes it.
func (c *Circuit) Seal() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mode != Suspended {
		return fmt.Errorf("migrate: seal while %v: %w", c.mode, ErrMigration)
	}
	if err := c.sealJournal(); err != nil {
		return err
	}
	c.mode = Sealed
	return nil
}

// sealJournal journals the stand-in's interface, whose neighbour cache
// learned what the suspension taught it (a full journal keeps the one
// journaled at the suspension: neighbour entries are refreshed by
// resolution anyway), seals the journal and retires the stand-in.
func (c *Circuit) sealJournal() error {
	ifc := InterfaceOf(c.ckt)
	if _, err := c.j.AppendInterface(&ifc); err != nil && !errors.Is(err, ErrJournalFull) {
		return err
	}
	if _, err := c.j.Seal(); err != nil {
		return err
	}
	c.retireCircuit()
	return nil
}

func (c *Circuit) retireCircuit() {
	c.cktStats = c.ckt.Stats()
	for _, cn := range c.ckt.Conns() {
		if cn.Err() != nil {
			c.lost++
		}
	}
	c.ckt = nil
}

// Journal returns the journal of the current suspension (nil before one).
func (c *Circuit) Journal() *Journal {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.j
}

// CircuitStats are what a circuit did during the last suspension.
type CircuitStats struct {
	Stack   tcpip.StackStats // the circuit's stack: keepalives answered, windows closed, journal full
	Dropped uint64           // frames for the VM dropped while nobody answered for it
	Lost    int              // sessions reset by their peer during the suspension
}

// String says what the circuit did while it answered for the VM.
func (s CircuitStats) String() string {
	return fmt.Sprintf("while suspended: %d keepalives answered, %d zero windows advertised, %d inbound bytes refused "+
		"(journal or window full), %d frames for the VM dropped, %d sessions reset by their peer; its stack: %v",
		s.Stack.KeepalivesAnswered, s.Stack.ZeroWindows, s.Stack.Refused, s.Dropped, s.Lost, s.Stack)
}

// Stats returns the circuit's counters.
func (c *Circuit) Stats() CircuitStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.cktStats
	if c.ckt != nil {
		st = c.ckt.Stats()
	}
	return CircuitStats{Stack: st, Dropped: c.dropped, Lost: c.lost}
}

// ResumeLocal resumes the VM on this host after a cancelled or failed
// migration: the journal is replayed into the pre-copied table, exactly as
// a destination would, and the VM's stack takes the result, so the peers
// see the sessions go on as if nothing happened.
//
// Once the go-ahead is given, ResumeLocal refuses (ErrMigration): the
// destination may run the VM, and only its word settles that (Recover).
func (c *Circuit) ResumeLocal() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mig != nil && c.mig.committed {
		return fmt.Errorf("migrate: resume locally after the go-ahead to destination %d: %w", c.mig.dest, ErrMigration)
	}
	return c.resumeLocalLocked()
}

func (c *Circuit) resumeLocalLocked() error {
	switch c.mode {
	case Suspended:
		if err := c.sealJournal(); err != nil {
			return err
		}
	case Sealed:
	default:
		return fmt.Errorf("migrate: resume locally while %v: %w", c.mode, ErrMigration)
	}
	t, err := c.tableAtSeal()
	if err != nil {
		return err
	}
	t.Activate(c.vm.TSClock())
	if err := c.vm.Import(sortedSessions(t)); err != nil {
		return err
	}
	if err := c.vm.ImportNeighbors(t.Interface.Neighbors); err != nil {
		return err
	}
	c.epoch = t.Epoch
	c.pre, c.rounds, c.base = nil, nil, nil
	c.mig = nil
	c.mode = Running
	c.announce = true // from the host's goroutine, the one that sends
	return nil
}

// HandOff records that the destination runs the VM: the source never
// answers for it again.
func (c *Circuit) HandOff() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ckt != nil {
		c.retireCircuit()
	}
	c.mig = nil
	c.mode = Moved
}

// begin records a new migration; one not yet settled must be settled
// first (Recover).
func (c *Circuit) begin(id uint64, epoch uint32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mig != nil {
		return fmt.Errorf("migrate: migration %#x is not settled (Recover settles it): %w", c.mig.id, ErrMigration)
	}
	if c.mode != Running {
		return fmt.Errorf("migrate: migrate while %v: %w", c.mode, ErrMigration)
	}
	c.mig = &migRecord{id: id, epoch: epoch, dest: -1}
	return nil
}

// record returns a copy of the migration record (ok false: none).
func (c *Circuit) record() (migRecord, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mig == nil {
		return migRecord{}, false
	}
	return *c.mig, true
}

// update changes the migration record under the circuit's lock.
func (c *Circuit) update(fn func(r *migRecord)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mig != nil {
		fn(c.mig)
	}
}

// end forgets a migration that never suspended the VM.
func (c *Circuit) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mode == Running {
		c.mig = nil
	}
}

// resumeAfter resumes the VM here once the migration is settled against
// the destination: never given the go-ahead, or abandoned there.
func (c *Circuit) resumeAfter() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resumeLocalLocked()
}

// tableAtSeal is the session table as the sealed journal leaves it: the
// pre-copy's rounds and the journal replayed, as a destination does.
func (c *Circuit) tableAtSeal() (*Table, error) {
	t, err := DecodeTable(c.pre)
	if err != nil {
		return nil, err
	}
	t.Epoch = c.j.Epoch()
	for i, b := range c.rounds {
		if st, err := Restore(t, b); err != nil || !st.Sealed {
			return nil, fmt.Errorf("migrate: pre-copy round %d: sealed %v: %w", i+1, st.Sealed, err)
		}
	}
	if _, err := Restore(t, c.j.Bytes()); err != nil {
		return nil, err
	}
	return t, nil
}

func sortedSessions(t *Table) []*tcpip.Session {
	out := make([]*tcpip.Session, 0, len(t.Sessions))
	for _, s := range t.Sessions {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *tcpip.Session) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// journalSource is a journal as a transfer Source that never releases:
// the source keeps every byte until the destination runs the VM, so that
// it can still resume the VM itself. It is streamed while the journal
// grows.
type journalSource struct{ j *Journal }

func (s journalSource) ReadAt(p []byte, off int64) (int, error) { return s.j.ReadAt(p, off) }
func (s journalSource) Size() int64                             { return s.j.Size() }
func (s journalSource) Sealed() bool                            { return s.j.Sealed() }
func (s journalSource) Done() <-chan struct{}                   { return s.j.Done() }
