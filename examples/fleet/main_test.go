package main

import (
	"os"
	"testing"

	"github.com/tripswitch/tripswitch/internal/leakcheck"
)

// TestMain runs the tests, and fails the run if they leave a goroutine
// behind; or, in a process that a test's demo started as a replica (the
// demo runs its own binary again, which is this test binary), it is that
// replica.
func TestMain(m *testing.M) {
	if isReplica() {
		os.Exit(replicaProcess())
	}
	leakcheck.Main(m)
}
