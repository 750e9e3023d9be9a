package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringkit/ringkit/examples/internal/exporter"
	"github.com/ringkit/ringkit/migrate"
	"github.com/ringkit/ringkit/nicsim"
	"github.com/ringkit/ringkit/tcpip"
)

var httpAddr = flag.String("http", "", "serve Prometheus metrics at http://`ADDR`/metrics and Go profiles at /debug/pprof/ (the source's), during the run and after the report until Ctrl-C")

// watch is what the source exports at -http: the circuit and its journal,
// the peers' stack and streams, every NIC port's counters, and, once the
// migration is over, its metrics. Each part is read as its owner allows:
// the circuit and the NICs from any goroutine, the peers' stack only on
// its host's goroutine (peersPolled copies its counters there).
type watch struct {
	circuit *migrate.Circuit
	nics    map[string]*nicsim.NIC
	streams func() (sessions int, bytes uint64) // the peers' streams, under their lock
	phase   atomic.Uint32                       // a migrate.Phase; 0 before the migration

	mu    sync.Mutex
	peers tcpip.StackStats
	m     *migrate.Metrics // set when Migrate returns
}

// peersPolled takes the peers' stack counters; call it on the peers'
// host goroutine.
func (w *watch) peersPolled(st tcpip.StackStats) {
	w.mu.Lock()
	w.peers = st
	w.mu.Unlock()
}

func (w *watch) migrated(m migrate.Metrics) {
	w.mu.Lock()
	w.m = &m
	w.mu.Unlock()
}

const ns = "ringkit_migration_"

var (
	descPhase     = prometheus.NewDesc(ns+"phase_info", "The migration's phase as the source sees it, as a label (running before it starts).", []string{"phase"}, nil)
	descDowntime  = prometheus.NewDesc(ns+"downtime_seconds", "From the VM's suspension to the destination's first frame (0 until the migration ends).", nil, nil)
	descHold      = prometheus.NewDesc(ns+"hold_seconds", "The part of the downtime the VM stayed suspended by choice (-hold).", nil, nil)
	descTotal     = prometheus.NewDesc(ns+"total_seconds", "From the start of the pre-copy to the destination's first frame.", nil, nil)
	descMoved     = prometheus.NewDesc(ns+"transferred_bytes_total", "Bytes sent to the destination, before the suspension (pre_copy) and during it (downtime).", []string{"phase"}, nil)
	descRecords   = prometheus.NewDesc(ns+"journal_records_total", "Records journaled during the suspension, the seal excluded.", nil, nil)
	descReplayed  = prometheus.NewDesc(ns+"replayed_records_total", "Journal records the destination applied, and skipped as already applied.", []string{"result"}, nil)
	descRetries   = prometheus.NewDesc(ns+"retries_total", "Transfer chunks resent and connections resumed.", nil, nil)
	descJournal   = prometheus.NewDesc(ns+"journal_bytes", "Bytes the journal holds now (appended, not yet sent).", nil, nil)
	descJournalCp = prometheus.NewDesc(ns+"journal_capacity_bytes", "The journal's capacity.", nil, nil)
	descKeepalive = prometheus.NewDesc(ns+"keepalives_answered_total", "Peer keepalives the circuit answered while the VM was suspended.", nil, nil)
	descCktDrop   = prometheus.NewDesc(ns+"circuit_dropped_frames_total", "Frames for the VM dropped while nobody answered for it.", nil, nil)
	descLost      = prometheus.NewDesc(ns+"sessions_lost", "Sessions that did not survive the migration.", nil, nil)
	descSessions  = prometheus.NewDesc(ns+"peer_sessions", "Sessions the peers accepted from the VM.", nil, nil)
	descStream    = prometheus.NewDesc(ns+"peer_stream_bytes_total", "Bytes the peers sent on their streams to the VM.", nil, nil)
	descSegments  = prometheus.NewDesc(ns+"peer_segments_total", "TCP segments of the peers' stack, by direction.", []string{"direction"}, nil)
	descPeerEvt   = prometheus.NewDesc(ns+"peer_events_total", "What the peers' TCP stack had to do: retransmissions, keepalive probes, resets sent, PAWS drops.", []string{"event"}, nil)
	descNICFrames = prometheus.NewDesc("ringkit_nic_frames_total", "Frames an in-memory NIC port received (rx) and sent (tx).", []string{"nic", "port", "direction"}, nil)
	descNICBytes  = prometheus.NewDesc("ringkit_nic_bytes_total", "Bytes an in-memory NIC port received (rx) and sent (tx).", []string{"nic", "port", "direction"}, nil)
	descNICDrops  = prometheus.NewDesc("ringkit_nic_dropped_frames_total", "Frames an in-memory NIC port dropped, by reason.", []string{"nic", "port", "reason"}, nil)
)

// Describe sends every metric's description.
func (w *watch) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPhase, descDowntime, descHold, descTotal, descMoved, descRecords, descReplayed,
		descRetries, descJournal, descJournalCp, descKeepalive, descCktDrop, descLost, descSessions, descStream,
		descSegments, descPeerEvt, descNICFrames, descNICBytes, descNICDrops} {
		ch <- d
	}
}

// Collect reads the counters and sends them.
func (w *watch) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	phase := "running"
	if p := migrate.Phase(w.phase.Load()); p != 0 {
		phase = p.String()
	}
	gauge(descPhase, 1, phase)

	w.mu.Lock()
	peers := w.peers
	var m migrate.Metrics
	if w.m != nil {
		m = *w.m
	}
	w.mu.Unlock()
	cs := w.circuit.Stats()
	if j := w.circuit.Journal(); j != nil {
		gauge(descJournal, float64(j.Used()))
		gauge(descJournalCp, float64(j.Cap()))
		m.RecordsJournaled = max(m.RecordsJournaled, j.Records())
	}
	gauge(descDowntime, m.Downtime.Seconds())
	gauge(descHold, m.Hold.Seconds())
	gauge(descTotal, m.TotalTime.Seconds())
	counter(descMoved, uint64(m.BytesPreCopy), "pre_copy")
	counter(descMoved, uint64(m.BytesDowntime), "downtime")
	counter(descRecords, m.RecordsJournaled)
	counter(descReplayed, m.RecordsReplayed, "applied")
	counter(descReplayed, m.RecordsSkipped, "skipped")
	counter(descRetries, m.Retries)
	counter(descKeepalive, cs.Stack.KeepalivesAnswered)
	counter(descCktDrop, cs.Dropped)
	gauge(descLost, float64(max(m.SessionsLost, cs.Lost)))

	sessions, bytes := w.streams()
	gauge(descSessions, float64(sessions))
	counter(descStream, bytes)
	counter(descSegments, peers.SegmentsIn, "in")
	counter(descSegments, peers.SegmentsOut, "out")
	counter(descPeerEvt, peers.Retransmits, "retransmission")
	counter(descPeerEvt, peers.KeepalivesSent, "keepalive_probe")
	counter(descPeerEvt, peers.ResetsSent, "reset_sent")
	counter(descPeerEvt, peers.PAWSDropped, "paws_drop")

	for name, n := range w.nics {
		for i := range n.Ports() {
			st := n.Port(i).Stats()
			port := fmt.Sprint(i)
			t := st.Total
			counter(descNICFrames, t.RxPackets, name, port, "rx")
			counter(descNICFrames, t.TxPackets, name, port, "tx")
			counter(descNICBytes, t.RxBytes, name, port, "rx")
			counter(descNICBytes, t.TxBytes, name, port, "tx")
			counter(descNICDrops, t.RxMissed, name, port, "rx_missed")
			counter(descNICDrops, t.RxErrors, name, port, "rx_errors")
			counter(descNICDrops, t.TxErrors, name, port, "tx_errors")
			counter(descNICDrops, t.TxDropped, name, port, "tx_link_down")
			counter(descNICDrops, st.LinkDrops, name, port, "rx_link_down")
		}
	}
}

// serveMetrics starts the -http endpoint for w, if asked, and says where
// it is on out. wait, called once the report is out, keeps the endpoint
// up until an interrupt; stop closes it (and may be called again).
func serveMetrics(w *watch, out io.Writer) (wait, stop func(), err error) {
	if *httpAddr == "" {
		return func() {}, func() {}, nil
	}
	reg, err := exporter.NewRegistry(w)
	if err != nil {
		return nil, nil, err
	}
	srv, err := exporter.Serve(*httpAddr, reg)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(out, "metrics at http://%[1]s/metrics, Go profiles at http://%[1]s/debug/pprof/\n", srv.Addr())
	stop = sync.OnceFunc(func() { _ = srv.Close() })
	wait = func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(sig)
		fmt.Fprintf(out, "metrics: still at http://%s/metrics with the final counts; Ctrl-C to exit\n", srv.Addr())
		<-sig
		stop()
	}
	return wait, stop, nil
}
