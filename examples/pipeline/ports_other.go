//go:build !linux

package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/ringkit/ringkit/pipeline"
)

var errNotLinux = fmt.Errorf("real interfaces (-iface, -netns) need Linux, not %s", runtime.GOOS)

type testBed struct{}

func openIfaces(names []string, cfg *pipeline.Config, log io.Writer) (*pipeline.Ports, func(), error) {
	return nil, nil, errNotLinux
}

func openNetns(cfg *pipeline.Config, rate float64, duration time.Duration, log io.Writer) (*pipeline.Ports, *testBed, error) {
	return nil, nil, errNotLinux
}

func (b *testBed) start(ctx context.Context) {}
func (b *testBed) report(w io.Writer)        {}
func (b *testBed) close()                    {}
