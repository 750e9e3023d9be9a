package classify

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: a Stage's Close
// must end what Start started.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
