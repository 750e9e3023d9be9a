//go:build !linux

package netns

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"time"
)

// NS is a network namespace; outside Linux there is none.
type NS struct{}

var errNotLinux = fmt.Errorf("%w: network namespaces need Linux, not %s", ErrUnsupported, runtime.GOOS)

// New returns an error wrapping ErrUnsupported.
func New(name string) (*NS, error) { return nil, errNotLinux }

// Name returns "".
func (n *NS) Name() string { return "" }

// ID returns 0.
func (n *NS) ID() uint64 { return 0 }

// Fd returns -1.
func (n *NS) Fd() int { return -1 }

// Do returns an error wrapping ErrUnsupported.
func (n *NS) Do(f func() error) error { return errNotLinux }

// Close does nothing.
func (n *NS) Close() error { return nil }

// Held reports false.
func Held(id uint64, wait time.Duration) bool { return false }

// LinkUp returns an error wrapping ErrUnsupported.
func (n *NS) LinkUp(name string) error { return errNotLinux }

// AddAddr returns an error wrapping ErrUnsupported.
func (n *NS) AddAddr(name string, p netip.Prefix) error { return errNotLinux }

// SetNeigh returns an error wrapping ErrUnsupported.
func (n *NS) SetNeigh(name string, ip netip.Addr, mac net.HardwareAddr) error { return errNotLinux }

// Link describes a link.
type Link struct {
	Name                                                           string
	Index                                                          int
	MAC                                                            net.HardwareAddr
	MTU, RxQueue, TxQueue                                          int
	Up                                                             bool
	RxPackets, TxPackets, RxDropped, TxDropped, RxErrors, TxErrors uint64
}

// Link returns an error wrapping ErrUnsupported.
func (n *NS) Link(name string) (Link, error) { return Link{}, errNotLinux }

// Links returns an error wrapping ErrUnsupported.
func (n *NS) Links() ([]string, error) { return nil, errNotLinux }

// VethConfig shapes a veth pair.
type VethConfig struct {
	Queues, MTU  int
	AddrA, AddrB netip.Prefix
}

// AddVeth returns an error wrapping ErrUnsupported.
func AddVeth(a *NS, nameA string, b *NS, nameB string, cfg VethConfig) error { return errNotLinux }

// DelLink returns an error wrapping ErrUnsupported.
func (n *NS) DelLink(name string) error { return errNotLinux }

// String names the namespace.
func (n *NS) String() string { return "netns (unsupported)" }
