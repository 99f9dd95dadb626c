package cbredis_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind: a Fleet's
// syncer or pub/sub reader, a go-redis client's pool or pub/sub workers,
// or the goroutine that reaps a redis-server. (The root module's
// internal/leakcheck cannot be imported from this module.)
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
