// Package smoke runs an example program from its own tests: the test
// binary stands in for the program (Main runs the example's main when the
// binary was started by Run), so a smoke test exercises the real flags,
// output and exit status without a separate build.
package smoke

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// asMain is set in the environment of a test binary started as the
// program; a program that starts itself again (os.Executable) passes it on.
const asMain = "RINGKIT_EXAMPLE_AS_MAIN"

// Main is an example's TestMain: it runs main, and exits 0 when main
// returns, if the binary was started by Run; otherwise it runs the tests.
func Main(m *testing.M, main func()) {
	if AsMain() {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// AsMain reports whether the test binary was started by Run as the
// program, for a TestMain that does more than Main.
func AsMain() bool { return os.Getenv(asMain) == "1" }

// Command returns the program with args, to be started by the caller.
func Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), asMain+"=1")
	return cmd
}

// Run runs the program with args for at most timeout and returns what it
// wrote to stdout and to stderr. The test fails if the program exits with
// a status other than 0 or outlives timeout.
func Run(t testing.TB, timeout time.Duration, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := Command(ctx, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v (after %v)\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, timeout, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

// Contains fails the test for each of wants that text lacks, and if text
// prints a Go struct or pointer ({...}, &{...}, 0xc000...).
func Contains(t testing.TB, text string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("output lacks %q:\n%s", w, text)
		}
	}
	if strings.ContainsAny(text, "{}") || strings.Contains(text, "0xc0") {
		t.Errorf("output prints a Go value:\n%s", text)
	}
}
