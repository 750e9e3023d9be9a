//go:build linux

package linuxport

// SharesUMEM reports whether a and b are bound to one UMEM
// (XDP_SHARED_UMEM), and how many sockets it has.
func SharesUMEM(a, b *XDP) (bool, int) {
	umems.Lock()
	defer umems.Unlock()
	if a.umem == nil || a.umem != b.umem {
		return false, 0
	}
	return true, len(a.umem.fds)
}
