package cbgrpc_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind: a server,
// a connection, or a stream's context watch. (The root module's
// internal/leakcheck cannot be imported from this module.)
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
