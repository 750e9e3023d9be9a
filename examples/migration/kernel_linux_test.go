//go:build linux

package main

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringkit/ringkit/examples/internal/smoke"
)

// TestKernelMigrationExample runs the program's -kernel mode as a user
// does, two processes and the kernel's TCP in a namespace of their own,
// and checks what it prints: every session kept, every stream byte-exact,
// the kernel's counters clean, the VM announced from the destination, and
// everything it made removed (no link or socket directory left behind).
func TestKernelMigrationExample(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the -kernel mode makes a network namespace, a bridge and TAP devices")
	}
	args := []string{"-kernel", "-sessions", "64", "-hold", "500ms", "-run", "500ms"}
	if testing.Short() {
		args = []string{"-kernel", "-sessions", "16", "-hold", "200ms", "-run", "300ms"}
	}
	links := hostLinks(t)
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "ringkit-migration-*"))
	// The test binary is the program (smoke.Main), and the destination it
	// starts a copy of it.
	out, _ := smoke.Run(t, 90*time.Second, args...)
	smoke.Contains(t, out,
		"sessions lost = 0, streams differing = 0",
		"announced the VM 5 times",
		" 0 aborts, 0 resets of established connections, 0 failed attempts,",
		" 0 PAWS rejects",
		"removed: the namespace")
	if m := regexp.MustCompile(`the kernel's TCP in the peer namespace: (\d+) opened`).FindStringSubmatch(out); m == nil || m[1] != args[2] {
		t.Errorf("the kernel's counters do not show %s connections opened", args[2])
	}
	if got := hostLinks(t); !slices.Equal(got, links) {
		t.Errorf("the machine's links changed: %v, were %v", got, links)
	}
	if after, _ := filepath.Glob(filepath.Join(os.TempDir(), "ringkit-migration-*")); len(after) != len(dirs) {
		t.Errorf("socket directories left: %v, were %v", after, dirs)
	}
}

func hostLinks(t *testing.T) []string {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range ifs {
		names = append(names, i.Name)
	}
	slices.Sort(names)
	return names
}

// The VM's memory, as the source sends it during the hold, loads back
// as it was; anything else is an error naming the line, and loads nothing.
func TestVMMemory(t *testing.T) {
	opt := kernelOptions{streamLen: 1000}
	a := newVMApp(opt, true)
	a.start = time.Unix(0, 1_700_000_000_123)
	a.streams[7<<16|9000] = &vmStream{rd: 10, wr: 1000, eof: true, closed: true}
	a.streams[8<<16|41000] = &vmStream{rd: 999, wr: 5, bad: 3}
	var b strings.Builder
	if err := a.appendMemory(&b); err != nil {
		t.Fatal(err)
	}
	c := newVMApp(opt, false)
	if err := c.loadMemory(strings.NewReader(b.String())); err != nil {
		t.Fatal(err)
	}
	if !c.have || !c.start.Equal(a.start) || len(c.streams) != 2 || *c.streams[7<<16|9000] != *a.streams[7<<16|9000] ||
		*c.streams[8<<16|41000] != *a.streams[8<<16|41000] {
		t.Fatalf("loaded %+v from %q", c.streams, b.String())
	}
	for _, bad := range []string{"", "START 1\n", "S 1 2 3 true true 0\n", "S x 2 3 true true 0\nEND\n",
		"S 1 2 3 maybe true 0\nEND\n", "S 1 2 99999 true true 0\nEND\n", "S 1 -1 3 true true 0\nEND\n", "HELLO\nEND\n"} {
		d := newVMApp(opt, false)
		if err := d.loadMemory(strings.NewReader(bad)); err == nil || d.have {
			t.Errorf("%q loaded (%v)", bad, err)
		}
	}
}

func FuzzVMMemory(f *testing.F) {
	f.Add("START 5\nS 1 2 3 true false 0\nEND\n")
	f.Add("S 4294967295 0 0 false false 1001\nEND\n")
	f.Add("END\n")
	f.Fuzz(func(t *testing.T, s string) {
		a := newVMApp(kernelOptions{streamLen: 1000}, false)
		if err := a.loadMemory(strings.NewReader(s)); err != nil {
			return
		}
		for k, st := range a.streams {
			if st.rd < 0 || st.wr < 0 || st.rd > 1001 || st.wr > 1001 {
				t.Fatalf("stream %d loaded as %+v", k, st)
			}
		}
		// What loads writes back to what loads the same.
		var b strings.Builder
		if err := a.appendMemory(&b); err != nil {
			t.Fatal(err)
		}
		c := newVMApp(kernelOptions{streamLen: 1000}, false)
		if err := c.loadMemory(strings.NewReader(b.String())); err != nil || len(c.streams) != len(a.streams) {
			t.Fatalf("round trip of %q: %v", s, err)
		}
	})
}
