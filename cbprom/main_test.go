package cbprom_test

import (
	"testing"

	"github.com/tripswitch/tripswitch/internal/leakcheck"
)

// TestMain fails the run if a test leaves a goroutine behind: every test
// server and client here is closed by its test.
func TestMain(m *testing.M) { leakcheck.Main(m) }
