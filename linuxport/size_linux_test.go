//go:build linux

package linuxport_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/ringkit/ringkit/linuxport"
)

// TestOpenMemoryLimit: legal sizes whose memory would not fit (a huge
// burst, a huge number of queues) are refused with an error wrapping
// ErrConfig before anything is allocated and before anything touches the
// kernel (the interface named exists nowhere, and no TAP device is made);
// MaxBytes moves the limit.
func TestOpenMemoryLimit(t *testing.T) {
	pool, err := linuxport.NewUMEMPool(64)
	if err != nil {
		t.Fatal(err)
	}
	open := map[string]func(queues, burst int, max int64) error{
		"XDP": func(q, b int, m int64) error {
			_, err := linuxport.OpenXDP("rk-none0", linuxport.XDPConfig{Pool: pool, Queues: q, Burst: b, MaxBytes: m})
			return err
		},
		"Packet": func(q, b int, m int64) error {
			_, err := linuxport.OpenPacket("rk-none0", linuxport.PacketConfig{Pool: pool, Queues: q, Burst: b, MaxBytes: m})
			return err
		},
		"TAP": func(q, b int, m int64) error {
			_, err := linuxport.OpenTAP("rk-none0", linuxport.TAPConfig{Pool: pool, Queues: q, Burst: b, MaxBytes: m})
			return err
		},
	}
	for name, f := range open {
		if err := f(1, math.MaxInt/2, 0); !errors.Is(err, linuxport.ErrConfig) {
			t.Errorf("%s with a burst of MaxInt/2 = %v, want ErrConfig", name, err)
		}
		if err := f(1<<20, 0, 0); !errors.Is(err, linuxport.ErrConfig) || !strings.Contains(err.Error(), fmt.Sprintf("limit of %d bytes", linuxport.DefaultMaxBytes)) {
			t.Errorf("%s with 2^20 queues = %v, want ErrConfig naming the limit", name, err)
		}
		if err := f(4, 0, 1<<10); !errors.Is(err, linuxport.ErrConfig) {
			t.Errorf("%s of 4 queues with MaxBytes 1 KiB = %v, want ErrConfig", name, err)
		}
		if err := f(1, 0, -1); !errors.Is(err, linuxport.ErrConfig) {
			t.Errorf("%s with MaxBytes -1 = %v, want ErrConfig", name, err)
		}
	}
	// Within the limit, the open goes on to the interface, which is not
	// there (TAP is left out: it would make the device).
	for _, name := range []string{"XDP", "Packet"} {
		if err := open[name](4, 0, 0); !errors.Is(err, linuxport.ErrNoInterface) && !errors.Is(err, linuxport.ErrPermission) {
			t.Errorf("%s of 4 queues within the limit = %v, want it to reach the missing interface", name, err)
		}
	}
	if st := pool.Stats(); st.Free != st.Buffers {
		t.Errorf("pool %+v: a refused open kept buffers", st)
	}
}
