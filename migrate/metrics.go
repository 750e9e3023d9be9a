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

// String is the metrics as one line a person reads. It has a value
// receiver, so a Metrics prints the same by value or by pointer.
func (m Metrics) String() string {
	return fmt.Sprintf("downtime %v total %v; bytes pre-copy %d (%d rounds) downtime %d (%d after the seal); journal %d records peak %d bytes; "+
		"replayed %d skipped %d; keepalives %d; retries %d; sessions lost %d",
		m.Downtime, m.TotalTime, m.BytesPreCopy, m.PreCopyRounds, m.BytesDowntime, m.JournalTail, m.RecordsJournaled, m.PeakJournalBytes,
		m.RecordsReplayed, m.RecordsSkipped, m.KeepalivesAnswered, m.Retries, m.SessionsLost)
}
