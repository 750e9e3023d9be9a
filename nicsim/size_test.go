package nicsim_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/nicsim"
)

// TestNewMemoryLimit: legal sizes whose memory would not fit (a huge
// burst, a huge redirection table, as many queues as the limits allow)
// are refused with an error wrapping ErrConfig before anything is
// allocated: Go cannot recover from an allocation the machine cannot
// serve. Config.MaxBytes moves the limit, and counts the rings, the
// engine's buffers and the frames a source is read into.
func TestNewMemoryLimit(t *testing.T) {
	pool := newPool(t, 256)
	for name, cfg := range map[string]nicsim.Config{
		"burst":  {Pool: pool, Burst: math.MaxInt / 2},
		"reta":   {Pool: pool, RETASize: math.MaxInt / 2},
		"queues": {Pool: pool, Ports: 1 << 16, Queues: 1 << 16},
	} {
		n, err := nicsim.New(cfg)
		if !errors.Is(err, nicsim.ErrConfig) {
			if n != nil {
				closeAll(t, pool, n)
			}
			t.Errorf("%s: New = %v, want ErrConfig", name, err)
			continue
		}
		t.Logf("%s: %v", name, err)
	}
	_, err := nicsim.New(nicsim.Config{Pool: pool, Ports: 1 << 16, Queues: 1 << 16})
	for _, want := range []string{"bytes", fmt.Sprintf("limit of %d bytes", nicsim.DefaultMaxBytes), "Config.MaxBytes"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New of 2^16 ports of 2^16 queues = %v, want an error saying %q", err, want)
		}
	}
	rx := descriptor.RxConfig{Descs: 64}
	tx := descriptor.TxConfig{Descs: 64}
	rxb, err := pool.RxRingBytes(rx)
	if err != nil {
		t.Fatal(err)
	}
	txb, err := pool.TxRingBytes(tx)
	if err != nil {
		t.Fatal(err)
	}
	// Two ports of four queues: the rings alone need 8 × (rx + tx); the
	// limit must count them, and the burst's frames (one data room each)
	// on top.
	rings := int64(8 * (rxb + txb))
	frames := int64(2 * 64 * pool.DataRoom())
	for _, tc := range []struct {
		max int64
		ok  bool
	}{{0, true}, {rings, false}, {rings + frames, false}, {4 * (rings + frames), true}, {-1, false}} {
		n, err := nicsim.New(nicsim.Config{Pool: pool, Ports: 2, Queues: 4, Rx: rx, Tx: tx, Burst: 64, MaxBytes: tc.max})
		if ok := err == nil; ok != tc.ok || !ok && !errors.Is(err, nicsim.ErrConfig) {
			t.Errorf("New with MaxBytes %d (rings take %d, frames %d) = %v, want ok=%t", tc.max, rings, frames, err, tc.ok)
		}
		if n != nil {
			closeAll(t, pool, n)
		}
	}
}
