//go:build linux

package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
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
	bin := filepath.Join(t.TempDir(), "migration")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	args := []string{"-kernel", "-sessions", "64", "-hold", "500ms", "-run", "500ms"}
	if testing.Short() {
		args = []string{"-kernel", "-sessions", "16", "-hold", "200ms", "-run", "300ms"}
	}
	links := hostLinks(t)
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "ringkit-migration-*"))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("migration %v: %v", args, err)
	}
	for _, want := range []string{
		"sessions lost = 0, streams differing = 0",
		"announced the VM 5 times",
		" 0 aborts, 0 resets of established connections, 0 failed attempts, 0 RSTs sent, 0 PAWS rejects",
		"removed: the namespace",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if m := regexp.MustCompile(`the kernel's TCP in the peer namespace: (\d+) opened`).FindSubmatch(out); m == nil || string(m[1]) != args[2] {
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
