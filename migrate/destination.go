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
	// ResumeWait is how long a journal transfer cut short waits for the
	// source to come back on a new connection (5 s).
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
// Input and Tick belong to the host's goroutine; Serve runs in its own.
type Destination struct {
	mu  sync.Mutex
	cfg DestinationConfig
	out func([]byte)
	vm  *tcpip.Stack

	servedAt time.Time
	served   chan struct{} // closed when the first frame is served
	replay   ReplayStats
	// resumes hands the connections a source opens after a cut to the
	// Serve of the migration they continue, by migration id.
	resumes map[uint64]chan resumedConn
}

// resumedConn is a new connection of a migration in progress; the Serve
// that took it closes done when it no longer uses it.
type resumedConn struct {
	rw   io.ReadWriter
	done chan struct{}
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
	return &Destination{cfg: cfg, out: out}, nil
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

// Serve takes one migration over rw: the hello, the pre-copy, the journal
// (restored into the table; a corrupt, torn or unsealed journal is refused
// and the VM is not activated), then, on the source's go-ahead, activates
// the VM, and reports its first served frame. It returns nil once the VM
// runs here and the source knows it.
func (d *Destination) Serve(ctx context.Context, rw io.ReadWriter) error {
	d.mu.Lock()
	busy := d.vm != nil
	d.mu.Unlock()
	if busy {
		return fmt.Errorf("migrate: destination already runs a VM: %w", ErrMigration)
	}
	hello, err := readCtlAny(rw)
	if err != nil {
		return err
	}
	switch hello.kind {
	case ctlResume:
		return d.handOver(ctx, hello.a, rw)
	case ctlHello:
	default:
		return fmt.Errorf("migrate: destination: control message %d first: %w", hello.kind, ErrProtocol)
	}
	epoch := uint32(hello.a)
	resumed := make(chan resumedConn)
	d.mu.Lock()
	if d.resumes == nil {
		d.resumes = make(map[uint64]chan resumedConn)
	}
	d.resumes[hello.c] = resumed
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.resumes, hello.c)
		d.mu.Unlock()
	}()
	pre := NewReceiver(StreamPreCopy, d.cfg.MaxPreCopy)
	if err := pre.Receive(ctx, rw); err != nil {
		return fmt.Errorf("migrate: destination: pre-copy: %w", err)
	}
	jr := NewReceiver(StreamJournal, d.cfg.MaxJournal)
	err = jr.Receive(ctx, rw)
	for errors.Is(err, ErrConnection) {
		// Cut: the source resumes the journal from the last chunk
		// acknowledged, on a new connection that Serve hands over.
		select {
		case rc := <-resumed:
			defer close(rc.done)
			rw = rc.rw
			err = jr.Resume(ctx, rw)
		case <-time.After(d.cfg.ResumeWait):
			return fmt.Errorf("migrate: destination: journal cut and not resumed within %v: %w", d.cfg.ResumeWait, err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err != nil {
		return fmt.Errorf("migrate: destination: journal: %w", err)
	}
	t, st, rerr := d.restore(pre.Data(), jr.Data(), epoch)
	if rerr != nil {
		_ = writeCtl(rw, ctlMsg{kind: ctlFail})
		return rerr
	}
	live := 0
	for _, s := range t.Sessions {
		if s.State != tcpip.Closed {
			live++
		}
	}
	if err := writeCtl(rw, ctlMsg{kind: ctlReady, a: st.Applied, b: st.Skipped, c: uint64(live)}); err != nil {
		return err
	}
	if _, err := readCtl(rw, ctlGo); err != nil {
		return fmt.Errorf("migrate: destination: no go-ahead, not activating: %w", err)
	}

	cfg := d.cfg.Stack
	t.Interface.apply(&cfg)
	vm, err := tcpip.NewStack(cfg, d.out)
	if err != nil {
		return err
	}
	t.Activate(vm.TSClock())
	if err := vm.Import(sortedSessions(t)); err != nil {
		return err
	}
	if err := vm.ImportNeighbors(t.Interface.Neighbors); err != nil {
		return err
	}
	served := make(chan struct{})
	d.mu.Lock()
	d.vm, d.served, d.replay, d.servedAt = vm, served, st, time.Time{}
	d.mu.Unlock()
	if err := writeCtl(rw, ctlMsg{kind: ctlActive}); err != nil {
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
// returns once that Serve is done with it.
func (d *Destination) handOver(ctx context.Context, id uint64, rw io.ReadWriter) error {
	d.mu.Lock()
	ch := d.resumes[id]
	d.mu.Unlock()
	if ch == nil {
		return fmt.Errorf("migrate: destination: resume of unknown migration %#x: %w", id, ErrMigration)
	}
	rc := resumedConn{rw: rw, done: make(chan struct{})}
	select {
	case ch <- rc:
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d.cfg.ResumeWait):
		return fmt.Errorf("migrate: destination: migration %#x is not waiting for a resume: %w", id, ErrMigration)
	}
	select {
	case <-rc.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// restore rebuilds the session table: the pre-copy, then the journal,
// which must be whole and sealed.
func (d *Destination) restore(pre, journal []byte, epoch uint32) (*Table, ReplayStats, error) {
	t, err := DecodeTable(pre)
	if err != nil {
		return nil, ReplayStats{}, fmt.Errorf("migrate: destination: pre-copy: %w", err)
	}
	t.Epoch = epoch
	st, err := Restore(t, journal)
	if err == nil && !st.Sealed {
		err = errors.New("journal not sealed")
	}
	if err != nil {
		return nil, st, fmt.Errorf("migrate: destination: journal: %w: %w", ErrMigration, err)
	}
	return t, st, nil
}
