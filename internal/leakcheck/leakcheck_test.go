package leakcheck

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestMain(m *testing.M) { Main(m) }

// A goroutine still running after the settle time is reported with its
// stack; once it ends, nothing is.
func TestLeakedReportsGoroutinesThatStay(t *testing.T) {
	base := runtime.NumGoroutine()
	stop := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		<-stop
	}()
	assert.Contains(t, leaked(base, 20*time.Millisecond), "leakcheck.TestLeakedReportsGoroutinesThatStay.func1",
		"the leaked goroutine's stack")

	close(stop)
	<-ended
	assert.Empty(t, leaked(base, time.Second), "nothing left once it ended")
}
