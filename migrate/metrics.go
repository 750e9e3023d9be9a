package migrate

import (
	"fmt"
	"time"
)

// Metrics are the figures users of live migration look at (QEMU's
// "info migrate", vMotion's stun time): how long the VM was down, how much
// moved before and during the downtime, what the journal held, and whether
// any session was lost. A circuit fills the session and keepalive figures;
// the journal, the transfer and the replay fill theirs through the Add
// methods.
type Metrics struct {
	Downtime  time.Duration // from suspension on the source to the first frame the destination served (or to a local resume)
	TotalTime time.Duration // from the start of the pre-copy to the same point
	// Hold is the part of Downtime spent in MigrateConfig.Hold: the VM
	// suspended by choice while the rest of its memory would move, the
	// circuit answering for its sessions. Downtime less Hold is what the
	// migration itself cost (seal, journal transfer, replay, activation,
	// the first served frame).
	Hold time.Duration

	BytesPreCopy  int64 // transfer bytes sent before suspension (the session table, then what changed)
	PreCopyRounds int   // pre-copy rounds: the whole table, then one per journal of what changed since the one before
	BytesDowntime int64 // transfer bytes sent during the downtime (the journal)
	JournalTail   int64 // journal bytes the destination did not hold at the seal: what moved after it (the rest streamed during the hold)

	RecordsJournaled uint64 // records appended to the journal, seal excluded
	RecordsReplayed  uint64 // records applied on the destination
	RecordsSkipped   uint64 // records already applied, skipped by an idempotent replay
	PeakJournalBytes int64  // the most the journal held at once

	KeepalivesAnswered uint64 // peer keepalives the circuit answered during the suspension
	Retries            uint64 // chunks resent and connections resumed during transfers
	SessionsLost       int    // sessions that did not survive (a reset, a timeout, a missing state)
}

// AddJournal records what j held.
func (m *Metrics) AddJournal(j *Journal) {
	m.RecordsJournaled += j.Records()
	m.PeakJournalBytes = max(m.PeakJournalBytes, int64(j.Peak()))
}

// AddTransfer records a sender's bytes and retries, as pre-copy bytes if
// duringDowntime is false, as downtime bytes otherwise.
func (m *Metrics) AddTransfer(st TransferStats, duringDowntime bool) {
	if duringDowntime {
		m.BytesDowntime += st.Bytes
	} else {
		m.BytesPreCopy += st.Bytes
	}
	m.Retries += st.Retransmits + max(st.Connections, 1) - 1
}

// AddReplay records what a replay applied and skipped.
func (m *Metrics) AddReplay(st ReplayStats) {
	m.RecordsReplayed += st.Applied
	m.RecordsSkipped += st.Skipped
}

// BeyondHold returns Downtime less Hold: the downtime the migration
// itself added to the suspension the caller chose.
func (m Metrics) BeyondHold() time.Duration { return m.Downtime - m.Hold }

// String says what the migration cost in one paragraph: the downtime split
// into the hold and what came after it, the bytes moved before and during
// the downtime, the journal, the replay, the keepalives answered, the
// retries and the sessions lost.
func (m Metrics) String() string {
	return fmt.Sprintf("downtime %v (hold %v, then %v to seal, move and replay the journal and serve the first frame), "+
		"%v in all with the pre-copy; %d bytes moved before the suspension and %d during it "+
		"(in %d pre-copy rounds, then %d bytes of the journal after the seal); "+
		"journal of %d records (peak %d bytes), %d replayed, %d skipped as already applied; "+
		"%d keepalives answered while suspended; %d retries; %d sessions lost",
		round3(m.Downtime), round3(m.Hold), round3(m.BeyondHold()), round3(m.TotalTime), m.BytesPreCopy, m.BytesDowntime,
		m.PreCopyRounds, m.JournalTail, m.RecordsJournaled, m.PeakJournalBytes, m.RecordsReplayed, m.RecordsSkipped,
		m.KeepalivesAnswered, m.Retries, m.SessionsLost)
}

// round3 rounds d to three significant digits: a duration measured to the
// nanosecond, printed for a person.
func round3(d time.Duration) time.Duration {
	unit := time.Duration(1)
	for v := d; v >= 1000 || v <= -1000; v /= 10 {
		unit *= 10
	}
	return d.Round(unit)
}
