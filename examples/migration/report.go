package main

import (
	"fmt"
	"io"
	"net"
	"time"

	"github.com/ringkit/ringkit/migrate"
	"github.com/ringkit/ringkit/tcpip"
)

// result is what the source saw of the migration, for its report.
type result struct {
	sessions  int // the VM's sessions, as asked
	streams   int // the sessions the peers accepted
	hold      time.Duration
	m         migrate.Metrics
	peerBytes int // the bytes the peers sent, every stream together
	peers     tcpip.StackStats
	mac       [6]byte
	link      int    // the peers' host port the VM's MAC is reached through
	announces uint64 // announcement frames the peers' host received
	lost      int    // sessions the peers saw break
	differ    int    // streams the destination read otherwise than the peers sent
}

// ok reports whether the migration lost nothing.
func (r *result) ok() bool {
	return r.lost == 0 && r.differ == 0 && r.m.SessionsLost == 0 && r.streams == r.sessions
}

// write prints the report: what moved and what it cost, the downtime
// split into the hold the user chose and what the migration added, what
// the peers saw, and the verdict.
func (r *result) write(w io.Writer) {
	m := &r.m
	fmt.Fprintf(w, "\nmigration: the VM moved to the destination with its %d sessions.\n", r.streams)
	fmt.Fprintf(w, "  %-9s %v from the VM's suspension to the destination's first frame:\n", "downtime", round3(m.Downtime))
	fmt.Fprintf(w, "  %-9s %v hold: the VM suspended by choice (-hold %v), as while the rest of a VM's memory moves;\n",
		"", round3(m.Hold), r.hold)
	fmt.Fprintf(w, "  %-9s   the circuit answered for it: %d keepalives answered, what arrived journaled and acknowledged\n",
		"", m.KeepalivesAnswered)
	fmt.Fprintf(w, "  %-9s %v beyond the hold: seal the journal, send it, replay it, serve the first frame\n",
		"", round3(m.BeyondHold()))
	fmt.Fprintf(w, "  %-9s %v with the pre-copy of the session table\n", "in all", round3(m.TotalTime))
	fmt.Fprintf(w, "  %-9s %d bytes before the suspension (the session table, while the VM ran), %d during it (the journal)\n",
		"moved", m.BytesPreCopy, m.BytesDowntime)
	fmt.Fprintf(w, "  %-9s %d records (at most %d bytes held); %d replayed on the destination, %d skipped as already applied\n",
		"journal", m.RecordsJournaled, m.PeakJournalBytes, m.RecordsReplayed, m.RecordsSkipped)
	fmt.Fprintf(w, "  %-9s %d chunks resent or connections resumed\n", "retries", m.Retries)
	fmt.Fprintf(w, "peers: %d sessions, %d bytes sent; %d keepalive probes, %d retransmissions, %d resets, %d PAWS drops; "+
		"the VM's MAC %v reached through port %d after %d announcement frames (gratuitous ARP, RARP)\n",
		r.streams, r.peerBytes, r.peers.KeepalivesSent, r.peers.Retransmits, r.peers.ResetsSent, r.peers.PAWSDropped,
		net.HardwareAddr(r.mac[:]), r.link, r.announces)
	if r.ok() {
		fmt.Fprintf(w, "result: no session lost, no stream differing: every byte the peers sent was read, in order, "+
			"by the VM on the destination.\n")
		return
	}
	fmt.Fprintf(w, "result: FAILED: %d of %d sessions up; %d sessions lost (the migration counted %d), %d streams differing.\n",
		r.streams, r.sessions, r.lost, m.SessionsLost, r.differ)
}

// round3 rounds d to three significant digits.
func round3(d time.Duration) time.Duration {
	unit := time.Duration(1)
	for v := d; v >= 1000; v /= 10 {
		unit *= 10
	}
	return d.Round(unit)
}
