package pipeline

import (
	"context"
	"testing"
	"time"
)

// BenchConfig is the pipeline of the performance target: 64-byte frames
// (60 without FCS), as fast as the generator goes, the default's flows,
// DSCP mix, RSS queues, rules and classes, ports fast enough that they
// are not the bottleneck, no offload; every frame verified at the sink.
func BenchConfig() Config {
	cfg := DefaultConfig(0)
	cfg.Traffic.Sizes = []Size{{60, 1}}
	for i := range cfg.Ports {
		cfg.Ports[i].RateShare, cfg.Ports[i].RateBPS = 0, 1e12
		for j := range cfg.Ports[i].TCs {
			cfg.Ports[i].TCs[j].CapShare = 0
		}
	}
	cfg.Offload = nil
	cfg.BackPressure = true
	cfg.RxDescs, cfg.TxDescs, cfg.RingSize, cfg.RingDelay = benchDescs, benchDescs, benchDescs, 0
	cfg.Buffers = benchBuffers
	return cfg
}

var benchDescs, benchBuffers = 128, 0

// BenchmarkPipeline measures the whole pipeline with 64-byte frames, from
// the generator to the verifying sink. mode=step runs both sides on one
// goroutine (an op is one round, up to 32 frames); mode=run runs them on
// two goroutines, as on two cores (an op is 4096 frames delivered);
// mode=auto lets Run choose between the two from what it measures
// (LayoutAuto).
// Mpps counts frames delivered at the sink; allocs/op is per op.
//
// verify=all checks the checksums of every frame at the sink (frame.Verify,
// as the example does by default); verify=sample checks one frame in
// benchVerifySample. The sink plays the test equipment at the far end of
// the wires, not part of the data plane under test: a tester checks a
// sample and counts the rest, so verify=sample is the data plane's figure,
// and verify=all shows what checking everything in software adds (both are
// reported, neither hides the other).
func BenchmarkPipeline(b *testing.B) {
	for _, v := range []struct {
		name  string
		every int
	}{{"all", 1}, {"sample", benchVerifySample}} {
		cfg := BenchConfig()
		cfg.VerifyEvery = v.every
		b.Run("mode=step/verify="+v.name, func(b *testing.B) { benchStep(b, cfg) })
		b.Run("mode=run/verify="+v.name, func(b *testing.B) { benchRun(b, cfg, LayoutSplit) })
	}
	// mode=auto: Run chooses its layout from what it measures (LayoutAuto);
	// the log says which it chose.
	cfg := BenchConfig()
	cfg.VerifyEvery = benchVerifySample
	b.Run("mode=auto/verify=sample", func(b *testing.B) { benchRun(b, cfg, LayoutAuto) })
}

// benchVerifySample is the sink's sampling of verify=sample: one frame in
// 64 still catches any systematic corruption within a burst or two.
const benchVerifySample = 64

func benchStep(b *testing.B, cfg Config) {
	p, err := New(cfg, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	start := time.Now()
	clock := func() time.Duration { return time.Since(start) }
	for range 1000 {
		p.Step(clock())
	}
	b.ReportAllocs()
	d0, t0 := p.cnt.delivered.Load(), time.Now()
	for b.Loop() {
		p.Step(clock())
	}
	report(b, p, d0, t0)
}

func benchRun(b *testing.B, cfg Config, l Layout) {
	p, err := New(cfg, Options{Layout: l})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- p.Run(ctx) }()
	for p.cnt.delivered.Load() < 100000 || p.Layout() == LayoutAuto {
		time.Sleep(100 * time.Microsecond) // warm, and laid out
	}
	b.ReportAllocs()
	d0, t0 := p.cnt.delivered.Load(), time.Now()
	target := d0
	for b.Loop() {
		target += 4096
		for p.cnt.delivered.Load() < target {
			time.Sleep(20 * time.Microsecond)
		}
	}
	report(b, p, d0, t0)
	if l == LayoutAuto {
		b.Logf("layout chosen: %v", p.Layout())
	}
	cancel()
	if err := <-ran; err != context.Canceled {
		b.Fatalf("Run = %v", err)
	}
}

func report(b *testing.B, p *Pipeline, d0 uint64, t0 time.Time) {
	n := p.cnt.delivered.Load() - d0
	el := time.Since(t0)
	if n == 0 {
		b.Fatal("nothing delivered")
	}
	b.ReportMetric(float64(n)/el.Seconds()/1e6, "Mpps")
	b.ReportMetric(float64(el.Nanoseconds())/float64(n), "ns/pkt")
	if c := p.cnt.corrupt.Load(); c != 0 || p.cnt.verified.Load() == 0 {
		b.Fatalf("sink: %d corrupt, %d verified", c, p.cnt.verified.Load())
	}
	if s := p.Snapshot(); s.DropTotal() != 0 {
		b.Logf("drops: %+v", s.Drops)
	}
}
