package tcpip

import (
	"fmt"
	"net/netip"
	"time"

	eth "github.com/ringkit/ringkit/frame"
)

// QEMU's self-announcement schedule after a migration (its
// announce-initial, announce-max, announce-rounds and announce-step
// defaults): five rounds, the first at once, then 50 ms later, each gap
// 100 ms longer than the one before (50, 150, 250, 350 ms), no gap above
// 550 ms.
const (
	AnnounceInitial = 50 * time.Millisecond
	AnnounceMax     = 550 * time.Millisecond
	AnnounceRounds  = 5
	AnnounceStep    = 100 * time.Millisecond
)

// AnnounceConfig is a self-announcement schedule, as QEMU's
// qemu_announce_self runs it: Rounds rounds, the first at once, the gap
// after round k (from 1) Initial + (k-1)*Step, at most Max. Zero fields
// take QEMU's defaults.
type AnnounceConfig struct {
	Initial, Max, Step time.Duration
	Rounds             int
}

// Validate reports a negative field, as AnnounceSelf does.
func (c AnnounceConfig) Validate() error {
	_, err := c.withDefaults()
	return err
}

func (c AnnounceConfig) withDefaults() (AnnounceConfig, error) {
	if c.Initial == 0 {
		c.Initial = AnnounceInitial
	}
	if c.Max == 0 {
		c.Max = AnnounceMax
	}
	if c.Step == 0 {
		c.Step = AnnounceStep
	}
	if c.Rounds == 0 {
		c.Rounds = AnnounceRounds
	}
	if c.Initial < 0 || c.Max < 0 || c.Step < 0 || c.Rounds < 0 {
		return c, fmt.Errorf("tcpip: announce schedule %+v: %w", c, ErrConfig)
	}
	return c, nil
}

// gap is the time between round k (from 1) and the next.
func (c AnnounceConfig) gap(k int) time.Duration {
	return min(c.Initial+time.Duration(k-1)*c.Step, c.Max)
}

// announcer is the schedule a stack runs after AnnounceSelf.
type announcer struct {
	cfg  AnnounceConfig
	sent int       // rounds sent
	at   time.Time // the next round; zero: none due
}

// AnnounceSelf announces the stack where it now is, as a hypervisor
// announces a VM after a migration: each round is a gratuitous ARP request
// for every address of the stack (what a guest sends when told to announce
// itself, as Linux's netdev_notify_peers) and a RARP request (QEMU's
// announce_self), all broadcast from the stack's MAC, so that the
// switches on the way learn where the MAC now is and the neighbours
// refresh their entries. The first round goes at once, the others from
// Tick on cfg's schedule. A second call starts the schedule over.
func (st *Stack) AnnounceSelf(cfg AnnounceConfig) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	st.ann = announcer{cfg: cfg}
	if cfg.Rounds > 0 {
		st.announceRound(st.cfg.Clock.Now())
	}
	return nil
}

// Announced returns the number of announcement rounds sent since the last
// AnnounceSelf.
func (st *Stack) Announced() int { return st.ann.sent }

// tickAnnounce sends the announcement round due at now, if any.
func (st *Stack) tickAnnounce(now time.Time) {
	if !st.ann.at.IsZero() && !now.Before(st.ann.at) {
		st.announceRound(now)
	}
}

func (st *Stack) announceRound(now time.Time) {
	for _, p := range st.cfg.Addrs {
		st.sendARP(eth.ARPRequest, broadcastMAC, p.Addr(), [6]byte{}, p.Addr())
	}
	rarp := eth.ARP{Op: eth.RARPRequest, SenderMAC: st.cfg.MAC, SenderIP: netip.IPv4Unspecified(),
		TargetMAC: st.cfg.MAC, TargetIP: netip.IPv4Unspecified()}
	st.sendLink(broadcastMAC, eth.EtherTypeRARP, &rarp)
	a := &st.ann
	a.sent++
	a.at = time.Time{}
	if a.sent < a.cfg.Rounds {
		a.at = now.Add(a.cfg.gap(a.sent))
	}
}
