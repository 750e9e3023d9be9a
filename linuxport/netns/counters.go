package netns

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Counters are a namespace's protocol counters as the kernel keeps them in
// /proc/net/snmp and /proc/net/netstat, named as nstat names them: the
// table's prefix and the counter's name run together ("TcpRetransSegs",
// "TcpExtTCPAbortOnData"). A counter the kernel does not keep is absent
// (reads as 0).
type Counters map[string]int64

// MaxCounters bounds the counters ParseCounters takes from one input, so
// that a corrupt file cannot make it allocate without bound.
const MaxCounters = 4096

// ParseCounters adds to c the counters of an snmp or netstat file read
// from r: pairs of lines, a header ("Tcp: RtoAlgorithm RtoMin …") and its
// values ("Tcp: 1 200 …"), each pair with one prefix and as many values as
// names. A line out of pairs, a prefix that differs within a pair, a count
// that differs, a value that is not a decimal integer or more than
// MaxCounters counters is an error naming the line.
func ParseCounters(r io.Reader, c Counters) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		header := sc.Text()
		if strings.TrimSpace(header) == "" {
			continue
		}
		if !sc.Scan() {
			return fmt.Errorf("netns: counters line %d: header %.20q without values", line, header)
		}
		line++
		names, values := strings.Fields(header), strings.Fields(sc.Text())
		if len(names) == 0 || len(values) == 0 || !strings.HasSuffix(names[0], ":") || names[0] != values[0] {
			return fmt.Errorf("netns: counters line %d: prefix %.20q after header %.20q", line, sc.Text(), header)
		}
		if len(names) != len(values) {
			return fmt.Errorf("netns: counters line %d: %d values for %d names of %s", line, len(values)-1, len(names)-1, names[0])
		}
		prefix := strings.TrimSuffix(names[0], ":")
		for i := 1; i < len(names); i++ {
			v, err := strconv.ParseInt(values[i], 10, 64)
			if err != nil {
				return fmt.Errorf("netns: counters line %d: %s%s: %w", line, prefix, names[i], err)
			}
			if len(c) >= MaxCounters {
				return fmt.Errorf("netns: counters line %d: more than %d counters", line, MaxCounters)
			}
			c[prefix+names[i]] = v
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("netns: counters line %d: %w", line+1, err)
	}
	return nil
}

// Sub returns the change from old to c: each counter of c less its value
// in old.
func (c Counters) Sub(old Counters) Counters {
	d := make(Counters, len(c))
	for k, v := range c {
		d[k] = v - old[k]
	}
	return d
}

// TCP is the part of Counters that says how a namespace's TCP
// connections fared: what a peer that lost nothing shows as zero
// (aborts, resets, PAWS rejects, errors) and what it may show when frames
// were lost or late (retransmissions, timeouts).
type TCP struct {
	ActiveOpens, PassiveOpens int64 // connections dialed and accepted
	InSegs, OutSegs           int64
	RetransSegs               int64 // segments sent again, for any reason
	Timeouts                  int64 // TcpExtTCPTimeouts: retransmission timer expiries
	LossProbes                int64 // TcpExtTCPLossProbes: tail loss probes sent
	FastRetrans               int64 // TcpExtTCPFastRetrans
	// Aborts sums TcpExtTCPAbortOn{Data,Close,Memory,Timeout,Linger} and
	// TcpExtTCPAbortFailed: connections the kernel ended with a reset or
	// gave up on.
	Aborts       int64
	EstabResets  int64 // TcpEstabResets: established connections reset
	AttemptFails int64 // TcpAttemptFails: connection attempts that failed
	// OutRsts counts the segments sent with RST, for any reason: those
	// that end a connection (counted above too) and those that answer a
	// segment for a connection the kernel has already forgotten, which end
	// nothing (a peer in TIME_WAIT acknowledging a FIN retransmitted to it
	// after its first acknowledgement had closed the kernel's side).
	OutRsts int64
	// PAWS sums TcpExtPAWSActive, PAWSEstab and PAWSOldAck: segments
	// dropped because their timestamp went backwards (RFC 7323).
	PAWS      int64
	InErrs    int64 // TcpInErrs: segments received in error (bad checksum included)
	WinProbes int64 // TcpExtTCPWinProbe: zero-window probes sent
	OFOQueue  int64 // TcpExtTCPOFOQueue: segments queued out of order
}

// TCP returns the TCP counters of c.
func (c Counters) TCP() TCP {
	return TCP{
		ActiveOpens: c["TcpActiveOpens"], PassiveOpens: c["TcpPassiveOpens"],
		InSegs: c["TcpInSegs"], OutSegs: c["TcpOutSegs"], RetransSegs: c["TcpRetransSegs"],
		Timeouts: c["TcpExtTCPTimeouts"], LossProbes: c["TcpExtTCPLossProbes"], FastRetrans: c["TcpExtTCPFastRetrans"],
		Aborts: c["TcpExtTCPAbortOnData"] + c["TcpExtTCPAbortOnClose"] + c["TcpExtTCPAbortOnMemory"] +
			c["TcpExtTCPAbortOnTimeout"] + c["TcpExtTCPAbortOnLinger"] + c["TcpExtTCPAbortFailed"],
		EstabResets: c["TcpEstabResets"], AttemptFails: c["TcpAttemptFails"], OutRsts: c["TcpOutRsts"],
		PAWS:   c["TcpExtPAWSActive"] + c["TcpExtPAWSEstab"] + c["TcpExtPAWSOldAck"],
		InErrs: c["TcpInErrs"], WinProbes: c["TcpExtTCPWinProbe"], OFOQueue: c["TcpExtTCPOFOQueue"],
	}
}

// Clean reports whether the counters show no connection aborted, reset
// or failed, no PAWS reject and no segment in error. Resets sent to
// connections already gone (OutRsts alone) end nothing, and count for
// nothing here.
func (t TCP) Clean() bool {
	return t.Aborts == 0 && t.EstabResets == 0 && t.AttemptFails == 0 && t.PAWS == 0 && t.InErrs == 0
}

func (t TCP) String() string {
	return fmt.Sprintf("%d opened (%d active, %d passive), %d segments in, %d out, %d retransmitted "+
		"(%d timeouts, %d loss probes, %d fast retransmits), %d zero-window probes, %d queued out of order; "+
		"%d aborts, %d resets of established connections, %d failed attempts, %d RSTs sent, %d PAWS rejects, %d segments in error",
		t.ActiveOpens+t.PassiveOpens, t.ActiveOpens, t.PassiveOpens, t.InSegs, t.OutSegs, t.RetransSegs,
		t.Timeouts, t.LossProbes, t.FastRetrans, t.WinProbes, t.OFOQueue,
		t.Aborts, t.EstabResets, t.AttemptFails, t.OutRsts, t.PAWS, t.InErrs)
}
