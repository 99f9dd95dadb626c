package redistest

import (
	"testing"

	"github.com/tripswitch/tripswitch/internal/leakcheck"
)

// TestMain fails the run if a test leaves a goroutine behind, such as the
// one that reaps a server's process.
func TestMain(m *testing.M) { leakcheck.Main(m) }
