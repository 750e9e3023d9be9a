package pipeline

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestRunLayouts runs the pipeline in each layout and checks that it
// delivers in each, that Layout reports what Run uses, and that
// LayoutAuto settles on one of the two real layouts.
func TestRunLayouts(t *testing.T) {
	for _, l := range []Layout{LayoutSplit, LayoutSingle, LayoutAuto} {
		t.Run(l.String(), func(t *testing.T) {
			cfg := BenchConfig()
			p, err := New(cfg, Options{Layout: l})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if got := p.Layout(); got != LayoutAuto {
				t.Fatalf("Layout before Run = %v, want auto", got)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*layoutTrial+400*time.Millisecond)
			defer cancel()
			if err := p.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Run = %v, want context.DeadlineExceeded", err)
			}
			got := p.Layout()
			switch {
			case l != LayoutAuto && got != l:
				t.Fatalf("Layout = %v, want %v", got, l)
			case l == LayoutAuto && got != LayoutSplit && got != LayoutSingle:
				t.Fatalf("LayoutAuto chose %v", got)
			}
			if p.cnt.delivered.Load() == 0 {
				t.Fatalf("nothing delivered in layout %v", got)
			}
			t.Logf("%v: %d delivered", got, p.cnt.delivered.Load())
		})
	}
}

func TestLayoutRefused(t *testing.T) {
	if _, err := New(BenchConfig(), Options{Layout: 7}); !errors.Is(err, ErrConfig) {
		t.Fatalf("New with Layout 7 = %v, want ErrConfig", err)
	}
}
