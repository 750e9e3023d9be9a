package migrate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/ringkit/ringkit/tcpip"
)

// Dialer opens a connection to a destination host.
type Dialer func(ctx context.Context) (io.ReadWriteCloser, error)

// Phase is a step of a migration, as the source sees it.
type Phase uint8

const (
	PhasePreCopy   Phase = iota + 1 // the VM runs; its session table goes to the destination
	PhaseSuspended                  // the VM is frozen; the circuit answers and journals
	PhaseSealed                     // the journal is sealed and moving; nobody answers
	PhaseCommitted                  // the go-ahead is given: the VM is the destination's unless it says it never ran it
	PhaseMoved                      // the destination runs the VM
	PhaseResumed                    // the migration failed or was cancelled; the VM runs here again
)

var phaseNames = [...]string{PhasePreCopy: "pre-copy", PhaseSuspended: "suspended", PhaseSealed: "sealed",
	PhaseCommitted: "committed", PhaseMoved: "moved", PhaseResumed: "resumed"}

// String names the phase ("pre-copy", "suspended", ...).
func (p Phase) String() string {
	if int(p) < len(phaseNames) && phaseNames[p] != "" {
		return phaseNames[p]
	}
	return fmt.Sprintf("phase %d", p)
}

// MigrateConfig tunes a migration.
type MigrateConfig struct {
	Transfer TransferConfig
	// Hold runs while the VM is suspended and the circuit answers for it,
	// before the journal is sealed: the time the rest of the VM's memory
	// takes to move. nil seals at once.
	Hold func(ctx context.Context)
	// Phase, when set, is told of each phase as the migration enters it,
	// on the goroutine that runs the migration.
	Phase func(Phase)
	// Round, when set, is told of each pre-copy round once the destination
	// has it: its number (0 for the whole table) and its size in bytes.
	// It runs on the goroutine that runs the migration, before the next
	// round is measured.
	Round func(n int, bytes int)
	// Deadline bounds each exchange with a destination after the
	// suspension (10 s), and the settling of a go-ahead whose answer was
	// lost (see Recover).
	Deadline time.Duration
	// Reconnects is how many times a journal transfer cut short is resumed
	// on a new connection to the same destination, from the last chunk it
	// acknowledged, before the next destination is tried (2; -1: never).
	Reconnects int
	// SuspendBytes is the most that what changed since the last pre-copy
	// round may take in the journal when the VM is suspended (a quarter of
	// the circuit's journal). Above it, another round sends what changed,
	// while each round's changes shrink by a tenth at least (QEMU's
	// convergence), up to MaxRounds rounds after the first; past that the
	// migration fails with ErrMigration and the VM, never suspended, goes on.
	SuspendBytes int
	// MaxRounds bounds the pre-copy rounds after the first (8).
	MaxRounds int
}

func (cfg MigrateConfig) withDefaults() MigrateConfig {
	if cfg.Deadline == 0 {
		cfg.Deadline = 10 * time.Second
	}
	if cfg.Reconnects == 0 {
		cfg.Reconnects = 2
	}
	if cfg.MaxRounds == 0 {
		cfg.MaxRounds = 8
	}
	return cfg
}

// abandonWait bounds the telling of a destination that a migration is
// abandoned (tellAbandoned).
const abandonWait = time.Second

// Migrate moves the circuit's VM to the first destination that takes it:
// pre-copy while it runs, suspension (the circuit takes over), Hold, seal,
// the journal, the destination's restore, the go-ahead, and the
// destination's first served frame. A destination that fails before the
// go-ahead is dropped (and told so) and the next one gets the pre-copy and
// the journal; when none is left, or ctx is cancelled before the
// go-ahead, the VM resumes here with its journal applied (PhaseResumed)
// and Migrate returns an error wrapping ErrMigration.
//
// Once the go-ahead is given (PhaseCommitted), the destination may run the
// VM, so the source resumes it only on the destination's word that it
// never will: a go-ahead whose answer is lost is given again on a new
// connection until the destination answers, within Deadline
// (cancellation is too late by then). Should no answer come, Migrate
// returns an error wrapping ErrInDoubt and the VM runs nowhere until
// Recover settles it. See the package documentation, "Faults".
//
// The metrics follow live-migration usage: Downtime runs from the
// suspension to the first frame the destination served (or to the local
// resume), TotalTime from the pre-copy to the same point; Hold is the part
// of Downtime spent in cfg.Hold.
func (c *Circuit) Migrate(ctx context.Context, dests []Dialer, cfg MigrateConfig) (Metrics, error) {
	r := &run{c: c, dests: dests, cfg: cfg.withDefaults()}
	defer r.setConn(nil) // also when the goroutine dies: a process's connections close with it
	return r.migrate(ctx)
}

// Recover settles a migration that its Migrate left unsettled: the process
// that ran it died (the circuit, the host's part, kept the migration's
// record), or Migrate returned ErrInDoubt. dests must be the destinations
// given to Migrate, in the same order. The rule is the one Migrate
// follows, as libvirt recovers a migration job after its daemon restarts:
//
//   - before the go-ahead, the VM resumes here (the destination, which
//     runs a VM only on its go-ahead, is told the migration is abandoned);
//   - after it, the go-ahead is given again to the destination that got
//     it, which answers that the VM runs there (the source hands it off)
//     or that the migration is abandoned there (the VM resumes here).
//
// Recover returns nil once the VM runs on exactly one host (Mode tells
// which), with the metrics it could gather (the downtime and the total
// time, the replay's counts); an error wrapping ErrInDoubt
// if the destination could not be reached within cfg.Deadline (call it
// again). With no migration to settle it does nothing.
func (c *Circuit) Recover(ctx context.Context, dests []Dialer, cfg MigrateConfig) (Metrics, error) {
	rec, ok := c.record()
	if !ok {
		return Metrics{}, nil
	}
	r := &run{c: c, dests: dests, cfg: cfg.withDefaults(), id: rec.id, epoch: rec.epoch, start: rec.started, suspendAt: rec.suspended}
	defer r.setConn(nil)
	if rec.dest >= len(dests) {
		return r.m, fmt.Errorf("migrate: recover migration %#x: destination %d of %d: %w", rec.id, rec.dest, len(dests), ErrConfig)
	}
	clock := c.Clock()
	if rec.committed {
		out, servedAt, err := r.settle(ctx, rec.dest, nil)
		switch out {
		case outMoved:
			r.m.Downtime, r.m.TotalTime = servedAt.Sub(r.suspendAt), servedAt.Sub(r.start)
			c.finalStats(&r.m)
			return r.m, nil
		case outInDoubt:
			return r.m, err
		}
	} else if rec.dest >= 0 {
		r.left = append(r.left, rec.dest)
	}
	defer r.tellAbandoned(ctx) // once the VM runs here
	if c.Mode() == Running {
		c.end()
		return r.m, nil
	}
	if err := c.resumeAfter(); err != nil {
		return r.m, fmt.Errorf("migrate: recover migration %#x: local resume failed: %w", rec.id, err)
	}
	now := clock.Now()
	r.m.Downtime, r.m.TotalTime = now.Sub(r.suspendAt), now.Sub(r.start)
	c.finalStats(&r.m)
	r.phase(PhaseResumed)
	return r.m, nil
}

// run is one migration (or recovery) as the source runs it.
type run struct {
	c     *Circuit
	dests []Dialer
	cfg   MigrateConfig
	m     Metrics
	id    uint64
	epoch uint32

	start, suspendAt time.Time
	moved            bool // handed off
	live             int  // sessions the destination runs

	// left are the destinations this run abandoned without their knowing:
	// they are told once the VM runs somewhere.
	left []int

	mu   sync.Mutex
	conn io.ReadWriteCloser // the connection in use, closed when replaced
}

// setConn makes nc the connection in use, closing the one before.
func (r *run) setConn(nc io.ReadWriteCloser) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn != nil && r.conn != nc {
		r.conn.Close()
	}
	r.conn = nc
}

func (r *run) current() io.ReadWriteCloser {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conn
}

func (r *run) phase(p Phase) {
	if r.cfg.Phase != nil {
		r.cfg.Phase(p)
	}
}

// outcome is how a destination's part of a migration ended.
type outcome uint8

const (
	outAbandoned outcome = iota // the VM will never run there: the source may go elsewhere or resume it
	outMoved                    // the VM runs there
	outInDoubt                  // the go-ahead is given and its answer did not come
)

func (r *run) migrate(ctx context.Context) (Metrics, error) {
	c := r.c
	clock := c.Clock()
	r.start = clock.Now()
	r.phase(PhasePreCopy)
	pre, err := c.PreCopy()
	if err != nil {
		return r.m, err
	}
	r.epoch, r.id = c.Epoch()+1, rand.Uint64()
	if err := c.begin(r.id, r.epoch); err != nil {
		return r.m, err
	}
	c.update(func(rec *migRecord) { rec.started = r.start })

	// The pre-copy goes to the first destination that takes it, in rounds
	// while what changed since the last one is too much for the journal.
	defer r.tellAbandoned(ctx)
	var errs []error
	di, err := r.converge(ctx, pre, &errs)
	if err != nil || di < 0 {
		c.end()
		switch {
		case err != nil:
			return r.m, err
		case ctx.Err() != nil:
			return r.m, fmt.Errorf("migrate: cancelled before suspension: %w: %w", ErrMigration, errors.Join(errs...))
		}
		return r.m, fmt.Errorf("migrate: no destination took the pre-copy: %w: %w", ErrMigration, errors.Join(errs...))
	}
	r.suspendAt = clock.Now()
	if err := c.Suspend(r.epoch); err != nil {
		r.left = append(r.left, di)
		c.end()
		return r.m, fmt.Errorf("migrate: the VM goes on: %w: %w", ErrMigration, err)
	}
	c.update(func(rec *migRecord) { rec.suspended = r.suspendAt })
	r.phase(PhaseSuspended)
	js := r.stream(ctx, di)
	defer js.stop()
	holdAt := clock.Now()
	if r.cfg.Hold != nil {
		r.cfg.Hold(ctx)
	}
	r.m.Hold = clock.Now().Sub(holdAt)
	if err := c.Seal(); err != nil {
		r.left = append(r.left, di)
		if rerr := c.resumeAfter(); rerr != nil {
			return r.m, fmt.Errorf("migrate: local resume failed: %w (after %w)", rerr, err)
		}
		return r.m, fmt.Errorf("migrate: resumed on the source: %w: %w", ErrMigration, err)
	}
	r.m.JournalTail = c.Journal().Size() - js.acked()
	r.phase(PhaseSealed)
	r.m.AddJournal(c.Journal())

	for di >= 0 {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			r.left = append(r.left, di)
			break
		}
		out, servedAt, err := r.finish(ctx, di, js)
		js = nil
		switch out {
		case outMoved:
			r.setConn(nil)
			r.m.Downtime = servedAt.Sub(r.suspendAt)
			r.m.TotalTime = servedAt.Sub(r.start)
			c.finalStats(&r.m)
			r.m.SessionsLost += max(c.liveAtSeal()-r.live, 0)
			return r.m, nil
		case outInDoubt:
			r.m.TotalTime = clock.Now().Sub(r.start)
			return r.m, fmt.Errorf("migrate: destination %d: %w", di, err)
		}
		errs = append(errs, err)
		r.m.Retries++
		di = r.preCopyTo(ctx, di+1, pre, true, &errs)
	}
	if rerr := c.resumeAfter(); rerr != nil {
		return r.m, fmt.Errorf("migrate: local resume failed: %w (after %w)", rerr, errors.Join(errs...))
	}
	now := clock.Now()
	r.m.Downtime, r.m.TotalTime = now.Sub(r.suspendAt), now.Sub(r.start)
	c.finalStats(&r.m)
	r.phase(PhaseResumed)
	return r.m, fmt.Errorf("migrate: resumed on the source: %w: %w", ErrMigration, errors.Join(errs...))
}

func (c *Circuit) finalStats(m *Metrics) {
	st := c.Stats()
	m.KeepalivesAnswered = st.Stack.KeepalivesAnswered
	m.SessionsLost += st.Lost
}

// converge runs the pre-copy: the whole table to the first destination
// that takes it, then rounds of what changed since the round before while
// that is above SuspendBytes and shrinking; it returns the destination
// (-1: none took it; errs says why) or, when the rounds do not converge,
// an error wrapping ErrMigration (the destination is told).
func (r *run) converge(ctx context.Context, pre []byte, errs *[]error) (int, error) {
	c := r.c
	budget := r.cfg.SuspendBytes
	if budget == 0 {
		budget = c.cfg.JournalSize / 4
	}
	di := r.preCopyTo(ctx, 0, pre, false, errs)
	r.m.PreCopyRounds = 1
	prev := 0
	if di >= 0 && r.cfg.Round != nil {
		r.cfg.Round(0, len(pre))
	}
	for n := 1; di >= 0; n++ {
		size, err := c.changed()
		if err != nil {
			r.left = append(r.left, di)
			return -1, err
		}
		if size <= budget {
			return di, nil
		}
		if n > r.cfg.MaxRounds || prev > 0 && size > prev-prev/10 {
			r.left = append(r.left, di)
			return -1, fmt.Errorf("migrate: pre-copy does not converge: after %d rounds, %d bytes changed since the last (%d the round before), above %d: %w",
				n, size, prev, budget, ErrMigration)
		}
		b, err := c.preCopyRound(r.epoch)
		if err != nil {
			r.left = append(r.left, di)
			return -1, err
		}
		r.m.PreCopyRounds++
		if err := r.sendRound(ctx, r.current(), n, b); err != nil {
			*errs = append(*errs, fmt.Errorf("migrate: destination %d: %w", di, err))
			r.setConn(nil)
			di = r.preCopyTo(ctx, di+1, pre, false, errs)
		}
		if di >= 0 && r.cfg.Round != nil {
			r.cfg.Round(n, len(b))
		}
		prev = size
	}
	return di, nil
}

// sendRound sends pre-copy round n.
func (r *run) sendRound(ctx context.Context, conn io.ReadWriter, n int, b []byte) error {
	if err := writeCtl(conn, ctlMsg{kind: ctlRound, a: uint64(n)}); err != nil {
		return err
	}
	snd, err := NewSender(StreamRound, bytes.NewReader(b), r.cfg.Transfer)
	if err != nil {
		return err
	}
	err = snd.Send(ctx, conn)
	r.m.AddTransfer(snd.Stats(), false)
	if err != nil {
		return fmt.Errorf("pre-copy round %d: %w", n, err)
	}
	return nil
}

// preCopyTo sends the hello and the pre-copy to the first destination
// from index from on that takes them, and returns its index (-1: none).
func (r *run) preCopyTo(ctx context.Context, from int, pre []byte, downtime bool, errs *[]error) int {
	for di := from; di < len(r.dests) && ctx.Err() == nil; di++ {
		err := r.sendPreCopy(ctx, di, pre, downtime)
		if err == nil {
			return di
		}
		*errs = append(*errs, err)
		if di > from || downtime {
			r.m.Retries++
		}
	}
	return -1
}

// sendPreCopy dials destination di and sends it the hello and the pre-copy.
func (r *run) sendPreCopy(ctx context.Context, di int, pre []byte, downtime bool) error {
	conn, err := r.dests[di](ctx)
	if err != nil {
		return fmt.Errorf("migrate: destination %d: dial: %w: %w", di, ErrConnection, err)
	}
	r.setConn(conn)
	r.c.update(func(rec *migRecord) { rec.dest = di })
	err = writeCtl(conn, ctlMsg{kind: ctlHello, a: uint64(r.epoch), c: r.id})
	if err == nil {
		var snd *Sender
		if snd, err = NewSender(StreamPreCopy, bytes.NewReader(pre), r.cfg.Transfer); err == nil {
			err = snd.Send(ctx, conn)
			r.m.AddTransfer(snd.Stats(), downtime)
		}
	}
	for i, b := range r.c.preCopyRounds() {
		if err != nil {
			break
		}
		err = r.sendRound(ctx, conn, i+1, b)
	}
	if err != nil {
		r.setConn(nil)
		return fmt.Errorf("migrate: destination %d: pre-copy: %w", di, err)
	}
	return nil
}

// finish sends the journal to destination di (a transfer cut short is
// resumed on a new connection to it), or waits for js, the transfer
// streaming it since the suspension, to end; then it waits for the
// destination's restore and gives the go-ahead. Before the go-ahead, a failure abandons the destination (it is
// told so); after it, settle finds out where the VM runs.
func (r *run) finish(ctx context.Context, di int, js *journalStream) (outcome, time.Time, error) {
	fctx, cancel := context.WithTimeout(ctx, r.cfg.Deadline)
	defer cancel()
	stop := context.AfterFunc(fctx, func() { r.setConn(nil) })
	defer stop()
	fail := func(err error) (outcome, time.Time, error) {
		r.left = append(r.left, di)
		return outAbandoned, time.Time{}, fmt.Errorf("migrate: destination %d: %w", di, err)
	}

	var st TransferStats
	var err error
	if js != nil {
		st, err = js.wait(fctx)
	} else {
		var snd *Sender
		if snd, err = NewSender(StreamJournal, journalSource{r.c.Journal()}, r.cfg.Transfer); err == nil {
			st, err = r.sendJournal(fctx, di, snd)
		}
	}
	r.m.AddTransfer(st, true)
	if err != nil {
		return fail(fmt.Errorf("journal: %w", err))
	}

	// The whole journal is there; the restore follows.
	conn := r.current()
	ready, err := readCtlAny(conn)
	switch {
	case ctx.Err() != nil:
		return fail(fmt.Errorf("cancelled before the go-ahead: %w", ctx.Err()))
	case err == nil && ready.kind == ctlFail:
		return outAbandoned, time.Time{}, fmt.Errorf("migrate: destination %d did not restore the journal: %w", di, ErrMigration)
	case err == nil && ready.kind != ctlReady:
		return fail(fmt.Errorf("control message %d where ready was due: %w", ready.kind, ErrProtocol))
	case err != nil:
		// Lost at the ready: whether the destination holds the VM ready
		// is what the go-ahead, given again on a new connection, asks.
		conn = nil
	}
	r.c.update(func(rec *migRecord) { rec.dest, rec.committed = di, true })
	r.phase(PhaseCommitted)
	return r.settle(ctx, di, conn)
}

// sendJournal sends the journal to destination di, from the connection in
// use on; a transfer cut short is resumed on a new connection to it, up to
// Reconnects times. The journal may still grow: it is streamed until it is
// sealed.
func (r *run) sendJournal(ctx context.Context, di int, snd *Sender) (TransferStats, error) {
	var err error
	if err = writeCtl(r.current(), ctlMsg{kind: ctlJournal}); err == nil {
		err = snd.Send(ctx, r.current())
	}
	for try := 0; errors.Is(err, ErrConnection) && try < r.cfg.Reconnects && ctx.Err() == nil; try++ {
		var ok bool
		if ok, err = r.reconnect(ctx, di); ok {
			err = snd.Resume(ctx, r.current())
		}
	}
	return snd.Stats(), err
}

// journalStream is the journal's transfer to the first destination,
// streamed from the suspension on in a goroutine of its own while the
// journal grows, so that only its tail moves after the seal.
type journalStream struct {
	snd    *Sender
	cancel context.CancelFunc
	done   chan struct{} // closed when the transfer has ended, st and err set
	st     TransferStats
	err    error
}

func (r *run) stream(ctx context.Context, di int) *journalStream {
	sctx, cancel := context.WithCancel(ctx)
	js := &journalStream{cancel: cancel, done: make(chan struct{})}
	snd, err := NewSender(StreamJournal, journalSource{r.c.Journal()}, r.cfg.Transfer)
	if err != nil {
		js.err = err
		close(js.done)
		return js
	}
	js.snd = snd
	go func() {
		defer close(js.done)
		js.st, js.err = r.sendJournal(sctx, di, snd)
	}()
	return js
}

// acked is the journal's bytes the destination holds by now.
func (js *journalStream) acked() int64 {
	if js.snd == nil {
		return 0
	}
	return js.snd.AckedNow()
}

// wait waits for the transfer to end, for as long as ctx lasts.
func (js *journalStream) wait(ctx context.Context) (TransferStats, error) {
	select {
	case <-js.done:
	case <-ctx.Done():
		js.stop()
	}
	return js.st, js.err
}

// stop ends the transfer and waits for its goroutine.
func (js *journalStream) stop() {
	js.cancel()
	<-js.done
}

// reconnect opens a new connection to destination di for the journal
// transfer of this migration; false when it could not (err says why).
func (r *run) reconnect(ctx context.Context, di int) (bool, error) {
	nc, err := r.dests[di](ctx)
	if err != nil {
		return false, fmt.Errorf("dial: %w: %w", ErrConnection, err)
	}
	r.setConn(nc)
	if err := writeCtl(nc, ctlMsg{kind: ctlResume, a: r.id}); err != nil {
		return false, err
	}
	ans, err := readCtlAny(nc)
	switch {
	case err != nil:
		return false, err
	case ans.kind == ctlAborted:
		return false, fmt.Errorf("the destination abandoned migration %#x: %w", r.id, ErrMigration)
	case ans.kind != ctlResume || ans.a != r.id:
		return false, fmt.Errorf("control message %d answering a resume: %w", ans.kind, ErrProtocol)
	}
	return true, nil
}

// settle gives destination di the go-ahead (on conn, or on a new
// connection when conn is nil or fails) until it answers: the VM runs
// there (the source hands it off, then learns when it served its first
// frame), or the migration is abandoned there (the go-ahead is withdrawn:
// the source may go elsewhere). Without an answer within Deadline it
// returns outInDoubt. It is not cancelled with ctx: once given, the
// go-ahead must be settled.
func (r *run) settle(ctx context.Context, di int, conn io.ReadWriteCloser) (outcome, time.Time, error) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.Deadline)
	defer cancel()
	stop := context.AfterFunc(sctx, func() { r.setConn(nil) })
	defer stop()
	backoff := time.Millisecond
	var last error
	for {
		if conn == nil {
			nc, err := r.dests[di](sctx)
			if err != nil {
				last = fmt.Errorf("dial: %w: %w", ErrConnection, err)
			} else {
				r.setConn(nc)
				conn = nc
			}
		}
		if conn != nil {
			out, servedAt, err := r.goAhead(conn)
			if out != outInDoubt {
				return out, servedAt, err
			}
			last = err
			r.setConn(nil)
			conn = nil
		}
		wait := time.NewTimer(backoff)
		select {
		case <-wait.C:
		case <-sctx.Done():
			wait.Stop()
			return outInDoubt, time.Time{}, fmt.Errorf("migrate: go-ahead for migration %#x unanswered within %v: %w: %w: %w",
				r.id, r.cfg.Deadline, ErrInDoubt, ErrMigration, last)
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

// goAhead gives the go-ahead on conn and reads the answer; outInDoubt when
// the connection failed before it was whole.
func (r *run) goAhead(conn io.ReadWriter) (outcome, time.Time, error) {
	if err := writeCtl(conn, ctlMsg{kind: ctlGo, a: r.id}); err != nil {
		return outInDoubt, time.Time{}, err
	}
	ans, err := readCtlAny(conn)
	switch {
	case err != nil:
		return outInDoubt, time.Time{}, err
	case ans.kind == ctlAborted && ans.a == r.id:
		r.c.update(func(rec *migRecord) { rec.committed = false })
		return outAbandoned, time.Time{}, fmt.Errorf("migrate: the destination abandoned migration %#x (it was not ready when the go-ahead came): %w",
			r.id, ErrMigration)
	case ans.kind != ctlActive:
		return outInDoubt, time.Time{}, fmt.Errorf("migrate: control message %d answering the go-ahead: %w", ans.kind, ErrProtocol)
	}
	r.m.RecordsReplayed, r.m.RecordsSkipped, r.live = ans.a, ans.b, int(ans.c)
	if !r.moved {
		r.moved = true
		r.c.HandOff()
		r.phase(PhaseMoved)
	}
	served, err := readCtl(conn, ctlServed)
	if err != nil {
		return outInDoubt, time.Time{}, err
	}
	return outMoved, time.Unix(0, int64(served.a)), nil
}

// tellAbandoned tells each destination this run left that the migration
// will not go on there. It is a courtesy that frees them sooner; safety
// never depends on it (a destination runs a VM only on its go-ahead).
func (r *run) tellAbandoned(ctx context.Context) {
	r.setConn(nil)
	for _, di := range r.left {
		r.abandon(ctx, di)
	}
	r.left = nil
}

func (r *run) abandon(ctx context.Context, di int) {
	if di < 0 || di >= len(r.dests) {
		return
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abandonWait)
	defer cancel()
	nc, err := r.dests[di](actx)
	if err != nil {
		return
	}
	stop := context.AfterFunc(actx, func() { nc.Close() })
	defer stop()
	defer nc.Close()
	if writeCtl(nc, ctlMsg{kind: ctlAbort, a: r.id}) == nil {
		_, _ = readCtlAny(nc)
	}
}

// liveAtSeal is the number of sessions that were not closed when the
// journal was sealed: what the destination must have restored.
func (c *Circuit) liveAtSeal() int {
	c.mu.Lock()
	t, err := c.tableAtSeal()
	c.mu.Unlock()
	if err != nil {
		return 0
	}
	n := 0
	for _, s := range t.Sessions {
		if s.State != tcpip.Closed {
			n++
		}
	}
	return n
}
