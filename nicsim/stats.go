package nicsim

import "github.com/ringkit/ringkit/port"

// QueueStats are the counters of one RX/TX queue pair.
type QueueStats = port.QueueStats

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

// Stats returns the port's counters, each read atomically (the set is not
// one snapshot while the NIC runs). Their String is a table.
func (p *Port) Stats() port.Stats {
	s := port.Stats{Name: p.name, LinkUp: p.LinkUp(), LinkDrops: p.linkDrops.Load(), Queues: make([]QueueStats, len(p.queues))}
	for i := range p.queues {
		s.Queues[i] = p.QueueStats(i)
		s.Total.Add(s.Queues[i])
	}
	return s
}
