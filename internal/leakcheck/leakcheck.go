package leakcheck

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// Settle is how long Main waits for goroutines that finished tests have
// just released (a server's connection handler, a timer's goroutine) to
// end before it counts them as leaked.
const Settle = 2 * time.Second

// Main runs the tests of m, then exits with a failure if more goroutines
// run than before them, printing every goroutine's stack. It does not
// check a fuzzing run, whose engine keeps goroutines of its own.
func Main(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	if !fuzzing() {
		if stacks := leaked(before, Settle); stacks != "" {
			fmt.Fprintf(os.Stderr, "FAIL: goroutines left behind by the tests (%d before them):\n%s\n", before, stacks)
			code = 1
		}
	}
	os.Exit(code)
}

// fuzzing reports whether this process is a fuzzing coordinator or worker
// (go test -fuzz). The seed corpus, run by a plain go test, is checked.
func fuzzing() bool {
	for _, name := range []string{"test.fuzz", "test.fuzzworker"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" && f.Value.String() != "false" {
			return true
		}
	}
	return false
}

// leaked waits up to settle for the goroutine count to fall back to want,
// and returns every goroutine's stack if it does not.
func leaked(want int, settle time.Duration) string {
	deadline := time.Now().Add(settle)
	for runtime.NumGoroutine() > want {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			return string(buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
	return ""
}
