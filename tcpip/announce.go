package tcpip

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// EtherTypeAnnounce is the EtherType of an address announcement: RARP's,
// which QEMU's announce_self uses after a migration so that switches learn
// where the VM's MAC address now lives.
const EtherTypeAnnounce = 0x8035

// Announcement schedule after activation, as QEMU's defaults: five
// announcements, the first at once, then 50 ms later, each gap 100 ms
// longer than the one before (50, 150, 250, 350 ms).
const (
	AnnounceRounds  = 5
	AnnounceInitial = 50 * time.Millisecond
	AnnounceStep    = 100 * time.Millisecond
)

var announceMagic = [4]byte{'R', 'K', 'A', 'N'}

// Announcement builds the announcement of addrs (IPv4) from mac into dst:
// a broadcast frame of EtherType EtherTypeAnnounce whose payload is
// "RKAN", a count u16 and the addresses.
func Announcement(dst []byte, mac [6]byte, addrs []netip.Addr) []byte {
	dst = append(dst, broadcastMAC[:]...)
	dst = append(dst, mac[:]...)
	dst = binary.BigEndian.AppendUint16(dst, EtherTypeAnnounce)
	dst = append(dst, announceMagic[:]...)
	n := 0
	for _, a := range addrs {
		if a.Is4() {
			n++
		}
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	for _, a := range addrs {
		if a.Is4() {
			b := a.As4()
			dst = append(dst, b[:]...)
		}
	}
	for len(dst) < 60 {
		dst = append(dst, 0)
	}
	return dst
}

// parseAnnouncement returns the addresses an announcement names.
func parseAnnouncement(f []byte) ([]netip.Addr, bool) {
	if len(f) < 20 || binary.BigEndian.Uint16(f[12:]) != EtherTypeAnnounce || [4]byte(f[14:18]) != announceMagic {
		return nil, false
	}
	n := int(binary.BigEndian.Uint16(f[18:]))
	if 20+4*n > len(f) {
		return nil, false
	}
	addrs := make([]netip.Addr, n)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte(f[20+4*i:]))
	}
	return addrs, true
}
