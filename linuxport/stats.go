package linuxport

import "fmt"

// String says what the socket's kernel counters show in one line.
func (s XDPStats) String() string {
	return fmt.Sprintf("rx dropped %d, rx ring full %d, fill ring empty %d times, invalid rx %d and tx %d descriptors, "+
		"tx ring empty %d times", s.RxDropped, s.RxRingFull, s.FillRingEmpty, s.RxInvalid, s.TxInvalid, s.TxRingEmpty)
}
