//go:build !linux && !darwin

package benchmarks

import "time"

// processCPU reports false: the process's CPU time is read on Linux and
// macOS only, and the metric made from it is left out elsewhere.
func processCPU() (time.Duration, bool) { return 0, false }
