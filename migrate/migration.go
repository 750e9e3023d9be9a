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
	PhaseMoved                      // the destination runs the VM
	PhaseResumed                    // the migration failed or was cancelled; the VM runs here again
)

var phaseNames = [...]string{PhasePreCopy: "pre-copy", PhaseSuspended: "suspended", PhaseSealed: "sealed",
	PhaseMoved: "moved", PhaseResumed: "resumed"}

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
	// Phase, when set, is told of each phase as the migration enters it.
	Phase func(Phase)
	// Deadline bounds each exchange with a destination after the
	// suspension (10 s).
	Deadline time.Duration
	// Reconnects is how many times a journal transfer cut short is resumed
	// on a new connection to the same destination, from the last chunk it
	// acknowledged, before the next destination is tried (2; -1: never).
	Reconnects int
}

// Migrate moves the circuit's VM to the first destination that takes it:
// pre-copy while it runs, suspension (the circuit takes over), Hold, seal,
// the journal, the destination's restore, the go-ahead, and the
// destination's first served frame. A destination that fails before the
// go-ahead is dropped and the next one gets the pre-copy and the journal;
// when none is left, or ctx is cancelled before the go-ahead, the VM
// resumes here with its journal applied (PhaseResumed) and Migrate returns
// an error wrapping ErrMigration. Once the go-ahead is sent the source has
// given the VM up for good: never two active owners.
//
// The metrics follow live-migration usage: Downtime runs from the
// suspension to the first frame the destination served (or to the local
// resume), TotalTime from the pre-copy to the same point; Hold is the part
// of Downtime spent in cfg.Hold.
func (c *Circuit) Migrate(ctx context.Context, dests []Dialer, cfg MigrateConfig) (Metrics, error) {
	var m Metrics
	if cfg.Deadline == 0 {
		cfg.Deadline = 10 * time.Second
	}
	if cfg.Reconnects == 0 {
		cfg.Reconnects = 2
	}
	phase := func(p Phase) {
		if cfg.Phase != nil {
			cfg.Phase(p)
		}
	}
	clock := c.Clock()
	start := clock.Now()
	phase(PhasePreCopy)
	pre, err := c.PreCopy()
	if err != nil {
		return m, err
	}
	epoch := c.Epoch() + 1
	id := rand.Uint64()
	hello := ctlMsg{kind: ctlHello, a: uint64(epoch), c: id}

	// The pre-copy goes to the first destination that takes it.
	var conn io.ReadWriteCloser
	di := 0
	var errs []error
	for ; di < len(dests); di++ {
		conn, err = c.sendPreCopy(ctx, dests[di], hello, pre, cfg, &m, false)
		if err == nil {
			break
		}
		errs = append(errs, err)
		m.Retries++
		if ctx.Err() != nil {
			return m, fmt.Errorf("migrate: cancelled before suspension: %w: %w", ErrMigration, errors.Join(errs...))
		}
	}
	if conn == nil {
		return m, fmt.Errorf("migrate: no destination took the pre-copy: %w: %w", ErrMigration, errors.Join(errs...))
	}

	if err := c.Suspend(epoch); err != nil {
		conn.Close()
		return m, err
	}
	suspendAt := clock.Now()
	phase(PhaseSuspended)
	if cfg.Hold != nil {
		cfg.Hold(ctx)
	}
	m.Hold = clock.Now().Sub(suspendAt)
	if err := c.Seal(); err != nil {
		conn.Close()
		return m, err
	}
	phase(PhaseSealed)
	j := c.Journal()
	m.AddJournal(j)

	for {
		var committed bool
		if ctx.Err() == nil {
			var servedAt time.Time
			servedAt, committed, err = c.finish(ctx, &conn, dests[di], id, j, cfg, &m)
			if err == nil {
				conn.Close()
				m.Downtime = servedAt.Sub(suspendAt)
				m.TotalTime = servedAt.Sub(start)
				c.finalStats(&m)
				return m, nil
			}
			errs = append(errs, err)
		}
		conn.Close()
		if committed {
			// The destination may run the VM: the source must never
			// resume it.
			c.HandOff()
			phase(PhaseMoved)
			m.TotalTime = clock.Now().Sub(start)
			return m, fmt.Errorf("migrate: destination %d failed after the go-ahead: %w: %w", di, ErrMigration, err)
		}
		for conn = nil; conn == nil && ctx.Err() == nil && di+1 < len(dests); {
			di++
			m.Retries++
			conn, err = c.sendPreCopy(ctx, dests[di], hello, pre, cfg, &m, true)
			if err != nil {
				errs = append(errs, err)
			}
		}
		if conn == nil {
			if ctx.Err() != nil {
				errs = append(errs, ctx.Err())
			}
			if rerr := c.ResumeLocal(); rerr != nil {
				return m, fmt.Errorf("migrate: local resume failed: %w (after %w)", rerr, errors.Join(errs...))
			}
			now := clock.Now()
			m.Downtime, m.TotalTime = now.Sub(suspendAt), now.Sub(start)
			c.finalStats(&m)
			phase(PhaseResumed)
			return m, fmt.Errorf("migrate: resumed on the source: %w: %w", ErrMigration, errors.Join(errs...))
		}
	}
}

func (c *Circuit) finalStats(m *Metrics) {
	st := c.Stats()
	m.KeepalivesAnswered = st.Stack.KeepalivesAnswered
	m.SessionsLost += st.Lost
}

// sendPreCopy dials a destination and sends it the hello and the pre-copy.
func (c *Circuit) sendPreCopy(ctx context.Context, dial Dialer, hello ctlMsg, pre []byte, cfg MigrateConfig, m *Metrics, downtime bool) (io.ReadWriteCloser, error) {
	conn, err := dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: dial: %w: %w", ErrConnection, err)
	}
	if err := writeCtl(conn, hello); err != nil {
		conn.Close()
		return nil, err
	}
	snd, err := NewSender(StreamPreCopy, bytes.NewReader(pre), cfg.Transfer)
	if err != nil {
		conn.Close()
		return nil, err
	}
	err = snd.Send(ctx, conn)
	m.AddTransfer(snd.Stats(), downtime)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("migrate: pre-copy: %w", err)
	}
	return conn, nil
}

// finish sends the journal, waits for the destination's restore, gives the
// go-ahead (committed from then on), hands the VM off and waits for the
// first served frame.
// A cut journal transfer is resumed on a new connection to the same
// destination (*connp is then that one).
func (c *Circuit) finish(ctx context.Context, connp *io.ReadWriteCloser, dial Dialer, id uint64, j *Journal, cfg MigrateConfig, m *Metrics) (servedAt time.Time, committed bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Deadline)
	defer cancel()
	var mu sync.Mutex // the current connection, closed when ctx ends
	stop := context.AfterFunc(ctx, func() { mu.Lock(); (*connp).Close(); mu.Unlock() })
	defer stop()
	snd, err := NewSender(StreamJournal, journalSource{j}, cfg.Transfer)
	if err != nil {
		return servedAt, false, err
	}
	err = snd.Send(ctx, *connp)
	for try := 0; errors.Is(err, ErrConnection) && try < cfg.Reconnects && ctx.Err() == nil; try++ {
		nc, derr := dial(ctx)
		if derr != nil {
			break
		}
		mu.Lock()
		(*connp).Close()
		*connp = nc
		mu.Unlock()
		if werr := writeCtl(nc, ctlMsg{kind: ctlResume, a: id}); werr != nil {
			continue
		}
		err = snd.Resume(ctx, nc)
	}
	m.AddTransfer(snd.Stats(), true)
	if err != nil {
		return servedAt, false, fmt.Errorf("migrate: journal: %w", err)
	}
	conn := *connp
	ready, err := readCtl(conn, ctlReady)
	if err != nil {
		return servedAt, false, fmt.Errorf("migrate: destination did not restore: %w", err)
	}
	if err := writeCtl(conn, ctlMsg{kind: ctlGo}); err != nil {
		// The go-ahead may have reached the destination: treat as sent.
		return servedAt, true, err
	}
	m.RecordsReplayed += ready.a
	m.RecordsSkipped += ready.b
	if _, err := readCtl(conn, ctlActive); err != nil {
		return servedAt, true, err
	}
	c.HandOff()
	if cfg.Phase != nil {
		cfg.Phase(PhaseMoved)
	}
	served, err := readCtl(conn, ctlServed)
	if err != nil {
		return servedAt, true, err
	}
	expected := c.liveAtSeal()
	m.SessionsLost += max(expected-int(ready.c), 0)
	return time.Unix(0, int64(served.a)), true, nil
}

// liveAtSeal is the number of sessions that were not closed when the
// journal was sealed: what the destination must have restored.
func (c *Circuit) liveAtSeal() int {
	t, err := DecodeTable(c.pre)
	if err != nil {
		return 0
	}
	t.Epoch = c.j.Epoch()
	if _, err := Restore(t, c.j.Bytes()); err != nil {
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
