package classify

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync/atomic"
)

// NumTC is the number of traffic classes.
const NumTC = 8

// TCFromDSCP as an Action's TC takes the traffic class from the packet's
// DSCP through the rule set's DSCP table.
const TCFromDSCP uint8 = 0xff

// Action is where a classified packet goes.
type Action struct {
	Port uint16 // output port
	TC   uint8  // traffic class, 0..NumTC-1, or TCFromDSCP
}

// PortRange is an inclusive range of TCP/UDP ports. The zero value matches
// any packet, with or without ports; any other range matches only TCP and
// UDP packets that carry ports (not later fragments).
type PortRange struct{ Lo, Hi uint16 }

// Any reports whether r is the zero range, matching anything.
func (r PortRange) Any() bool { return r == PortRange{} }

// Rule matches packets by 5-tuple and sends them to an Action. A zero
// field matches anything: an invalid (zero) Prefix any address of either
// family, Proto 0 any protocol, a zero PortRange any port. An exact 5-tuple
// is a rule with /32 (or /128) prefixes, single-port ranges and a Proto.
type Rule struct {
	Name     string // reported with the rule's counter; need not be unique
	Priority int    // higher is tried first; equal priorities keep list order
	Src, Dst netip.Prefix
	Proto    uint8
	SrcPorts PortRange
	DstPorts PortRange
	Action   Action
}

// RuleConfig is a whole classification policy: the rules, what happens to
// a packet no rule matches, and the DSCP to traffic class table.
type RuleConfig struct {
	Rules []Rule
	// Default is the action for packets no rule matches, including frames
	// that are not IP. Nil: they have no route and are dropped (counted).
	Default *Action
	// DSCP maps a DSCP (0..63) to a traffic class. Nil selects the
	// default table, TC = DSCP >> 3 (the class selector bits).
	DSCP *[64]uint8
}

// ErrRule is wrapped by the errors NewRuleSet returns.
var ErrRule = errors.New("classify: invalid rule")

// Rule indexes a Match returns besides the index of a rule in the list.
const (
	MatchDefault = -1 // no rule matched; the default action applies
	MatchNone    = -2 // no rule matched and there is no default: no route
)

// RuleSet is a compiled, immutable RuleConfig: rules sorted by priority
// in a flat array for a linear walk with no pointer chasing. Any number of
// classifiers may use one RuleSet at once. Its per-rule hit counters are
// shared by them (see Hits).
type RuleSet struct {
	rules  []compiledRule // by priority, highest first
	names  []string       // by rule index (list order)
	def    Action
	hasDef bool
	dscp   [64]uint8
	// hits[i] counts packets that matched rule i (list order);
	// hits[len(names)] counts packets that took the default. Classifiers
	// add their counts once per burst (see Classifier.Flush); the adds
	// publish nothing else.
	hits []atomic.Uint64
}

// compiledRule is a Rule as the walk tests it: addresses as masked 64-bit
// halves of the IPv4-mapped form (see Flow), ranges as bounds.
type compiledRule struct {
	srcHi, srcLo, srcMaskHi, srcMaskLo uint64
	dstHi, dstLo, dstMaskHi, dstMaskLo uint64
	family                             FlowKind // FlowIPv4 or FlowIPv6 when a prefix is given, else 0
	ports                              bool     // a port range is given: the packet needs ports
	proto                              uint8
	spLo, spHi, dpLo, dpHi             uint16
	act                                Action
	idx                                int32
}

// NewRuleSet checks and compiles c. An error wraps ErrRule and names the
// rule (by index and name) and the field.
func NewRuleSet(c RuleConfig) (*RuleSet, error) {
	rs := &RuleSet{
		rules: make([]compiledRule, 0, len(c.Rules)),
		names: make([]string, len(c.Rules)),
		hits:  make([]atomic.Uint64, len(c.Rules)+1),
	}
	for d := range rs.dscp {
		rs.dscp[d] = uint8(d >> 3)
	}
	if c.DSCP != nil {
		for d, tc := range c.DSCP {
			if tc >= NumTC {
				return nil, fmt.Errorf("%w: DSCP[%d]: traffic class %d (0..%d)", ErrRule, d, tc, NumTC-1)
			}
		}
		rs.dscp = *c.DSCP
	}
	if c.Default != nil {
		if err := checkAction(*c.Default); err != nil {
			return nil, fmt.Errorf("%w: Default: %v", ErrRule, err)
		}
		rs.def, rs.hasDef = *c.Default, true
	}
	for i, r := range c.Rules {
		cr, err := compile(r)
		if err != nil {
			return nil, fmt.Errorf("%w: rule %d (%q): %v", ErrRule, i, r.Name, err)
		}
		cr.idx = int32(i)
		rs.rules = append(rs.rules, cr)
		rs.names[i] = r.Name
	}
	slices.SortStableFunc(rs.rules, func(a, b compiledRule) int {
		return cmp.Compare(c.Rules[b.idx].Priority, c.Rules[a.idx].Priority)
	})
	return rs, nil
}

func checkAction(a Action) error {
	if a.TC >= NumTC && a.TC != TCFromDSCP {
		return fmt.Errorf("TC %d (0..%d, or TCFromDSCP)", a.TC, NumTC-1)
	}
	return nil
}

func compile(r Rule) (compiledRule, error) {
	var c compiledRule
	if err := checkAction(r.Action); err != nil {
		return c, err
	}
	var err error
	var fs, fd FlowKind
	if c.srcHi, c.srcLo, c.srcMaskHi, c.srcMaskLo, fs, err = compilePrefix(r.Src); err != nil {
		return c, fmt.Errorf("Src: %v", err)
	}
	if c.dstHi, c.dstLo, c.dstMaskHi, c.dstMaskLo, fd, err = compilePrefix(r.Dst); err != nil {
		return c, fmt.Errorf("Dst: %v", err)
	}
	if fs != 0 && fd != 0 && fs != fd {
		return c, fmt.Errorf("Src %v and Dst %v are of different families", r.Src, r.Dst)
	}
	c.family = fs | fd
	for _, pr := range []struct {
		name string
		r    PortRange
	}{{"SrcPorts", r.SrcPorts}, {"DstPorts", r.DstPorts}} {
		if pr.r.Lo > pr.r.Hi {
			return c, fmt.Errorf("%s: %d-%d is empty", pr.name, pr.r.Lo, pr.r.Hi)
		}
	}
	c.ports = !r.SrcPorts.Any() || !r.DstPorts.Any()
	if c.ports && r.Proto != 0 && r.Proto != ProtoTCP && r.Proto != ProtoUDP {
		return c, fmt.Errorf("port ranges with Proto %d (ports exist only for TCP and UDP)", r.Proto)
	}
	c.spLo, c.spHi = r.SrcPorts.Lo, r.SrcPorts.Hi
	c.dpLo, c.dpHi = r.DstPorts.Lo, r.DstPorts.Hi
	if r.SrcPorts.Any() {
		c.spHi = 0xffff
	}
	if r.DstPorts.Any() {
		c.dpHi = 0xffff
	}
	c.proto = r.Proto
	c.act = r.Action
	return c, nil
}

// compilePrefix returns the value and mask halves of p in the IPv4-mapped
// 128-bit form, and its family (0 for the zero Prefix: any address).
func compilePrefix(p netip.Prefix) (hi, lo, mhi, mlo uint64, fam FlowKind, err error) {
	if p == (netip.Prefix{}) {
		return 0, 0, 0, 0, 0, nil
	}
	if !p.IsValid() {
		return 0, 0, 0, 0, 0, fmt.Errorf("invalid prefix %v", p)
	}
	p = p.Masked()
	bits := p.Bits()
	fam = FlowIPv6
	if p.Addr().Is4() {
		fam = FlowIPv4
		bits += 96
	}
	a := p.Addr().As16()
	hi, lo = be64(a[0:8]), be64(a[8:16])
	if bits >= 64 {
		mhi, mlo = ^uint64(0), ^uint64(0)<<(128-bits)
		if bits == 64 {
			mlo = 0
		}
	} else {
		mhi = ^uint64(0) << (64 - bits)
		if bits == 0 {
			mhi = 0
		}
	}
	return hi & mhi, lo & mlo, mhi, mlo, fam, nil
}

func be64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}

// Match walks the rules in priority order and returns the action of the
// first that matches f, and its index in the rule list; or the default
// action and MatchDefault; or MatchNone. The TC may be TCFromDSCP (see
// Resolve).
func (rs *RuleSet) Match(f *Flow) (Action, int) {
	for i := range rs.rules {
		r := &rs.rules[i]
		if r.family != 0 && f.Kind&r.family == 0 ||
			f.SrcHi&r.srcMaskHi != r.srcHi || f.SrcLo&r.srcMaskLo != r.srcLo ||
			f.DstHi&r.dstMaskHi != r.dstHi || f.DstLo&r.dstMaskLo != r.dstLo ||
			r.proto != 0 && f.Proto != r.proto {
			continue
		}
		if r.ports && (f.Kind&FlowPorts == 0 ||
			f.SrcPort < r.spLo || f.SrcPort > r.spHi || f.DstPort < r.dpLo || f.DstPort > r.dpHi) {
			continue
		}
		return r.act, int(r.idx)
	}
	if rs.hasDef {
		return rs.def, MatchDefault
	}
	return Action{}, MatchNone
}

// Resolve returns the traffic class of action a for a packet with DSCP
// dscp: a.TC, or the DSCP table's class when a.TC is TCFromDSCP.
func (rs *RuleSet) Resolve(a Action, dscp uint8) uint8 {
	if a.TC == TCFromDSCP {
		return rs.dscp[dscp&63]
	}
	return a.TC
}

// TCForDSCP returns the DSCP table's traffic class for dscp.
func (rs *RuleSet) TCForDSCP(dscp uint8) uint8 { return rs.dscp[dscp&63] }

// Len returns the number of rules.
func (rs *RuleSet) Len() int { return len(rs.names) }

// Name returns the name of rule i (list order).
func (rs *RuleSet) Name(i int) string { return rs.names[i] }

// Hits returns how many packets matched rule i (list order), or took the
// default when i is MatchDefault, as flushed by the classifiers so far.
func (rs *RuleSet) Hits(i int) uint64 {
	if i == MatchDefault {
		i = len(rs.names)
	}
	if i < 0 || i >= len(rs.hits) {
		return 0
	}
	return rs.hits[i].Load()
}
