package classify

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/internal/mem"
	"github.com/ringkit/ringkit/internal/pad"
	"github.com/ringkit/ringkit/internal/wait"
)

// Input is where a Stage takes packets from: ring.SPSC, MPSC, SPMC and
// MPMC of descriptor.Packet satisfy it.
type Input interface {
	DequeueBurst(dst []descriptor.Packet) int
}

// Output is a traffic-class ring a Stage delivers to: any ring of
// descriptor.Packet satisfies it.
type Output interface {
	EnqueueBurst(src []descriptor.Packet) int
}

// Frames resolves a packet to its frame bytes (Len bytes of its buffer);
// descriptor.Pool satisfies it.
type Frames interface {
	Bytes(p descriptor.Packet) []byte
}

// FullPolicy is what a Stage does with packets a full TC ring refuses.
type FullPolicy uint8

const (
	// DropWhenFull hands the refused packets to the drop callback with
	// DropRingFull and counts them.
	DropWhenFull FullPolicy = iota
	// BackPressure keeps the refused packets and offers them again at the
	// next Step, taking nothing from the input until every one is
	// delivered: the input ring fills and pushes back on its producers.
	BackPressure
)

// Verdicts a Stage gives besides Classify's.
const (
	DropRingFull Verdict = iota + DropNoRoute + 1 // a TC ring was full (DropWhenFull)
	DropClosed                                    // held back under BackPressure when the Stage was closed
)

// StageConfig configures a Stage.
type StageConfig struct {
	In     Input  // required
	Frames Frames // required
	// Out[port][tc] is traffic class tc's ring of output port port. A
	// packet whose action names a port beyond len(Out) has no route.
	Out   [][NumTC]Output
	Rules *RuleSet // required
	Full  FullPolicy
	// Drop receives every packet the stage does not deliver, with the
	// reason (DropMalformed, DropNoRoute, DropRingFull, DropClosed), so its
	// buffer can be freed. pkts is valid only during the call. Required:
	// no packet leaves a Stage unaccounted for.
	Drop func(reason Verdict, pkts []descriptor.Packet)
	// Burst is the most packets taken from In per Step; 0 selects 32.
	Burst int
	// CacheSize is the flow cache size (see NewClassifier).
	CacheSize int
	// MaxBytes is the most memory the Stage may take: its flow cache (64
	// bytes an entry) and its burst buffers (Burst packets for the input,
	// for each of the len(Out) × NumTC outputs and for each drop reason).
	// Zero selects DefaultMaxBytes. NewStage refuses a Stage that would
	// take more, before allocating anything: Go cannot recover from an
	// allocation the machine cannot serve.
	MaxBytes int64
	// MaxIdle is the longest sleep of Run when there is no work; 0
	// selects 100µs. Run polls without sleeping a few times first.
	MaxIdle time.Duration
}

// Stage moves packets from an input ring to the TC rings of their output
// ports: it takes a burst, classifies each packet, groups the burst by
// (port, TC) and enqueues each group as one burst, so packets of one flow
// keep their order.
//
// It runs as every long-running part of ringkit does: Run drives it on the
// caller's goroutine until its context ends or Close; Step does one round,
// for deterministic tests and for callers that poll several stages from
// one goroutine. Step and Run must not run at once. Close ends Run, waits
// for it, and hands held packets to the drop callback; it does not touch
// the input ring, so a caller that wants to drain it calls Step until it
// returns 0 before Close. SetRules and Stats may be called from any
// goroutine.
type Stage struct {
	_   pad.NoCopy
	cfg StageConfig
	cls *Classifier

	// Owned by the goroutine running Step.
	in      []descriptor.Packet   // the burst taken from In
	bufs    [][]descriptor.Packet // per output (port*NumTC + tc), cap Burst
	touched []int32               // outputs with packets in bufs
	drops   [3][]descriptor.Packet
	held    int // packets kept in bufs under BackPressure

	// newRules is stored by SetRules and swapped out by Step, which
	// applies it; the swap's acquire pairs with the store's release.
	newRules atomic.Pointer[RuleSet]

	// Counters, added by Step, read by Stats; independent statistics.
	forwarded, ringFull, noPort, closed atomic.Uint64

	stop      chan struct{} // closed by Close
	closeOnce sync.Once
	runMu     sync.Mutex // held by Run while it loops; Close takes it to wait for Run
}

// NewStage checks cfg and returns a Stage.
func NewStage(cfg StageConfig) (*Stage, error) {
	switch {
	case cfg.In == nil:
		return nil, fmt.Errorf("%w: In is nil", ErrConfig)
	case cfg.Frames == nil:
		return nil, fmt.Errorf("%w: Frames is nil", ErrConfig)
	case cfg.Drop == nil:
		return nil, fmt.Errorf("%w: Drop is nil", ErrConfig)
	case cfg.Rules == nil:
		return nil, fmt.Errorf("%w: Rules is nil", ErrConfig)
	case len(cfg.Out) == 0:
		return nil, fmt.Errorf("%w: no output port", ErrConfig)
	case cfg.Full > BackPressure:
		return nil, fmt.Errorf("%w: Full policy %d", ErrConfig, cfg.Full)
	case cfg.Burst < 0 || cfg.MaxIdle < 0:
		return nil, fmt.Errorf("%w: Burst %d, MaxIdle %v", ErrConfig, cfg.Burst, cfg.MaxIdle)
	}
	for p := range cfg.Out {
		for tc, o := range cfg.Out[p] {
			if o == nil {
				return nil, fmt.Errorf("%w: Out[%d][%d] is nil", ErrConfig, p, tc)
			}
		}
	}
	if cfg.Burst == 0 {
		cfg.Burst = 32
	}
	if cfg.MaxIdle == 0 {
		cfg.MaxIdle = 100 * time.Microsecond
	}
	switch {
	case cfg.MaxBytes == 0:
		cfg.MaxBytes = DefaultMaxBytes
	case cfg.MaxBytes < 0:
		return nil, fmt.Errorf("%w: MaxBytes %d (want 0 for the default, or a positive limit)", ErrConfig, cfg.MaxBytes)
	}
	cache, err := cacheBytes(cfg.CacheSize)
	if err != nil {
		return nil, err
	}
	var pkt descriptor.Packet
	var buf []descriptor.Packet
	outs := uint64(len(cfg.Out)) * NumTC
	bufs := mem.Size(uint64(cfg.Burst), mem.Size(1+outs+3, uint64(unsafe.Sizeof(pkt))))
	bufs = mem.Add(bufs, mem.Size(outs, uint64(unsafe.Sizeof(buf))+4))
	if err := mem.Check(ErrConfig, fmt.Sprintf("a stage of a %d-entry flow cache and bursts of %d for %d outputs", cfg.CacheSize, cfg.Burst, outs),
		mem.Add(cache, bufs), uint64(cfg.MaxBytes), "StageConfig.MaxBytes"); err != nil {
		return nil, err
	}
	cls, err := NewClassifier(cfg.Rules, cfg.CacheSize)
	if err != nil {
		return nil, err
	}
	s := &Stage{
		cfg:     cfg,
		cls:     cls,
		in:      make([]descriptor.Packet, cfg.Burst),
		bufs:    make([][]descriptor.Packet, len(cfg.Out)*NumTC),
		touched: make([]int32, 0, len(cfg.Out)*NumTC),
		stop:    make(chan struct{}),
	}
	for i := range s.bufs {
		s.bufs[i] = make([]descriptor.Packet, 0, cfg.Burst)
	}
	for i := range s.drops {
		s.drops[i] = make([]descriptor.Packet, 0, cfg.Burst)
	}
	return s, nil
}

// SetRules makes the stage use rs from its next Step on (the flow cache
// is emptied then). Safe to call from any goroutine.
func (s *Stage) SetRules(rs *RuleSet) error {
	if rs == nil {
		return ErrNoRules
	}
	s.newRules.Store(rs) // release: rs is compiled before Step sees it
	return nil
}

// Step does one round and returns the packets it moved: taken from the
// input, or, under BackPressure, held packets it delivered. 0 means there
// was nothing it could do. Step must not be called concurrently with
// itself or Run.
func (s *Stage) Step() int {
	if rs := s.newRules.Swap(nil); rs != nil { // acquire, pairs with SetRules
		_ = s.cls.SetRules(rs)
	}
	if s.held > 0 {
		before := s.held
		s.flushOutputs()
		if s.held > 0 {
			return before - s.held
		}
		return before
	}
	n := s.cfg.In.DequeueBurst(s.in)
	if n == 0 {
		return 0
	}
	for i := range s.in[:n] {
		p := &s.in[i]
		v := s.cls.Classify(s.cfg.Frames.Bytes(*p), p)
		if v == Forward && int(p.OutPort) >= len(s.cfg.Out) {
			s.noPort.Add(1)
			v = DropNoRoute
		}
		if v != Forward {
			s.drops[v-1] = append(s.drops[v-1], *p)
			continue
		}
		o := int32(int(p.OutPort)*NumTC + int(p.TC))
		if len(s.bufs[o]) == 0 {
			s.touched = append(s.touched, o)
		}
		s.bufs[o] = append(s.bufs[o], *p)
	}
	clear(s.in[:n]) // keep no stale handles
	s.cls.Flush()
	for i, d := range s.drops {
		if len(d) > 0 {
			s.cfg.Drop(Verdict(i+1), d)
			clear(d)
			s.drops[i] = d[:0]
		}
	}
	s.flushOutputs()
	return n
}

// flushOutputs offers each touched output its group; what is refused is
// dropped or held according to the policy.
func (s *Stage) flushOutputs() {
	keep := s.touched[:0]
	held := 0
	for _, o := range s.touched {
		buf := s.bufs[o]
		k := s.cfg.Out[o/NumTC][o%NumTC].EnqueueBurst(buf)
		s.forwarded.Add(uint64(k))
		if k < len(buf) && s.cfg.Full == BackPressure {
			r := copy(buf, buf[k:])
			clear(buf[r:])
			s.bufs[o] = buf[:r]
			held += r
			keep = append(keep, o)
			continue
		}
		if k < len(buf) {
			s.ringFull.Add(uint64(len(buf) - k))
			s.cfg.Drop(DropRingFull, buf[k:])
		}
		clear(buf)
		s.bufs[o] = buf[:0]
	}
	s.touched = keep
	s.held = held
}

// Run steps the stage on the caller's goroutine until ctx ends (it returns
// ctx.Err()) or Close is called (it returns nil; at once if the stage is
// closed already). When a Step finds no work it polls again a few times,
// then yields, then sleeps, doubling the sleep up to MaxIdle
// (internal/wait.Poller), so an idle stage costs almost no CPU. Run must
// not be called while another Run is running.
func (s *Stage) Run(ctx context.Context) error {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	return wait.Loop(ctx, s.stop, s.cfg.MaxIdle, func() (int, error) { return s.Step(), nil })
}

// Close stops Run, waits for it to return, and hands the packets held
// under BackPressure to the drop callback (DropClosed). It is idempotent
// and always returns nil.
func (s *Stage) Close() error {
	s.closeOnce.Do(func() { close(s.stop) })
	s.runMu.Lock() // Run has returned
	defer s.runMu.Unlock()
	for _, o := range s.touched {
		if buf := s.bufs[o]; len(buf) > 0 {
			s.closed.Add(uint64(len(buf)))
			s.cfg.Drop(DropClosed, buf)
			clear(buf)
			s.bufs[o] = buf[:0]
		}
	}
	s.touched, s.held = s.touched[:0], 0
	return nil
}

// StageStats are a Stage's counters.
type StageStats struct {
	ClassifierStats        // NoRoute includes packets routed to a port beyond Out
	Forwarded       uint64 // delivered to a TC ring
	RingFull        uint64 // dropped because a TC ring was full (DropWhenFull)
	Closed          uint64 // held back under BackPressure and dropped by Close
}

// String says where the stage's packets went in one line.
func (s StageStats) String() string {
	return fmt.Sprintf("%v; %d forwarded to a TC ring, %d dropped at a full ring, %d dropped at Close",
		s.ClassifierStats, s.Forwarded, s.RingFull, s.Closed)
}

// Stats returns the stage's counters. Safe from any goroutine; a burst's
// counts appear when the burst's Step has finished it.
func (s *Stage) Stats() StageStats {
	st := StageStats{ClassifierStats: s.cls.Stats(), Forwarded: s.forwarded.Load(), RingFull: s.ringFull.Load(), Closed: s.closed.Load()}
	st.NoRoute += s.noPort.Load()
	return st
}

// ParseStats returns the stage's malformed-frame counters by Reason.
func (s *Stage) ParseStats() *ParseStats { return s.cls.ParseStats() }

// Rules returns the RuleSet the stage uses (it changes at the Step after
// SetRules). Only the goroutine that runs Step may call it.
func (s *Stage) Rules() *RuleSet { return s.cls.Rules() }

var verdictNames = [...]string{Forward: "forward", DropMalformed: "malformed", DropNoRoute: "no route", DropRingFull: "ring full", DropClosed: "closed"}

// String names the verdict.
func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return "unknown verdict"
}
