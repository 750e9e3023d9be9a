package main

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringkit/ringkit/pipeline"
)

// collector exports a pipeline's counters to Prometheus, read at each
// scrape from Snapshot and Latency: the same figures the report adds up,
// so a scrape taken after the run matches the report exactly. Names and
// units follow Prometheus's conventions: counters end in _total, times
// are in seconds, sizes in bytes, shares are ratios from 0 to 1.
type collector struct {
	p   *pipeline.Pipeline
	cfg pipeline.Config

	stages      []stageDesc
	sinkBytes   *prometheus.Desc
	dropped     *prometheus.Desc
	unattrib    *prometheus.Desc
	inFlight    *prometheus.Desc
	offered     *prometheus.Desc
	portRate    *prometheus.Desc
	classFrames *prometheus.Desc
	classBytes  *prometheus.Desc
	classShare  *prometheus.Desc
	classConf   *prometheus.Desc
	queue       *prometheus.Desc
	queueCap    *prometheus.Desc
	offQueue    *prometheus.Desc
	offQueueCap *prometheus.Desc
	latency     *prometheus.Desc
	migration   *prometheus.Desc
}

// stageDesc is one stage's frame counter and where Snapshot keeps it.
type stageDesc struct {
	desc *prometheus.Desc
	get  func(*pipeline.Snapshot) uint64
}

const ns = "ringkit_pipeline_"

func newCollector(p *pipeline.Pipeline) *collector {
	c := &collector{p: p, cfg: p.Config()}
	class := []string{"port", "class", "tc"}
	for _, s := range []struct {
		name, help string
		get        func(*pipeline.Snapshot) uint64
	}{
		{"generated", "Frames offered to the ingress port.", func(s *pipeline.Snapshot) uint64 { return s.Generated }},
		{"received", "Frames the NIC placed into the RX rings.", func(s *pipeline.Snapshot) uint64 { return s.Received }},
		{"classified", "Frames the classifier took from the RX rings.", func(s *pipeline.Snapshot) uint64 { return s.Classified }},
		{"offloaded", "Frames whose checksums the co-processor computed (or failed).", func(s *pipeline.Snapshot) uint64 { return s.Offloaded }},
		{"scheduled", "Frames the schedulers sent from the traffic-class rings.", func(s *pipeline.Snapshot) uint64 { return s.Scheduled }},
		{"transmitted", "Frames the NIC put on the wire.", func(s *pipeline.Snapshot) uint64 { return s.Transmitted }},
		{"delivered", "Frames received at the sink with good checksums.", func(s *pipeline.Snapshot) uint64 { return s.Delivered }},
		{"verified", "Frames whose checksums the sink checked.", func(s *pipeline.Snapshot) uint64 { return s.Verified }},
	} {
		c.stages = append(c.stages, stageDesc{prometheus.NewDesc(ns+s.name+"_frames_total", s.help, nil, nil), s.get})
	}
	c.sinkBytes = prometheus.NewDesc(ns+"delivered_bytes_total", "Bytes of the frames delivered to the sink.", nil, nil)
	c.dropped = prometheus.NewDesc(ns+"dropped_frames_total",
		"Frames dropped, by reason and cause (shaping is by design: a class over its port's rate or its share; "+
			"overload is a stage that could not keep up).", []string{"reason", "cause"}, nil)
	c.unattrib = prometheus.NewDesc(ns+"dropped_unattributed_frames",
		"Tail drops not yet attributed to shaping or overload (each is within 10ms of its drop).", []string{"reason"}, nil)
	c.inFlight = prometheus.NewDesc(ns+"in_flight_frames", "Frames generated and neither delivered nor dropped yet.", nil, nil)
	c.offered = prometheus.NewDesc(ns+"offered_frames_per_second", "The configured traffic rate (0: as fast as the pipeline takes it).", nil, nil)
	c.portRate = prometheus.NewDesc(ns+"port_rate_bytes_per_second", "An output port's configured rate in wire bytes per second.", []string{"port"}, nil)
	c.classFrames = prometheus.NewDesc(ns+"class_sent_frames_total", "Frames a traffic class's scheduler sent.", class, nil)
	c.classBytes = prometheus.NewDesc(ns+"class_sent_bytes_total", "Wire bytes a traffic class's scheduler sent, 24 bytes of framing a frame included.", class, nil)
	c.classShare = prometheus.NewDesc(ns+"class_share_ratio", "A class's share of its port's wire bytes over the scheduler's stats window.", class, nil)
	c.classConf = prometheus.NewDesc(ns+"class_configured_share_ratio", "A class's configured share of its port, as if every class were backlogged.", class, nil)
	c.queue = prometheus.NewDesc(ns+"class_queue_frames", "Frames waiting in a traffic class's ring.", class, nil)
	c.queueCap = prometheus.NewDesc(ns+"class_queue_capacity_frames", "A traffic class's ring capacity.", class, nil)
	c.offQueue = prometheus.NewDesc(ns+"offload_queue_jobs", "Jobs in the co-processor's job ring, submitted and not yet retired.", nil, nil)
	c.offQueueCap = prometheus.NewDesc(ns+"offload_queue_capacity_jobs", "Slots of the co-processor's job ring.", nil, nil)
	c.latency = prometheus.NewDesc(ns+"latency_seconds", "From the driver's receive of a packet to its post on a TX ring.", nil, nil)
	c.migration = prometheus.NewDesc(ns+"migration_info", "The live migration's phase, as a label.", []string{"phase"}, nil)
	return c
}

// Describe sends every metric's description.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, s := range c.stages {
		ch <- s.desc
	}
	for _, d := range []*prometheus.Desc{c.sinkBytes, c.dropped, c.unattrib, c.inFlight, c.offered, c.portRate,
		c.classFrames, c.classBytes, c.classShare, c.classConf, c.queue, c.queueCap, c.offQueue, c.offQueueCap,
		c.latency, c.migration} {
		ch <- d
	}
}

// Collect reads the pipeline's counters once and sends them.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.p.Snapshot()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, st := range c.stages {
		counter(st.desc, st.get(&s))
	}
	counter(c.sinkBytes, s.SinkBytes)
	for _, d := range s.Drops {
		if d.Cause == pipeline.CausePending {
			// Not a counter: the count falls as the drops are attributed.
			gauge(c.unattrib, float64(d.Packets), d.Name)
			continue
		}
		counter(c.dropped, d.Packets, d.Name, d.Cause)
	}
	gauge(c.inFlight, float64(s.InFlight))
	gauge(c.offered, c.cfg.Traffic.Rate)
	for i, ps := range s.Ports {
		gauge(c.portRate, c.cfg.PortRate(i)/8, ps.Name)
		conf := c.cfg.ConfiguredShares(i)
		for j, tc := range ps.TCs {
			l := []string{ps.Name, tc.Name, strconv.Itoa(tc.TC)}
			counter(c.classFrames, tc.Packets, l...)
			counter(c.classBytes, tc.WireBytes, l...)
			gauge(c.classShare, tc.Share, l...)
			gauge(c.classConf, conf[j], l...)
			gauge(c.queue, float64(tc.Queued), l...)
			gauge(c.queueCap, float64(tc.RingSize), l...)
		}
	}
	if c.cfg.Offload != nil {
		gauge(c.offQueue, float64(s.OffloadQueued))
		gauge(c.offQueueCap, float64(s.OffloadSlots))
	}
	h := c.p.Latency()
	buckets := make(map[float64]uint64, len(h.Buckets))
	for _, b := range h.Buckets {
		buckets[b.Le.Seconds()] = b.Count
	}
	ch <- prometheus.MustNewConstHistogram(c.latency, h.Count, h.Sum.Seconds(), buckets)
	gauge(c.migration, 1, s.Migration)
}
