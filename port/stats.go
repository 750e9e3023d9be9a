package port

import (
	"fmt"
	"strings"
	"text/tabwriter"
)

// QueueStats are the counters of one RX/TX queue pair.
type QueueStats struct {
	RxPackets uint64 // frames placed into the RX ring
	RxBytes   uint64 // their bytes
	// RxMissed counts frames that arrived and found no buffer: no
	// NIC-owned descriptor (the driver fell behind or the pool ran empty),
	// a stopped queue, or, on a kernel port, the kernel's own drops for a
	// full receive ring or an empty fill ring.
	RxMissed uint64
	// RxErrors counts frames refused: too short, longer than a buffer, or
	// descriptors the kernel found invalid.
	RxErrors uint64
	// RefillFailed counts refills of the RX ring the pool could not serve.
	RefillFailed uint64
	TxPackets    uint64 // packets sent
	TxBytes      uint64 // their bytes
	TxErrors     uint64 // posted packets the port could not send: too short, too long, refused
	TxDropped    uint64 // posted packets completed unsent: the link was down
	Stopped      bool   // the queue is stopped
}

// String says what the queue pair counted in one line.
func (s QueueStats) String() string {
	stopped := ""
	if s.Stopped {
		stopped = " (stopped)"
	}
	return fmt.Sprintf("rx %d packets, %d bytes, %d missed, %d errors, %d refills failed; tx %d packets, %d bytes, "+
		"%d errors, %d dropped%s", s.RxPackets, s.RxBytes, s.RxMissed, s.RxErrors, s.RefillFailed, s.TxPackets,
		s.TxBytes, s.TxErrors, s.TxDropped, stopped)
}

// Add adds o's counters to s (Stopped is left as it is).
func (s *QueueStats) Add(o QueueStats) {
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

// Stats are a port's counters. Each counter is read atomically; the set is
// not one snapshot while the port runs.
type Stats struct {
	Name      string
	LinkUp    bool
	LinkDrops uint64       // frames that arrived while the link was down
	Queues    []QueueStats // per queue
	Total     QueueStats   // the sum over the queues
}

// String formats the counters as a table: one line per queue and a total.
func (s Stats) String() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "port %s\tqueue\trx pkts\trx bytes\trx missed\trx errors\trefill failed\ttx pkts\ttx bytes\ttx errors\ttx dropped\t\n", s.Name)
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
	tw.Flush()
	return b.String()
}
