package cb_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
)

// Once the open time is over, the breaker is half-open for every caller
// (design.md §3): however many goroutines race the transition, none may be
// told it is still open. Observers call Metrics and Allow without pause
// while the driver, round after round, trips the breaker and moves the
// clock to the end of the open time; any observation made wholly after
// that move must see the breaker half-open (or later), never Open.
//
// A caller that loads the state word just before another goroutine makes
// the open->half-open transition, and reads the generation's start time
// just after that goroutine has published it, holds a word older than the
// published generation. The race lasts nanoseconds, so it is only hit a
// few times per second, but a correct breaker is never caught in it: the
// test fails at the first observation of a stale Open.
func TestStressNoCallerSeesOpenAfterTheOpenTime(t *testing.T) {
	const (
		observers   = 3 // more than the two processors of the CI machines, fewer than would starve the driver
		openTimeout = time.Second
		budget      = 1500 * time.Millisecond
	)
	clk := cbtest.NewClock()
	b := cb.MustNew[int]("race", cb.Config{ConsecutiveFailures: 1, OpenTimeout: openTimeout, Clock: clk})
	// round is set, once the clock has passed a round's open time, to that
	// open time; nil while the driver starts the next round.
	var round atomic.Pointer[time.Duration]
	var stop atomic.Bool
	var first atomic.Pointer[string]
	var bad, checked atomic.Int64
	report := func(what string) {
		bad.Add(1)
		first.CompareAndSwap(nil, &what)
	}
	var wg sync.WaitGroup
	for o := range observers {
		wg.Go(func() {
			for i := 0; !stop.Load() && bad.Load() == 0; i++ {
				runtime.Gosched()
				r := round.Load()
				now := clk.Now()
				var what string
				if (o+i)%2 == 0 {
					if m := b.Metrics(); m.State == cb.Open {
						what = fmt.Sprintf("Metrics at %v: %+v", now, m)
					}
				} else {
					p, err := b.Allow()
					var oe *cb.OpenError
					if errors.As(err, &oe) && oe.State == cb.Open {
						what = fmt.Sprintf("Allow at %v refused as open: %v", now, err)
					}
					p.Done(0, context.Canceled) // a permit goes back; a zero Permit does nothing
				}
				// Only an observation made wholly inside one round, after
				// its open time, counts.
				if r == nil || round.Load() != r || now < *r {
					continue
				}
				checked.Add(1)
				if what != "" {
					report(what)
				}
			}
		})
	}
	start := time.Now()
	rounds := 0
	for time.Since(start) < budget && bad.Load() == 0 {
		rounds++
		round.Store(nil)
		b.Reset()
		_, r := b.Execute(fnFail)
		require.Equal(t, cb.Failure, r.Outcome)
		deadline := clk.Now() + openTimeout
		clk.Set(deadline)
		round.Store(&deadline)
		for range 2 {
			runtime.Gosched() // let the observers race the transition
		}
	}
	stop.Store(true)
	wg.Wait()
	require.Positive(t, checked.Load(), "no observation was made after an open time")
	if w := first.Load(); w != nil {
		assert.Fail(t, "a caller saw the breaker open after its open time",
			"%d time(s) in %d rounds; the first: %s", bad.Load(), rounds, *w)
	}
}
