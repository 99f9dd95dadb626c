package cbhttp_test

import (
	"fmt"
	"net/http"
	"os"
	"runtime"
	"testing"
	"time"
)

// TestMain runs the package's tests, then fails the run if any of them
// left a goroutine behind: neither Transport nor Middleware starts one.
// The examples' clients keep idle connections in http.DefaultTransport,
// whose goroutines are closed first; and a goroutine that a finished test
// has just released may still be on its way out, so the count is polled
// for a short while before it counts as a leak.
func TestMain(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	http.DefaultClient.CloseIdleConnections()
	if stacks := leakedGoroutines(before, 2*time.Second); stacks != "" {
		fmt.Fprintf(os.Stderr, "FAIL: goroutines left behind by the tests (%d at start):\n%s\n", before, stacks)
		code = 1
	}
	os.Exit(code)
}

// leakedGoroutines waits up to settle for the goroutine count to fall back
// to want, and returns every goroutine's stack if it does not.
func leakedGoroutines(want int, settle time.Duration) string {
	deadline := time.Now().Add(settle)
	for runtime.NumGoroutine() > want {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			return string(buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
		time.Sleep(5 * time.Millisecond)
	}
	return ""
}
