package classify

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/ringkit/ringkit/descriptor"
)

// TestMemoryLimit: legal sizes whose memory would not fit (a huge flow
// cache, a huge burst) are refused with an error wrapping ErrConfig before
// anything is allocated, as is a negative cache size; StageConfig.MaxBytes
// moves the Stage's limit and counts both.
func TestMemoryLimit(t *testing.T) {
	rs := mustRuleSet(t, RuleConfig{})
	for _, size := range []int{math.MaxInt / 2, math.MaxInt, -1} {
		if _, err := NewClassifier(rs, size); !errors.Is(err, ErrConfig) {
			t.Errorf("NewClassifier with a cache of %d entries = %v, want ErrConfig", size, err)
		}
	}
	_, err := NewClassifier(rs, math.MaxInt/2)
	for _, want := range []string{"bytes", fmt.Sprintf("limit of %d bytes", DefaultMaxBytes)} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NewClassifier with a cache of 2^40 entries = %v, want an error saying %q", err, want)
		}
	}
	out, _ := outputs(t, 2, 4)
	good := StageConfig{In: fakeInput{}, Frames: frameTable{}, Out: out, Rules: rs, Drop: func(Verdict, []descriptor.Packet) {}}
	huge := good
	huge.Burst = math.MaxInt / 2
	if _, err := NewStage(huge); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "StageConfig.MaxBytes") {
		t.Errorf("NewStage with a burst of 2^40 = %v, want ErrConfig naming StageConfig.MaxBytes", err)
	}
	// A cache of 1024 entries is 64 KiB; bursts of 1024 packets of 32
	// bytes for the input, two ports of NumTC classes and three drop
	// reasons 640 KiB: a limit below their sum refuses.
	for _, tc := range []struct {
		max int64
		ok  bool
	}{{0, true}, {32 << 10, false}, {128 << 10, false}, {4 << 20, true}, {-1, false}} {
		c := good
		c.CacheSize, c.Burst, c.MaxBytes = 1024, 1024, tc.max
		s, err := NewStage(c)
		if ok := err == nil; ok != tc.ok || !ok && !errors.Is(err, ErrConfig) {
			t.Errorf("NewStage of a 1024-entry cache and a burst of 1024 with MaxBytes %d = %v, want ok=%t", tc.max, err, tc.ok)
		}
		if s != nil {
			s.Close()
		}
	}
}

type fakeInput struct{}

func (fakeInput) DequeueBurst([]descriptor.Packet) int { return 0 }
