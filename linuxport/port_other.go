//go:build !linux

package linuxport

import (
	"context"
	"fmt"
	"runtime"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/port"
)

var errNotLinux = fmt.Errorf("%w: Linux ports need Linux, not %s", ErrUnsupported, runtime.GOOS)

// unsupported is the port type of every kind outside Linux; no value of it
// is ever returned.
type unsupported struct{}

func (unsupported) Name() string                    { return "" }
func (unsupported) Queues() int                     { return 0 }
func (unsupported) RxRing(q int) *descriptor.RxRing { panic("linuxport: unsupported") }
func (unsupported) TxRing(q int) *descriptor.TxRing { panic("linuxport: unsupported") }
func (unsupported) Step() (int, error)              { return 0, errNotLinux }
func (unsupported) Run(ctx context.Context) error   { return errNotLinux }
func (unsupported) Stats() port.Stats               { return port.Stats{} }
func (unsupported) Close() error                    { return nil }

// TAP is a port on a TAP device; outside Linux there is none.
type TAP struct{ unsupported }

// OpenTAP returns an error wrapping ErrUnsupported.
func OpenTAP(name string, cfg TAPConfig) (*TAP, error) { return nil, errNotLinux }

// Packet is a port on AF_PACKET sockets; outside Linux there is none.
type Packet struct{ unsupported }

// OpenPacket returns an error wrapping ErrUnsupported.
func OpenPacket(name string, cfg PacketConfig) (*Packet, error) { return nil, errNotLinux }

// XDP is an AF_XDP port; outside Linux there is none.
type XDP struct{ unsupported }

// XDPStats are an AF_XDP socket's own counters (XDP_STATISTICS).
type XDPStats struct {
	RxDropped, RxInvalid, TxInvalid, RxRingFull, FillRingEmpty, TxRingEmpty uint64
}

// OpenXDP returns an error wrapping ErrUnsupported.
func OpenXDP(name string, cfg XDPConfig) (*XDP, error) { return nil, errNotLinux }

// Mode returns ModeAuto.
func (x *XDP) Mode() XDPMode { return ModeAuto }

// ZeroCopy reports false.
func (x *XDP) ZeroCopy() bool { return false }

// XDPStats returns zero counters.
func (x *XDP) XDPStats(q int) XDPStats { return XDPStats{} }
