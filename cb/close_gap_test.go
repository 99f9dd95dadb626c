package cb_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
)

// A close empties the window and the failure streak all at once: a call
// of the new closed generation is never judged on the old ones. Trial
// after trial, a goroutine waits for State to report Closed and then makes
// exactly one failing call, while the main goroutine closes a tripped
// breaker in each of the three ways. One failure must never trip it
// again: not by a streak of 3, and not by a rate over a window that must
// be empty, with a time window of many buckets (a slow clear) or a count
// window.
func TestStressOneFailureAfterACloseNeverTrips(t *testing.T) {
	configs := map[string]cb.Config{
		"streak": {ConsecutiveFailures: 3, FailureRateThreshold: cb.Off, SlowCallDuration: cb.Off},
		"rate, time window": {
			ConsecutiveFailures: cb.Off, FailureRateThreshold: 0.5, MinimumCalls: 2,
			Window: 1024 * time.Millisecond, Buckets: 1024, SlowCallDuration: cb.Off,
		},
		"rate, count window": {
			ConsecutiveFailures: cb.Off, FailureRateThreshold: 0.7, MinimumCalls: 3, WindowCalls: 30,
			SlowCallDuration: cb.Off,
		},
	}
	closes := map[string]func(b *cb.Breaker[int], clk *cbtest.Clock){
		"ForceClosed": func(b *cb.Breaker[int], _ *cbtest.Clock) { b.ForceClosed() },
		"Reset":       func(b *cb.Breaker[int], _ *cbtest.Clock) { b.Reset() },
		"probe": func(b *cb.Breaker[int], clk *cbtest.Clock) {
			clk.Advance(time.Second)
			_, r := b.Execute(fnOK)
			require.Equal(t, cb.Success, r.Outcome)
			require.Equal(t, cb.HalfOpen, r.State)
		},
	}
	// The streak is where a call in the gap shows most often (a few times
	// in a thousand trials on two cores before closes were made atomic):
	// it gets the most trials.
	trials := map[string]int{"streak": 30000, "rate, time window": 200, "rate, count window": 3000}
	for cname, cfg := range configs {
		for how, close := range closes {
			t.Run(cname+"/"+how, func(t *testing.T) {
				clk := cbtest.NewClock()
				cfg.Clock, cfg.OpenTimeout, cfg.SuccessThreshold = clk, time.Second, 1
				b := cb.MustNew[int]("gap", cfg)
				retrips, n := 0, trials[cname]
				if testing.Short() {
					n /= 20
				}
				for range n {
					for b.State() == cb.Closed {
						b.Execute(fnFail)
					}
					var wg sync.WaitGroup
					wg.Go(func() {
						for b.State() != cb.Closed { //nolint:revive // a busy wait: the gap lasts nanoseconds
						}
						b.Execute(fnFail)
					})
					close(b, clk)
					wg.Wait()
					if b.State() != cb.Closed {
						retrips++
					}
				}
				assert.Zero(t, retrips, "one failure right after a close tripped the breaker again in %d of %d trials", retrips, n)
			})
		}
	}
}

// Listeners hear the events of concurrent transitions in any order, but a
// listener that keeps the highest Generation always ends on the state the
// breaker is in, however the goroutines raced.
func TestStressListenerMirroringByGenerationEndsOnTheState(t *testing.T) {
	clk := cbtest.NewClock()
	var mu sync.Mutex
	var newest cb.Transition
	b := cb.MustNew[int]("mirror", cb.Config{
		ConsecutiveFailures: 2, OpenTimeout: time.Millisecond, SuccessThreshold: 1, Clock: clk,
		OnStateChange: func(tr cb.Transition) {
			mu.Lock()
			if tr.Generation > newest.Generation {
				newest = tr
			}
			mu.Unlock()
		},
	})
	rounds := 300
	if testing.Short() {
		rounds = 50
	}
	for range rounds {
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := range 20 {
					switch (g + i) % 4 {
					case 0:
						b.Execute(fnFail)
					case 1:
						b.Execute(fnOK)
					case 2:
						clk.Advance(time.Millisecond / 2)
						b.State()
					default:
						if i%7 == 0 {
							b.Reset()
						}
					}
				}
			})
		}
		wg.Wait()
		state := b.State() // makes any transition that time has made due
		mu.Lock()
		got := newest.To
		mu.Unlock()
		if newest.Generation != 0 {
			require.Equal(t, state, got, "the newest event's state is the breaker's")
		}
	}
}
