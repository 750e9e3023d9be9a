package pipeline

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// TestCaptureSizeLimit: a capture whose frames would take more than
// MaxCaptureBytes (a count and a snap length that multiply beyond what can
// be allocated, or overflow) is refused with an error wrapping ErrConfig,
// as is any argument out of range, before anything is allocated.
func TestCaptureSizeLimit(t *testing.T) {
	for _, tc := range []struct{ every, max, snap int }{
		{1, math.MaxInt / 2, 1514},
		{1, math.MaxInt, 65535},
		{1, MaxCaptureBytes/1514 + 1, 1514},
		{0, 10, 1514},
		{1, 10, 10},
	} {
		if c, err := NewCapture(tc.every, tc.max, tc.snap); !errors.Is(err, ErrConfig) {
			t.Errorf("NewCapture(%d, %d, %d) = %v, %v; want ErrConfig", tc.every, tc.max, tc.snap, c != nil, err)
		}
	}
	if _, err := NewCapture(1, 1000, 1514); err != nil {
		t.Errorf("NewCapture(1, 1000, 1514) = %v", err)
	}
}

// TestNewSizeLimit: a valid config whose parts would take more memory than
// their limits allow (here the NIC's rings: 17 ports of 64 queues of
// 16384-descriptor rings) fails New with an error wrapping ErrConfig, like
// every other config New cannot build, not a crash and not an error of a
// lower package alone.
func TestNewSizeLimit(t *testing.T) {
	cfg := DefaultConfig(1e6)
	cfg.Offload = nil
	cfg.Buffers, cfg.Queues, cfg.RxDescs, cfg.TxDescs = 1024, 64, 1<<14, 1<<14
	for len(cfg.Ports) < 16 {
		cfg.Ports = append(cfg.Ports, cfg.Ports[0])
		cfg.Ports[len(cfg.Ports)-1].Name = ""
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the config is not valid, so it tests nothing: %v", err)
	}
	p, err := New(cfg, Options{})
	if p != nil {
		p.Close()
	}
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "max_bytes") {
		t.Fatalf("New = %v, want ErrConfig naming max_bytes, the key that raises the limit", err)
	}
	// max_bytes reaches the parts: an ordinary config that builds with
	// the defaults is refused under a 1 MiB limit, and builds under 1 GiB.
	small := DefaultConfig(1e5)
	small.MaxBytes = 1 << 20
	if p, err := New(small, Options{}); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "max_bytes") {
		if p != nil {
			p.Close()
		}
		t.Fatalf("New with max_bytes 1 MiB = %v, want ErrConfig naming max_bytes", err)
	}
	small.MaxBytes = 1 << 30
	p, err = New(small, Options{})
	if err != nil {
		t.Fatalf("New with max_bytes 1 GiB = %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	cfg.MaxBytes = -1
	if _, err := New(cfg, Options{}); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "max_bytes") {
		t.Errorf("New with max_bytes -1 = %v, want ErrConfig naming max_bytes", err)
	}
}
