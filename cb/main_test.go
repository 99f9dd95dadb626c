package cb_test

// Goroutines: a breaker runs none of its own, so no test may leave one
// behind.

import (
	"testing"

	"github.com/tripswitch/tripswitch/internal/leakcheck"
)

// TestMain fails the run if a test leaves a goroutine behind: a breaker
// needs none of its own, and a CoarseClock's ends with Stop.
func TestMain(m *testing.M) { leakcheck.Main(m) }
