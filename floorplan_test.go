package ringkit_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/ringkit/ringkit"

// floors is the floor plan (see doc.go): the floor of each package, by its
// path in the module. A package imports only packages on lower floors, so
// packages on one floor are independent of each other. Everything under
// internal/ is the ground, floor 0: it may import other ground packages and
// nothing else of the module. The examples are the top: what they share
// (examples/internal/...) one floor below their mains.
var floors = map[string]int{
	"":           11, // the module root: documentation and these tests
	"ring":       1,
	"descriptor": 2,
	"frame":      3,
	"port":       4,
	"classify":   4,
	"sched":      4,
	"jobring":    4,
	"nicsim":     5,
	"linuxport":  5,
	"pcap":       5,
	"tcpip":      6,
	"migrate":    7,
	"pipeline":   8,
}

const (
	examplesShared = 9  // examples/internal/...
	topFloor       = 10 // examples/NAME
)

// floorOf returns the floor of a package path relative to the module.
func floorOf(rel string) (int, bool) {
	switch {
	case rel == "internal" || strings.HasPrefix(rel, "internal/"):
		return 0, true
	case strings.HasPrefix(rel, "examples/internal/"):
		return examplesShared, true
	case strings.HasPrefix(rel, "examples/"):
		return topFloor, true
	}
	// A package inside another (linuxport/netns) lives on its parent's floor.
	for p := rel; ; {
		if f, ok := floors[p]; ok {
			return f, true
		}
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return 0, false
		}
		p = p[:i]
	}
}

type listed struct {
	ImportPath string
	Imports    []string
}

// listPackages returns the module's packages and their non-test imports,
// as `go list` reports them for goos (every platform file counts: a port's
// Linux files are where its imports are).
func listPackages(t *testing.T, goos string) []listed {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports", "./...")
	cmd.Env = append(cmd.Environ(), "GOOS="+goos, "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	var pkgs []listed
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// violations returns every import of pkgs that does not follow the floor
// plan, and every package the plan does not place.
func violations(pkgs []listed) []string {
	var bad []string
	for _, p := range pkgs {
		rel, ok := strings.CutPrefix(p.ImportPath, module)
		if !ok {
			continue
		}
		rel = strings.TrimPrefix(rel, "/")
		from, ok := floorOf(rel)
		if !ok {
			bad = append(bad, fmt.Sprintf("%s is not in the floor plan (add it to floors and to doc.go)", p.ImportPath))
			continue
		}
		for _, imp := range p.Imports {
			irel, ok := strings.CutPrefix(imp, module+"/")
			if !ok {
				continue
			}
			to, ok := floorOf(irel)
			switch {
			case !ok:
				bad = append(bad, fmt.Sprintf("%s imports %s, which is not in the floor plan", p.ImportPath, imp))
			case strings.HasPrefix(irel, "examples/") && !strings.HasPrefix(irel, "examples/internal/"):
				bad = append(bad, fmt.Sprintf("%s imports %s: nothing imports an example", p.ImportPath, imp))
			case from == 0 && to == 0:
				// The ground may use the ground.
			case to >= from:
				bad = append(bad, fmt.Sprintf("%s (floor %d) imports %s (floor %d): an import may only go down", p.ImportPath, from, imp, to))
			}
		}
	}
	return bad
}

// TestFloorPlan fails when a package imports one on its own floor or above
// it, when anything imports an example, when the ground imports a public
// package, or when a package is not placed in the plan.
func TestFloorPlan(t *testing.T) {
	for _, goos := range []string{"linux", "darwin", "windows"} {
		for _, v := range violations(listPackages(t, goos)) {
			t.Errorf("GOOS=%s: %s", goos, v)
		}
	}
}

// TestFloorPlanRejects shows that the check can fail: an upward import, an
// import across one floor, the ground importing a public package, an
// example imported and an unplaced package are each reported.
func TestFloorPlanRejects(t *testing.T) {
	cases := []struct {
		name string
		pkg  listed
	}{
		{"upward", listed{module + "/ring", []string{module + "/descriptor"}}},
		{"same floor", listed{module + "/sched", []string{module + "/jobring"}}},
		{"ground imports public", listed{module + "/internal/wait", []string{module + "/ring"}}},
		{"example imported", listed{module + "/pipeline", []string{module + "/examples/pipeline"}}},
		{"unplaced", listed{module + "/newthing", nil}},
	}
	for _, c := range cases {
		if v := violations([]listed{c.pkg}); len(v) != 1 {
			t.Errorf("%s: %q reported %d violations, want 1: %q", c.name, c.pkg.ImportPath, len(v), v)
		}
	}
	ok := listed{module + "/pipeline", []string{module + "/migrate", module + "/ring", module + "/internal/wait", "fmt"}}
	if v := violations([]listed{ok}); len(v) != 0 {
		t.Errorf("downward imports reported: %q", v)
	}
}
