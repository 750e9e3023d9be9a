package nicsim

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// QueueStats are the counters of one RX/TX queue pair.
type QueueStats struct {
	RxPackets uint64 // frames placed into the RX ring
	RxBytes   uint64 // their bytes
	// RxMissed counts frames dropped for lack of a NIC-owned descriptor (the
	// driver fell behind or the pool ran empty) or because the queue was
	// stopped.
	RxMissed uint64
	// RxErrors counts frames refused: shorter than MinFrame, longer than
	// MaxFrame or the pool's data room.
	RxErrors uint64
	// RefillFailed counts refills of the RX ring the pool could not serve.
	RefillFailed uint64
	TxPackets    uint64 // packets sent onto the wire
	TxBytes      uint64 // their bytes
	TxErrors     uint64 // posted packets too short or too long to send
	TxDropped    uint64 // posted packets completed unsent: link down
	Stopped      bool   // the queue is stopped
}

// add adds o's counters to s.
func (s *QueueStats) add(o QueueStats) {
	s.RxPackets += o.RxPackets
	s.RxBytes += o.RxBytes
	s.RxMissed += o.RxMissed
	s.RxErrors += o.RxErrors
	s.RefillFailed += o.RefillFailed
	s.TxPackets += o.TxPackets
	s.TxBytes += o.TxBytes
	s.TxErrors += o.TxErrors
	s.TxDropped += o.TxDropped
}

// QueueStats returns queue q's counters. It never allocates. It panics if
// q is out of range.
func (p *Port) QueueStats(q int) QueueStats {
	qu := &p.queues[q]
	rx := qu.rx.Load().Stats()
	return QueueStats{
		RxPackets:    qu.rxPackets.Load(),
		RxBytes:      qu.rxBytes.Load(),
		RxMissed:     qu.rxMissed.Load() + qu.ringMissed.Load() + rx.Missed,
		RxErrors:     qu.rxErrors.Load() + qu.ringErrors.Load() + rx.Errors,
		RefillFailed: qu.refillFailed.Load() + rx.RefillFailed,
		TxPackets:    qu.txPackets.Load(),
		TxBytes:      qu.txBytes.Load(),
		TxErrors:     qu.txErrors.Load(),
		TxDropped:    qu.txDropped.Load(),
		Stopped:      qu.stopped.Load(),
	}
}

// PortStats are a port's counters.
type PortStats struct {
	Port      int
	LinkUp    bool
	LinkDrops uint64       // frames that arrived while the link was down
	Queues    []QueueStats // per queue
	Total     QueueStats   // the sum over the queues
}

// Stats returns the port's counters, each read atomically (the set is not
// one snapshot while the NIC runs).
func (p *Port) Stats() PortStats {
	s := PortStats{Port: p.id, LinkUp: p.LinkUp(), LinkDrops: p.linkDrops.Load(), Queues: make([]QueueStats, len(p.queues))}
	for i := range p.queues {
		s.Queues[i] = p.QueueStats(i)
		s.Total.add(s.Queues[i])
	}
	return s
}

// WriteTable writes the counters as a table, one line per queue and a
// total.
func (s PortStats) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "port %d\tqueue\trx pkts\trx bytes\trx missed\trx errors\trefill failed\ttx pkts\ttx bytes\ttx errors\ttx dropped\t\n", s.Port)
	line := func(name string, q QueueStats) {
		fmt.Fprintf(tw, "\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", name,
			q.RxPackets, q.RxBytes, q.RxMissed, q.RxErrors, q.RefillFailed, q.TxPackets, q.TxBytes, q.TxErrors, q.TxDropped)
	}
	for i, q := range s.Queues {
		name := fmt.Sprint(i)
		if q.Stopped {
			name += " (stopped)"
		}
		line(name, q)
	}
	line("total", s.Total)
	if !s.LinkUp || s.LinkDrops != 0 {
		fmt.Fprintf(tw, "\tlink up %v, %d frames dropped while down\t\n", s.LinkUp, s.LinkDrops)
	}
	return tw.Flush()
}
