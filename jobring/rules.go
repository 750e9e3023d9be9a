package jobring

import (
	"fmt"
	"strings"
)

// Rules decide which worker may take which job. They are plain data: a ring
// compiles them once (Compile) into a Policy whose Decide is what every
// worker evaluates, without allocating, for every slot it looks at.
//
// The rules, in the order Decide applies them:
//
//  1. Capability: a worker takes the kinds in its KindSet. A kind with a
//     Fallback may also go to a core that lacks it, when the kind is
//     saturated (its backlog of waiting jobs has reached the threshold) or
//     no live worker holds the kind at all; and, with Fallback.Retry, a job
//     whose Do failed on a co-processor goes to a core only.
//  2. Affinity: for a kind with Affinity set, a job of flow f goes only to
//     the worker at index f mod n among the n live workers holding the
//     kind (a job taken through a fallback ignores affinity).
//  3. Ordering: an Atomic job waits while another worker holds its flow.
//  4. Priority: with Priority set, a worker that sees several jobs it may
//     take claims Parallel jobs of higher priority first; jobs of equal
//     priority, and Ordered and Atomic jobs, in submission order.
type Rules struct {
	// Kinds describes each kind; a kind without an entry is Parallel, with
	// no affinity and no name.
	Kinds []KindRule
	// Fallbacks lists the kinds a core may take from the co-processors.
	Fallbacks []Fallback
	// Priority lets Parallel jobs of higher Task.Priority overtake others.
	Priority bool
}

// KindRule is how one kind is scheduled.
type KindRule struct {
	Kind     Kind
	Name     string // shown by String and in Stats
	Order    Order
	Affinity bool // flow hash modulo the number of live workers holding the kind
}

// Fallback lets a core take jobs of Kind, which it does not hold, once at
// least Threshold jobs of that kind are waiting to be claimed (the workers
// holding the kind are saturated), or when no live worker holds it. A
// Threshold of 0 or less means "never because of the backlog, only when no
// holder is left"; a Threshold above the ring's slot count could never be
// reached, and New refuses it.
type Fallback struct {
	Kind      Kind
	Threshold int
	// Retry gives a job of Kind whose Do returns an error on a
	// co-processor a second run, on a core: the job goes back to the ring
	// marked for the cores, which take it whatever the backlog and the
	// affinity, and its completion is the core's. It is opt-in because Do
	// then runs twice. The job is retried once, and only while a live core
	// exists (else the co-processor's error is final); a co-processor
	// never takes it again. A retried Atomic job keeps its flow exclusive
	// when it runs again, but later jobs of its flow may have started
	// meanwhile.
	Retry bool
}

// Seat is what the rules know of a worker.
type Seat struct {
	Class Class
	Kinds KindSet
}

// View is what the rules know of the ring at the moment a worker looks at
// one job of kind k and flow f.
type View struct {
	// AffIndex and AffCount place the worker among the live workers that
	// hold k: it is number AffIndex of AffCount (AffIndex < 0 if it does
	// not hold k).
	AffIndex, AffCount int
	// Backlog is the number of jobs of kind k waiting to be claimed. It is
	// only counted, and only consulted, for kinds with a Fallback.
	Backlog int
	// Holders is the number of live workers holding k.
	Holders int
	// FlowBusy is set when another worker holds flow f.
	FlowBusy bool
	// Retry is set for a job a co-processor failed and handed back for a
	// core (Fallback.Retry).
	Retry bool
}

// Decision is the verdict of the rules on one worker and one job.
type Decision uint8

const (
	// Take: the worker may claim the job.
	Take Decision = iota
	// NoCapability: the worker cannot run the kind, and no fallback lets it.
	NoCapability
	// NotSaturated: a fallback would let this core take the kind, but the
	// kind's backlog is below the threshold.
	NotSaturated
	// OtherAffinity: the job's flow belongs to another worker of the kind.
	OtherAffinity
	// FlowBusy: the job is Atomic and another worker holds its flow.
	FlowBusy
)

// String names d.
func (d Decision) String() string {
	switch d {
	case Take:
		return "take"
	case NoCapability:
		return "no-capability"
	case NotSaturated:
		return "not-saturated"
	case OtherAffinity:
		return "other-affinity"
	case FlowBusy:
		return "flow-busy"
	}
	return fmt.Sprintf("Decision(%d)", uint8(d))
}

// Lasting reports whether d stays true for as long as the set of live
// workers stays the same: a worker need not look at such a job again
// until a worker stops or a fallback threshold is crossed. FlowBusy passes
// as soon as the flow is released.
func (d Decision) Lasting() bool { return d != Take && d != FlowBusy }

// kindPolicy is the compiled form of one kind's rules.
type kindPolicy struct {
	order     Order
	affinity  bool
	fallback  bool
	retry     bool
	threshold int
	name      string
}

// Policy is a compiled, immutable Rules. It is safe for concurrent use.
type Policy struct {
	rules    Rules
	kinds    [MaxKinds]kindPolicy
	priority bool
}

// Compile checks r and returns its Policy. Kinds must be below MaxKinds and
// appear at most once in Kinds and once in Fallbacks.
func Compile(r Rules) (*Policy, error) {
	p := &Policy{priority: r.Priority}
	p.rules = Rules{
		Kinds:     append([]KindRule(nil), r.Kinds...),
		Fallbacks: append([]Fallback(nil), r.Fallbacks...),
		Priority:  r.Priority,
	}
	var seen, seenFB KindSet
	for i, kr := range r.Kinds {
		if kr.Kind >= MaxKinds {
			return nil, fmt.Errorf("%w: Kinds[%d]: kind %d (want < %d)", ErrRules, i, kr.Kind, MaxKinds)
		}
		if kr.Order > Atomic {
			return nil, fmt.Errorf("%w: Kinds[%d]: %v", ErrRules, i, kr.Order)
		}
		if seen.Has(kr.Kind) {
			return nil, fmt.Errorf("%w: Kinds[%d]: kind %d described twice", ErrRules, i, kr.Kind)
		}
		seen |= Kinds(kr.Kind)
		kp := &p.kinds[kr.Kind]
		kp.order, kp.affinity, kp.name = kr.Order, kr.Affinity, kr.Name
	}
	for i, fb := range r.Fallbacks {
		if fb.Kind >= MaxKinds {
			return nil, fmt.Errorf("%w: Fallbacks[%d]: kind %d (want < %d)", ErrRules, i, fb.Kind, MaxKinds)
		}
		if seenFB.Has(fb.Kind) {
			return nil, fmt.Errorf("%w: Fallbacks[%d]: kind %d has two fallbacks", ErrRules, i, fb.Kind)
		}
		seenFB |= Kinds(fb.Kind)
		p.kinds[fb.Kind].fallback = true
		p.kinds[fb.Kind].threshold = fb.Threshold
		p.kinds[fb.Kind].retry = fb.Retry
	}
	return p, nil
}

// Rules returns a copy of the rules p was compiled from.
func (p *Policy) Rules() Rules {
	return Rules{
		Kinds:     append([]KindRule(nil), p.rules.Kinds...),
		Fallbacks: append([]Fallback(nil), p.rules.Fallbacks...),
		Priority:  p.rules.Priority,
	}
}

// Order returns the ordering type of k.
func (p *Policy) Order(k Kind) Order {
	if k >= MaxKinds {
		return Parallel
	}
	return p.kinds[k].order
}

// Name returns the name given to k, or "kind<k>".
func (p *Policy) Name(k Kind) string {
	if k < MaxKinds && p.kinds[k].name != "" {
		return p.kinds[k].name
	}
	return fmt.Sprintf("kind%d", k)
}

// counted reports whether the backlog of k must be counted (k has a
// fallback).
func (p *Policy) counted(k Kind) bool { return k < MaxKinds && p.kinds[k].fallback }

// CanEverTake reports whether a worker in seat s could take some job of kind
// k while holders live workers hold k: through its capability, or through a
// fallback (assuming the backlog can reach the threshold).
func (p *Policy) CanEverTake(s Seat, k Kind, holders int) bool {
	if k >= MaxKinds {
		return false
	}
	if s.Kinds.Has(k) {
		return true
	}
	kp := &p.kinds[k]
	return s.Class == Core && kp.fallback && (kp.threshold > 0 || holders == 0)
}

// Decide applies the rules to a worker in seat s looking at a job of kind k
// and flow f, given the ring's view v. It does not allocate.
func (p *Policy) Decide(s Seat, k Kind, flow uint32, v View) Decision {
	if k >= MaxKinds {
		return NoCapability
	}
	kp := &p.kinds[k]
	if v.Retry {
		// A job a co-processor failed goes to a core only, whatever the
		// backlog and the affinity.
		if s.Class != Core || !kp.retry {
			return NoCapability
		}
	} else if !s.Kinds.Has(k) {
		if s.Class != Core || !kp.fallback {
			return NoCapability
		}
		if v.Holders > 0 && (kp.threshold <= 0 || v.Backlog < kp.threshold) {
			return NotSaturated
		}
	} else if kp.affinity && v.AffCount > 0 && int(flow%uint32(v.AffCount)) != v.AffIndex {
		return OtherAffinity
	}
	if kp.order == Atomic && v.FlowBusy {
		return FlowBusy
	}
	return Take
}

// String prints the rules, one clause per kind.
func (r Rules) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "rules{priority=%t", r.Priority)
	for _, kr := range r.Kinds {
		fmt.Fprintf(&b, "; kind %d", kr.Kind)
		if kr.Name != "" {
			fmt.Fprintf(&b, " %q", kr.Name)
		}
		fmt.Fprintf(&b, ": %v", kr.Order)
		if kr.Affinity {
			b.WriteString(", affinity flow%holders")
		}
	}
	for _, fb := range r.Fallbacks {
		fmt.Fprintf(&b, "; fallback kind %d to cores at backlog>=%d or no holder", fb.Kind, fb.Threshold)
		if fb.Retry {
			b.WriteString(", retry on a core after a co-processor's error")
		}
	}
	b.WriteByte('}')
	return b.String()
}

// String prints the rules p was compiled from.
func (p *Policy) String() string { return p.rules.String() }
