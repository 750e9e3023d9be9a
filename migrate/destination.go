package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/ringkit/ringkit/tcpip"
)

// DestinationConfig describes the host a VM moves to.
type DestinationConfig struct {
	// Stack configures the VM's stack here (its Clock is the destination's
	// clock). The VM's MAC, addresses and gateway come with the VM and
	// replace those given here. WriteAhead must be nil and StandIn false.
	Stack tcpip.StackConfig
	// Announce is the schedule on which the VM is announced once it runs
	// here (QEMU's defaults).
	Announce tcpip.AnnounceConfig
	// ResumeWait is how long the destination waits for a source that went
	// away (5 s): for a journal transfer cut short to be resumed on a new
	// connection, and for the go-ahead of a migration restored here. Past
	// it, the migration is abandoned here for good: it never runs here,
	// and a source that comes back is told so.
	ResumeWait time.Duration
	// MaxPreCopy and MaxJournal bound the streams accepted (64 MiB each).
	MaxPreCopy, MaxJournal int64
	// Transfer must match the source's chunk size; zero fields take the
	// defaults.
	Transfer TransferConfig
}

// Destination is the receiving host of a migration: Serve takes one
// migration over a connection (the pre-copy, the journal, the go-ahead),
// and from its activation on the Destination is the host's handler for the
// VM: frames go to the VM's restored stack, which announces the VM where
// it now is (gratuitous ARP and RARP from its MAC, on QEMU's schedule),
// the first round with the first frames it serves.
//
// What a Destination holds outlives the Serve that filled it, as a host
// outlives the process that runs its migrations: a migration restored
// here and waiting for the go-ahead (ready), the VM once it runs, and the
// migrations abandoned here. A later Serve on a connection the source
// opened again settles a migration by its id (see the package
// documentation, "Faults").
//
// Input and Tick belong to the host's goroutine; Serve runs in its own.
type Destination struct {
	mu  sync.Mutex
	cfg DestinationConfig
	out func([]byte)

	vm   *tcpip.Stack // the VM, once it runs here
	vmID uint64       // the migration that brought it
	live int          // sessions it runs

	servedAt time.Time
	served   chan struct{} // closed when the first frame is served
	replay   ReplayStats

	// ready is the migration restored here, its VM built but fed nothing
	// until the go-ahead (nil: none).
	ready *readyVM
	// incoming are the migrations whose streams a Serve is receiving, by
	// migration id: a source resuming a cut journal hands its new
	// connection to that Serve, and one abandoning the migration stops it.
	incoming map[uint64]*incoming
	// abandoned are the migrations that will never run here: aborted by
	// their source, refused or not ready when the go-ahead came, or
	// expired. Every decision for an id is final.
	abandoned map[uint64]bool

	// beforeHold, when set (by tests), runs after the VM is built from
	// the whole journal and before it is held ready: a slow restore.
	beforeHold func()
}

type incoming struct {
	resumed chan resumedConn
	abort   chan struct{} // closed when the migration is abandoned
	// journal is the journal's receiver once it holds the whole journal: a
	// source that missed the end's acknowledgement resumes it to the end.
	journal *Receiver
	mu      sync.Mutex // one such resume at a time
	// restored is closed once the VM built from the whole journal is held
	// ready, or the receive has failed or ended: a go-ahead that arrives
	// on another connection in between (the source learned on a resumed
	// connection that the journal is whole) waits for it rather than
	// find nothing held ready.
	restored     chan struct{}
	restoredOnce sync.Once
}

func (in *incoming) settle() { in.restoredOnce.Do(func() { close(in.restored) }) }

// resumedConn is a new connection of a migration in progress; the Serve
// that took it closes done when it no longer uses it.
type resumedConn struct {
	rw   io.ReadWriter
	done chan struct{}
}

// readyVM is a migration restored here and waiting for its go-ahead.
type readyVM struct {
	id       uint64
	vm       *tcpip.Stack
	stats    ReplayStats
	live     int
	deadline time.Time     // past it, the migration is abandoned
	decided  chan struct{} // closed once it runs here or is abandoned
}

// NewDestination returns a destination with no VM yet; out sends frames
// (called from Tick and Input only).
func NewDestination(cfg DestinationConfig, out func([]byte)) (*Destination, error) {
	if cfg.Stack.WriteAhead != nil || cfg.Stack.StandIn {
		return nil, fmt.Errorf("migrate: destination stack config carries a write-ahead log: %w", ErrConfig)
	}
	if err := cfg.Stack.Validate(); err != nil {
		return nil, err
	}
	if cfg.ResumeWait == 0 {
		cfg.ResumeWait = 5 * time.Second
	}
	if cfg.MaxPreCopy == 0 {
		cfg.MaxPreCopy = 64 << 20
	}
	if cfg.MaxJournal == 0 {
		cfg.MaxJournal = 64 << 20
	}
	if err := cfg.Announce.Validate(); err != nil {
		return nil, err
	}
	return &Destination{cfg: cfg, out: out, incoming: map[uint64]*incoming{}, abandoned: map[uint64]bool{}}, nil
}

// Do runs fn with the VM's stack once the VM runs here, and reports
// whether it did.
func (d *Destination) Do(fn func(vm *tcpip.Stack)) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.vm == nil {
		return false
	}
	fn(d.vm)
	return true
}

// Active reports whether the VM runs here.
func (d *Destination) Active() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.vm != nil
}

// Replay returns what the replay of the journal did.
func (d *Destination) Replay() ReplayStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.replay
}

// Announced returns the number of announcement rounds sent.
func (d *Destination) Announced() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.vm == nil {
		return 0
	}
	return d.vm.Announced()
}

// Input gives a frame to the VM once it runs here; before, frames are
// dropped (nothing answers for an address this host does not own yet).
func (d *Destination) Input(f []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.vm != nil {
		d.vm.Input(f)
	}
}

// Tick serves the VM: the first tick after activation sends the first
// announcement round and an acknowledgement on every session (the first
// frames served); every tick runs the VM's timers, the later
// announcement rounds included.
func (d *Destination) Tick() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.vm == nil {
		return
	}
	if d.servedAt.IsZero() {
		d.servedAt = d.vm.Config().Clock.Now()
		_ = d.vm.AnnounceSelf(d.cfg.Announce) // checked by NewDestination
		d.vm.AckAll()
		close(d.served)
	}
	d.vm.Tick()
}

// Serve serves one connection of a source. On a connection that starts
// with a hello it takes a migration: the pre-copy, the journal (restored
// into the table; a corrupt, torn or unsealed journal is refused), the VM
// built and held ready, then, on the source's go-ahead, the VM runs here
// and Serve reports its first served frame. On a connection a source
// opened again after a cut it resumes the journal of a migration in
// progress, settles a migration by its id (the go-ahead: the VM runs here
// if it is held ready, or already runs; otherwise the migration is
// abandoned here and the source told so), or abandons one at the source's
// word. Serve returns nil once the VM of its migration runs here and, for
// a go-ahead, the source knows it; ctx ends it (rw is then closed if it is
// an io.Closer).
func (d *Destination) Serve(ctx context.Context, rw io.ReadWriter) error {
	first, err := readCtlAny(rw)
	if err != nil {
		return err
	}
	switch first.kind {
	case ctlHello:
		return d.receive(ctx, rw, uint32(first.a), first.c)
	case ctlResume:
		return d.handOver(ctx, first.a, rw)
	case ctlGo:
		return d.goAhead(ctx, first.a, rw)
	case ctlAbort:
		if d.decide(first.a, false) {
			return d.report(ctx, first.a, rw)
		}
		return writeCtl(rw, ctlMsg{kind: ctlAborted, a: first.a})
	}
	return fmt.Errorf("migrate: destination: control message %d first: %w", first.kind, ErrProtocol)
}

// receive takes migration id from its hello on: the pre-copy, the journal,
// the restore, then the go-ahead.
func (d *Destination) receive(ctx context.Context, rw io.ReadWriter, epoch uint32, id uint64) error {
	in := &incoming{resumed: make(chan resumedConn), abort: make(chan struct{}), restored: make(chan struct{})}
	d.mu.Lock()
	switch {
	case d.vm != nil:
		d.mu.Unlock()
		return fmt.Errorf("migrate: destination already runs a VM: %w", ErrMigration)
	case d.abandoned[id] || d.incoming[id] != nil:
		d.mu.Unlock()
		return fmt.Errorf("migrate: destination: migration %#x again: %w", id, ErrProtocol)
	}
	d.incoming[id] = in
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.incoming, id)
		d.mu.Unlock()
		in.settle()
	}()
	abandoned := func() error {
		return fmt.Errorf("migrate: destination: migration %#x abandoned by its source: %w", id, ErrMigration)
	}

	pre := NewReceiver(StreamPreCopy, d.cfg.MaxPreCopy)
	if err := pre.Receive(ctx, rw); err != nil {
		return fmt.Errorf("migrate: destination: pre-copy: %w", err)
	}
	t, err := DecodeTable(pre.Data())
	if err != nil {
		return fmt.Errorf("migrate: destination: pre-copy: %w", err)
	}
	t.Epoch = epoch
	// The journal is applied as it arrives: it streams while the source's
	// VM is suspended, and only its tail is left once it is sealed.
	jr := NewReceiver(StreamJournal, d.cfg.MaxJournal)
	ap := &applier{t: t}
	jr.onData = ap.feed
	err = d.rounds(ctx, rw, t)
	if errors.Is(err, errAbandoned) {
		d.decide(id, false)
		return abandoned()
	}
	if err == nil {
		err = jr.Receive(ctx, rw)
	}
	// A cut from here on may be the journal's: the source resumes it.
	for errors.Is(err, ErrConnection) {
		// Cut: the source resumes the journal from the last chunk
		// acknowledged, on a new connection that Serve hands over.
		wait := time.NewTimer(d.cfg.ResumeWait)
		select {
		case rc := <-in.resumed:
			wait.Stop()
			defer close(rc.done)
			rw = rc.rw
			if err = writeCtl(rw, ctlMsg{kind: ctlResume, a: id}); err == nil {
				err = jr.Resume(ctx, rw)
			}
		case <-in.abort:
			wait.Stop()
			return abandoned()
		case <-wait.C:
			d.decide(id, false)
			return fmt.Errorf("migrate: destination: journal cut and not resumed within %v: %w", d.cfg.ResumeWait, err)
		case <-ctx.Done():
			wait.Stop()
			return ctx.Err()
		}
	}
	if err != nil {
		return fmt.Errorf("migrate: destination: journal: %w", err)
	}
	st, rerr := ap.done(jr.Data())
	d.mu.Lock()
	in.journal = jr // from here on, a handOver may use it
	d.mu.Unlock()
	if rerr != nil {
		rerr = fmt.Errorf("migrate: destination: journal: %w: %w", ErrMigration, rerr)
	}
	var p *readyVM
	if rerr == nil {
		p, rerr = d.build(t, st, id)
	}
	if rerr == nil {
		if d.beforeHold != nil {
			d.beforeHold()
		}
		rerr = d.hold(p)
	}
	if rerr != nil {
		d.decide(id, false)
		in.settle()
		_ = writeCtl(rw, ctlMsg{kind: ctlFail})
		return rerr
	}
	in.settle()
	if err := writeCtl(rw, ctlMsg{kind: ctlReady, a: p.stats.Applied, b: p.stats.Skipped, c: uint64(p.live)}); err != nil {
		return d.awaitDecision(ctx, p)
	}
	m, err := readCtlAny(rw)
	switch {
	case err == nil && m.kind == ctlGo && m.a == id:
		return d.goAhead(ctx, id, rw)
	case err == nil && m.kind == ctlAbort && m.a == id:
		d.decide(id, false)
		_ = writeCtl(rw, ctlMsg{kind: ctlAborted, a: id})
		return abandoned()
	}
	// The connection is lost (or the source spoke out of turn): the
	// go-ahead may still come on a new connection, until the deadline.
	return d.awaitDecision(ctx, p)
}

// awaitDecision waits for migration p, held ready, to be settled by
// another connection or to expire.
func (d *Destination) awaitDecision(ctx context.Context, p *readyVM) error {
	wait := time.NewTimer(time.Until(p.deadline))
	defer wait.Stop()
	select {
	case <-p.decided:
	case <-wait.C:
		d.decide(p.id, false)
	case <-ctx.Done():
		return ctx.Err()
	}
	if d.runs(p.id) {
		return nil
	}
	return fmt.Errorf("migrate: destination: migration %#x restored but given no go-ahead within %v: %w",
		p.id, d.cfg.ResumeWait, ErrMigration)
}

// rounds applies the later rounds of the pre-copy to t until the source
// says the journal follows (nil), abandons the migration (errAbandoned)
// or the connection fails.
func (d *Destination) rounds(ctx context.Context, rw io.ReadWriter, t *Table) error {
	for {
		m, err := readCtlAny(rw)
		if err != nil {
			return err
		}
		switch m.kind {
		case ctlJournal:
			return nil
		case ctlAbort:
			return errAbandoned
		case ctlRound:
		default:
			return fmt.Errorf("migrate: destination: control message %d during the pre-copy: %w", m.kind, ErrProtocol)
		}
		rr := NewReceiver(StreamRound, d.cfg.MaxJournal)
		if err := rr.Receive(ctx, rw); err != nil {
			return fmt.Errorf("migrate: destination: pre-copy round %d: %w", m.a, err)
		}
		st, err := Restore(t, rr.Data())
		if err == nil && !st.Sealed {
			err = errors.New("not sealed")
		}
		if err != nil {
			return fmt.Errorf("migrate: destination: pre-copy round %d: %w: %w", m.a, ErrMigration, err)
		}
	}
}

var errAbandoned = errors.New("abandoned by the source")

// build builds the VM's stack from the restored table, not yet fed any
// frame.
func (d *Destination) build(t *Table, st ReplayStats, id uint64) (*readyVM, error) {
	live := 0
	for _, s := range t.Sessions {
		if s.State != tcpip.Closed {
			live++
		}
	}
	cfg := d.cfg.Stack
	t.Interface.apply(&cfg)
	vm, err := tcpip.NewStack(cfg, d.out)
	if err != nil {
		return nil, err
	}
	t.Activate(vm.TSClock())
	if err := vm.Import(sortedSessions(t)); err != nil {
		return nil, fmt.Errorf("migrate: destination: %w: %w", ErrMigration, err)
	}
	if err := vm.ImportNeighbors(t.Interface.Neighbors); err != nil {
		return nil, fmt.Errorf("migrate: destination: %w: %w", ErrMigration, err)
	}
	return &readyVM{id: id, vm: vm, stats: st, live: live, decided: make(chan struct{})}, nil
}

// hold makes p the migration held ready here, unless it was abandoned in
// the meantime or another holds the host (one whose deadline passed is
// abandoned first).
func (d *Destination) hold(p *readyVM) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if q := d.ready; q != nil && time.Now().After(q.deadline) {
		d.abandonLocked(q.id)
	}
	switch {
	case d.abandoned[p.id]:
		return fmt.Errorf("migrate: destination: migration %#x abandoned while it was restored: %w", p.id, ErrMigration)
	case d.vm != nil || d.ready != nil:
		return fmt.Errorf("migrate: destination: another migration holds the host: %w", ErrMigration)
	}
	p.deadline = time.Now().Add(d.cfg.ResumeWait)
	d.ready = p
	return nil
}

// decide settles migration id, once and for good: with the source's
// go-ahead (goAhead), the VM held ready for it runs here, if its deadline
// has not passed; otherwise, or without the go-ahead, the migration is
// abandoned here. It reports whether the VM of migration id runs here.
func (d *Destination) decide(id uint64, goAhead bool) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.vm != nil && d.vmID == id {
		return true
	}
	if p := d.ready; goAhead && p != nil && p.id == id && !time.Now().After(p.deadline) {
		d.ready = nil
		d.vm, d.vmID, d.live = p.vm, id, p.live
		d.served, d.replay, d.servedAt = make(chan struct{}), p.stats, time.Time{}
		close(p.decided)
		return true
	}
	d.abandonLocked(id)
	return false
}

func (d *Destination) abandonLocked(id uint64) {
	d.abandoned[id] = true
	if p := d.ready; p != nil && p.id == id {
		d.ready = nil
		close(p.decided)
	}
	if in := d.incoming[id]; in != nil {
		select {
		case <-in.abort:
		default:
			close(in.abort)
		}
	}
}

// runs reports whether the VM of migration id runs here.
func (d *Destination) runs(id uint64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.vm != nil && d.vmID == id
}

// goAhead answers a go-ahead for migration id: active and served when its
// VM runs here (now or already), aborted otherwise.
func (d *Destination) goAhead(ctx context.Context, id uint64, rw io.ReadWriter) error {
	d.mu.Lock()
	in := d.incoming[id]
	d.mu.Unlock()
	if in != nil {
		// Still being received or restored here: wait for the VM to be
		// held ready (or for the receive to fail), as long as a VM held
		// ready would wait for its go-ahead.
		wait := time.NewTimer(d.cfg.ResumeWait)
		select {
		case <-in.restored:
		case <-wait.C:
		case <-ctx.Done():
			wait.Stop()
			return ctx.Err()
		}
		wait.Stop()
	}
	if !d.decide(id, true) {
		_ = writeCtl(rw, ctlMsg{kind: ctlAborted, a: id})
		return fmt.Errorf("migrate: destination: go-ahead for migration %#x, which is not held ready here (never restored, abandoned or expired): %w",
			id, ErrMigration)
	}
	return d.report(ctx, id, rw)
}

// report tells the source that the VM of migration id runs here, and when
// it served its first frame.
func (d *Destination) report(ctx context.Context, id uint64, rw io.ReadWriter) error {
	d.mu.Lock()
	st, live, served := d.replay, d.live, d.served
	d.mu.Unlock()
	if err := writeCtl(rw, ctlMsg{kind: ctlActive, a: st.Applied, b: st.Skipped, c: uint64(live)}); err != nil {
		return err
	}
	select {
	case <-served:
	case <-ctx.Done():
		return ctx.Err()
	}
	d.mu.Lock()
	at := d.servedAt
	d.mu.Unlock()
	return writeCtl(rw, ctlMsg{kind: ctlServed, a: uint64(at.UnixNano())})
}

// handOver gives a resumed connection to the Serve of migration id and
// returns once that Serve is done with it; a migration that is not being
// received here is answered aborted (and abandoned, if it ever was).
func (d *Destination) handOver(ctx context.Context, id uint64, rw io.ReadWriter) error {
	d.mu.Lock()
	in := d.incoming[id]
	var jr *Receiver
	if in != nil {
		jr = in.journal
	}
	d.mu.Unlock()
	refuse := func(why string) error {
		d.decide(id, false)
		_ = writeCtl(rw, ctlMsg{kind: ctlAborted, a: id})
		return fmt.Errorf("migrate: destination: resume of migration %#x, %s: %w", id, why, ErrMigration)
	}
	if in == nil {
		return refuse("which is not being received here")
	}
	if jr != nil {
		// The journal is whole here: the source missed the end.
		in.mu.Lock()
		defer in.mu.Unlock()
		if err := writeCtl(rw, ctlMsg{kind: ctlResume, a: id}); err != nil {
			return err
		}
		return jr.Resume(ctx, rw)
	}
	rc := resumedConn{rw: rw, done: make(chan struct{})}
	wait := time.NewTimer(d.cfg.ResumeWait)
	defer wait.Stop()
	select {
	case in.resumed <- rc:
	case <-in.abort:
		return refuse("abandoned")
	case <-ctx.Done():
		return ctx.Err()
	case <-wait.C:
		return refuse("whose receiver is not waiting for it")
	}
	select {
	case <-rc.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
