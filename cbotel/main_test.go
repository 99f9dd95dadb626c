package cbotel_test

import (
	"testing"

	"github.com/tripswitch/tripswitch/internal/leakcheck"
)

// TestMain fails the run if a test leaves a goroutine behind.
func TestMain(m *testing.M) { leakcheck.Main(m) }
