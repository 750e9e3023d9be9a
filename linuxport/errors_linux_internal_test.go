//go:build linux

package linuxport

import (
	"errors"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSysErr checks the sentinels the kernel's refusals map to: not root,
// a kernel without AF_XDP, a queue or interface taken.
func TestSysErr(t *testing.T) {
	tests := []struct {
		errno unix.Errno
		want  error
	}{
		{unix.EPERM, ErrPermission},
		{unix.EACCES, ErrPermission},
		{unix.EAFNOSUPPORT, ErrUnsupported},
		{unix.ENOSYS, ErrUnsupported},
		{unix.EOPNOTSUPP, ErrUnsupported},
		{unix.EBUSY, ErrBusy},
		{unix.ENODEV, ErrNoInterface},
	}
	for _, tt := range tests {
		err := sysErr(fmt.Errorf("bind: %w", tt.errno))
		if !errors.Is(err, tt.want) || !errors.Is(err, tt.errno) {
			t.Errorf("%v: %v, want it to wrap %v and the errno", tt.errno, err, tt.want)
		}
	}
	if err := sysErr(unix.EINVAL); errors.Is(err, ErrPermission) || errors.Is(err, ErrUnsupported) || errors.Is(err, ErrBusy) {
		t.Errorf("EINVAL mapped to a sentinel: %v", err)
	}
}
