package cb_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
)

// --- Open -----------------------------------------------------------------

func TestOpenRejectsWithTimeLeft(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{ConsecutiveFailures: 1, OpenTimeout: 30 * time.Second})
	f.call(2*time.Second, errBoom) // trips at 2s, when the call ends
	require.Equal(t, cb.Open, f.b.State())

	f.at(12 * time.Second)
	r := f.ok()
	assert.Equal(t, cb.Rejected, r.Outcome)
	assert.Equal(t, cb.Open, r.State)
	assert.Equal(t, 20*time.Second, r.RetryAfter)
	assert.Equal(t, time.Duration(0), r.Duration)
	assert.Equal(t, 0, r.Value)
	assert.False(t, r.Slow)
	assert.False(t, r.Stale)
	require.ErrorIs(t, r.Err, cb.ErrOpen)
	var oe *cb.OpenError
	require.ErrorAs(t, r.Err, &oe)
	assert.Equal(t, [2]any{"rules", cb.Open}, [2]any{oe.Name, oe.State})
	assert.Equal(t, `tripswitch: circuit "rules" is open`, r.Err.Error())

	f.at(32*time.Second - 1)
	r2 := f.ok()
	assert.Equal(t, time.Duration(1), r2.RetryAfter)
	assert.Same(t, r.Err, r2.Err, "the *OpenError is preallocated")

	_, r3 := f.b.ExecuteContext(context.Background(), func(context.Context) (int, error) {
		t.Error("fn must not run while open")
		return 1, nil
	})
	assert.Equal(t, cb.Rejected, r3.Outcome)
	assert.Equal(t, time.Duration(1), r3.RetryAfter)
	assert.ErrorIs(t, r3.Err, cb.ErrOpen)
	f.rejected(cb.Open)

	m := f.m()
	assert.Equal(t, time.Duration(1), m.RetryAfter)
	assert.Equal(t, uint64(4), m.TotalRejected)
	assert.Equal(t, uint64(1), m.TotalCalls, "rejections are not calls")
	assert.Len(t, f.events, 1)
}

// At openedAt+OpenTimeout the breaker is HalfOpen, and whichever of State,
// Metrics, Execute or Allow looks first makes the transition, once.
func TestOpenBecomesHalfOpenAtTheDeadline(t *testing.T) {
	observers := map[string]func(f *ruleFixture) cb.State{
		"State":   func(f *ruleFixture) cb.State { return f.b.State() },
		"Metrics": func(f *ruleFixture) cb.State { return f.m().State },
		"Execute": func(f *ruleFixture) cb.State {
			r := f.ok()
			if r.Outcome == cb.Rejected {
				return cb.Open
			}
			return r.State
		},
		"Allow": func(f *ruleFixture) cb.State {
			p, err := f.b.Allow()
			if err != nil {
				return cb.Open
			}
			p.Done(0, context.Canceled) // give the permit back
			return cb.HalfOpen          // admitted, so no longer open
		},
	}
	for name, observe := range observers {
		t.Run(name, func(t *testing.T) {
			f := newRuleFixture(t, throughExecute, cb.Config{ConsecutiveFailures: 1, OpenTimeout: 10 * time.Second, SuccessThreshold: 5})
			f.at(time.Second)
			f.fail() // opened at 1s
			f.at(11*time.Second - 1)
			assert.Equal(t, cb.Open, observe(f))
			require.Len(t, f.events, 1)
			f.at(11 * time.Second)
			assert.Equal(t, cb.HalfOpen, observe(f))
			require.Len(t, f.events, 2)
			assert.Equal(t, cb.Transition{Name: "rules", From: cb.Open, To: cb.HalfOpen, Generation: 2, Reason: cb.ReasonOpenTimeout}, f.events[1])
			for range 10 {
				assert.Equal(t, cb.HalfOpen, f.b.State())
				assert.Equal(t, cb.HalfOpen, f.m().State)
			}
			assert.Len(t, f.events, 2, "one event per transition, however many look")
			assert.Equal(t, uint64(2), f.m().Generation)
		})
	}
}

// The transition is dated at the deadline, not when it is noticed.
func TestOpenTransitionDatedAtDeadline(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{ConsecutiveFailures: 1, OpenTimeout: 10 * time.Second, HalfOpenTimeout: time.Minute})
	f.fail()
	f.at(14 * time.Second)
	m := f.m()
	assert.Equal(t, cb.HalfOpen, m.State)
	assert.Equal(t, 4*time.Second, m.StateSince)
	assert.Equal(t, time.Duration(0), m.RetryAfter)
}

// --- Backoff --------------------------------------------------------------

func TestBackoffDoublesUpToMaxOpenTimeout(t *testing.T) {
	tests := []struct {
		name string
		max  time.Duration
		want []time.Duration // open time of each successive failed episode
	}{
		{"no backoff", 0, []time.Duration{1, 1, 1, 1, 1}},
		{"cap equal to OpenTimeout", 1, []time.Duration{1, 1, 1, 1}},
		{"cap 3s", 3, []time.Duration{1, 2, 3, 3, 3}},
		{"cap 5s", 5, []time.Duration{1, 2, 4, 5, 5, 5}},
		{"cap 8s", 8, []time.Duration{1, 2, 4, 8, 8}},
		{"cap 1h", 3600, []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600, 3600}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newRuleFixture(t, throughExecute, cb.Config{
				ConsecutiveFailures: 1, SuccessThreshold: 1,
				OpenTimeout: time.Second, MaxOpenTimeout: tc.max * time.Second,
			})
			f.fail()
			for i, w := range tc.want {
				open := w * time.Second
				opened := f.clk.Now()
				m := f.m()
				require.Equal(t, cb.Open, m.State, "episode %d", i)
				require.Equal(t, open, m.RetryAfter, "open time %d", i)
				f.at(opened + open - 1)
				require.Equal(t, cb.Open, f.b.State(), "episode %d", i)
				require.Equal(t, time.Duration(1), f.ok().RetryAfter)
				f.at(opened + open)
				require.Equal(t, cb.HalfOpen, f.b.State(), "episode %d", i)
				r := f.fail()
				require.Equal(t, cb.HalfOpen, r.State)
			}
			// Closing returns the open time to OpenTimeout.
			last := tc.want[len(tc.want)-1] * time.Second
			f.at(f.clk.Now() + last)
			r := f.ok()
			require.Equal(t, cb.HalfOpen, r.State)
			require.Equal(t, cb.Closed, f.b.State())
			f.fail()
			assert.Equal(t, time.Second, f.m().RetryAfter)
		})
	}
}

// backoffTo fails half-open episodes until the open time is want.
func backoffTo(t *testing.T, f *ruleFixture, want time.Duration) {
	t.Helper()
	f.trip()
	for range 10 {
		m := f.m()
		if m.RetryAfter == want {
			return
		}
		f.at(f.clk.Now() + m.RetryAfter)
		require.Equal(t, cb.HalfOpen, f.fail().State)
	}
	t.Fatalf("open time never reached %v", want)
}

// The backoff returns to OpenTimeout on ForceClosed and Reset; ForceOpen and
// ForceHalfOpen keep it (the package docs' decision for ForceHalfOpen).
func TestBackoffResets(t *testing.T) {
	tests := []struct {
		name string
		op   func(b *cb.Breaker[int])
		want time.Duration // open time of the next trip or failed probe
	}{
		{"ForceClosed", func(b *cb.Breaker[int]) { b.ForceClosed() }, time.Second},
		{"Reset", func(b *cb.Breaker[int]) { b.Reset() }, time.Second},
		{"ForceClosed, then a failed ForceHalfOpen episode", func(b *cb.Breaker[int]) { b.ForceClosed(); b.ForceHalfOpen() }, 2 * time.Second},
		{"Reset, then a failed ForceHalfOpen episode", func(b *cb.Breaker[int]) { b.Reset(); b.ForceHalfOpen() }, 2 * time.Second},
		{"ForceHalfOpen keeps the level", func(b *cb.Breaker[int]) { b.ForceHalfOpen() }, 8 * time.Second},
		{"ForceOpen then ForceHalfOpen keep the level", func(b *cb.Breaker[int]) { b.ForceOpen(); b.ForceHalfOpen() }, 8 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newRuleFixture(t, throughExecute, cb.Config{ConsecutiveFailures: 1, SuccessThreshold: 1, OpenTimeout: time.Second, MaxOpenTimeout: time.Minute})
			backoffTo(t, f, 4*time.Second)
			tc.op(f.b)
			f.fail() // trips from closed, or fails the probe
			m := f.m()
			require.Equal(t, cb.Open, m.State)
			assert.Equal(t, tc.want, m.RetryAfter)
		})
	}
}

// --- HalfOpen -------------------------------------------------------------

func TestHalfOpenPermitsAndClosing(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{ConsecutiveFailures: 1, OpenTimeout: 10 * time.Second, SuccessThreshold: 2, HalfOpenMaxCalls: 3})
	f.fail()
	f.at(10 * time.Second)
	p1, p2, p3 := f.allow(), f.allow(), f.allow()
	m := f.m()
	assert.Equal(t, cb.HalfOpen, m.State)
	assert.Equal(t, 3, m.HalfOpenInFlight)

	f.rejected(cb.HalfOpen)
	r := f.ok()
	assert.Equal(t, cb.Rejected, r.Outcome)
	assert.Equal(t, cb.HalfOpen, r.State)
	assert.Equal(t, time.Duration(0), r.RetryAfter, "half-open rejections carry RetryAfter 0")
	require.ErrorIs(t, r.Err, cb.ErrOpen)
	var oe *cb.OpenError
	require.ErrorAs(t, r.Err, &oe)
	assert.Equal(t, [2]any{"rules", cb.HalfOpen}, [2]any{oe.Name, oe.State})
	assert.Equal(t, `tripswitch: circuit "rules" is half-open and its probes are taken`, r.Err.Error())
	assert.Equal(t, uint64(2), f.m().TotalRejected)
	assert.Equal(t, time.Duration(0), f.m().RetryAfter)

	f.clk.Advance(time.Second)
	p1.Done(1, nil)
	m = f.m()
	assert.Equal(t, cb.HalfOpen, m.State)
	assert.Equal(t, 2, m.HalfOpenInFlight)
	assert.Equal(t, uint64(1), m.ConsecutiveSuccesses)
	assert.Equal(t, uint64(0), m.ConsecutiveFailures, "a probe success ends the failure streak")
	f.rejected(cb.HalfOpen) // a finished probe does not free a permit

	p2.Done(1, nil)
	m = f.m()
	assert.Equal(t, cb.Closed, m.State)
	assert.Equal(t, uint64(0), m.Calls, "closing empties the window")
	assert.Equal(t, uint64(0), m.Failures)
	assert.Equal(t, uint64(0), m.ConsecutiveFailures)
	assert.Equal(t, uint64(0), m.ConsecutiveSuccesses)
	assert.Equal(t, 0, m.HalfOpenInFlight)
	assert.Equal(t, uint64(3), m.TotalCalls)
	assert.Equal(t, uint64(1), m.TotalFailures)
	require.Len(t, f.events, 3)
	assert.Equal(t, cb.Transition{Name: "rules", From: cb.HalfOpen, To: cb.Closed, Generation: 3, Reason: cb.ReasonProbesSucceeded}, f.events[2])

	p3.Done(1, nil) // its episode is over: stale
	m = f.m()
	assert.Equal(t, uint64(1), m.TotalStale)
	assert.Equal(t, uint64(3), m.TotalCalls)
	assert.Equal(t, uint64(0), m.Calls)
	assert.Equal(t, cb.Closed, m.State)
}

func TestHalfOpenMaxCallsDefaultsToSuccessThreshold(t *testing.T) {
	for _, n := range []int{1, 2, 4} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			f := newRuleFixture(t, throughExecute, cb.Config{SuccessThreshold: n})
			f.b.ForceHalfOpen()
			for range n {
				f.allow()
			}
			f.rejected(cb.HalfOpen)
			assert.Equal(t, n, f.m().HalfOpenInFlight)
		})
	}
	t.Run("default 3", func(t *testing.T) {
		f := newRuleFixture(t, throughExecute, cb.Config{})
		f.b.ForceHalfOpen()
		f.allow()
		f.allow()
		f.allow()
		f.rejected(cb.HalfOpen)
	})
}

func TestHalfOpenNeedsSuccessThresholdSuccesses(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{SuccessThreshold: 3, HalfOpenMaxCalls: 5})
	f.b.ForceHalfOpen()
	for i := range 2 {
		r := f.ok()
		require.Equal(t, cb.HalfOpen, r.State)
		require.Equal(t, cb.HalfOpen, f.b.State(), "after %d successes", i+1)
	}
	r := f.ok()
	assert.Equal(t, cb.HalfOpen, r.State)
	assert.Equal(t, cb.Closed, f.b.State())
	assert.Equal(t, cb.ReasonProbesSucceeded, f.events[len(f.events)-1].Reason)
}

// Any failure reopens, whatever the successes before it.
func TestHalfOpenAnyFailureReopens(t *testing.T) {
	type panicValue struct{ n int }
	failures := map[string]func(f *ruleFixture){
		"error": func(f *ruleFixture) { f.fail() },
		"slow error": func(f *ruleFixture) {
			assert.True(f.t, f.call(2*time.Second, errBoom).Slow)
		},
		"deadline exceeded": func(f *ruleFixture) { f.call(0, context.DeadlineExceeded) },
		"panic in Execute": func(f *ruleFixture) {
			require.PanicsWithValue(f.t, panicValue{3}, func() {
				f.b.Execute(func() (int, error) { panic(panicValue{3}) })
			})
		},
		"panic in ExecuteContext": func(f *ruleFixture) {
			require.PanicsWithValue(f.t, panicValue{4}, func() {
				f.b.ExecuteContext(context.Background(), func(context.Context) (int, error) { panic(panicValue{4}) })
			})
		},
		"Done with an error": func(f *ruleFixture) { f.allow().Done(0, errBoom) },
	}
	for name, failure := range failures {
		for _, before := range []int{0, 2} {
			t.Run(fmt.Sprintf("%s after %d successes", name, before), func(t *testing.T) {
				f := newRuleFixture(t, throughExecute, cb.Config{OpenTimeout: 7 * time.Second, SuccessThreshold: 3, HalfOpenMaxCalls: 3, SlowCallDuration: time.Second})
				f.at(time.Second)
				f.b.ForceHalfOpen()
				for range before {
					f.ok()
				}
				f.at(2 * time.Second)
				failure(f)
				m := f.m()
				assert.Equal(t, cb.Open, m.State)
				assert.Equal(t, 7*time.Second, m.RetryAfter)
				assert.Equal(t, uint64(1), m.TotalFailures)
				assert.Equal(t, uint64(1), m.ConsecutiveFailures)
				assert.Equal(t, uint64(2), m.Generation, "ForceHalfOpen, then the reopening")
				require.Len(t, f.events, 2)
				assert.Equal(t, cb.Transition{Name: "rules", From: cb.HalfOpen, To: cb.Open, Generation: 2, Reason: cb.ReasonProbeFailed}, f.events[1])
			})
		}
	}
}

// Permits of ignored or cancelled calls return to the pool.
func TestHalfOpenIgnoredCallsReturnTheirPermit(t *testing.T) {
	ways := map[string]func(f *ruleFixture) cb.Outcome{
		"Done with context.Canceled": func(f *ruleFixture) cb.Outcome {
			f.allow().Done(0, context.Canceled)
			return cb.Ignored
		},
		"Execute returning a wrapped context.Canceled": func(f *ruleFixture) cb.Outcome {
			return f.call(0, fmt.Errorf("op: %w", context.Canceled)).Outcome
		},
		"ExecuteContext cancelled while running": func(f *ruleFixture) cb.Outcome {
			ctx, cancel := context.WithCancel(context.Background())
			_, r := f.b.ExecuteContext(ctx, func(ctx context.Context) (int, error) {
				cancel()
				return 0, ctx.Err()
			})
			return r.Outcome
		},
		"classifier says Ignored": nil, // see below
	}
	for name, ignore := range ways {
		t.Run(name, func(t *testing.T) {
			var opts []cb.Option[int]
			if ignore == nil {
				opts = append(opts, cb.WithClassifier(func(v int, _ error) cb.Outcome {
					if v < 0 {
						return cb.Ignored
					}
					return cb.Success
				}))
				ignore = func(f *ruleFixture) cb.Outcome {
					_, r := f.b.Execute(func() (int, error) { return -1, nil })
					return r.Outcome
				}
			}
			f := newRuleFixture(t, throughExecute, cb.Config{SuccessThreshold: 1}, opts...)
			f.b.ForceHalfOpen()
			gen := f.m().Generation
			for range 3 {
				assert.Equal(t, cb.Ignored, ignore(f))
				m := f.m()
				assert.Equal(t, cb.HalfOpen, m.State)
				assert.Equal(t, 0, m.HalfOpenInFlight)
				assert.Equal(t, gen, m.Generation)
			}
			m := f.m()
			assert.Equal(t, uint64(3), m.TotalIgnored)
			assert.Equal(t, uint64(0), m.TotalCalls)
			assert.Equal(t, uint64(0), m.TotalRejected)
			// The one permit is still there, and decides.
			p := f.allow()
			f.rejected(cb.HalfOpen)
			p.Done(1, nil)
			assert.Equal(t, cb.Closed, f.b.State())
		})
	}
}

// A half-open episode whose probe is still out HalfOpenTimeout after it
// was admitted fails as a failed probe does: the breaker reopens with the
// backoff step, the probes still out come back stale and decide nothing,
// and the event says why.
func TestHalfOpenTimeoutFailsTheEpisode(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{
		ConsecutiveFailures: 1, OpenTimeout: 10 * time.Second, MaxOpenTimeout: 40 * time.Second,
		HalfOpenTimeout: 5 * time.Second, SuccessThreshold: 2,
	})
	f.fail()                 // gen 1, open at 0
	f.at(10 * time.Second)   // gen 2, half-open at 10s
	p1 := f.allow()          // the episode's clock starts: it fails at 15s
	f.at(15*time.Second - 1) //
	p2 := f.allow()
	f.rejected(cb.HalfOpen)
	assert.Equal(t, uint64(2), f.m().Generation)

	f.at(15 * time.Second)
	m := f.m()
	assert.Equal(t, cb.Open, m.State)
	assert.Equal(t, uint64(3), m.Generation)
	assert.Equal(t, 0, m.HalfOpenInFlight)
	assert.Equal(t, time.Duration(0), m.StateSince)
	assert.Equal(t, 20*time.Second, m.RetryAfter, "the backoff step: the open time doubles")
	require.Len(t, f.events, 3)
	assert.Equal(t, cb.Transition{Name: "rules", From: cb.HalfOpen, To: cb.Open, Generation: 3, Reason: cb.ReasonHalfOpenTimeout}, f.events[2])

	p1.Done(1, nil)     // stale: does not count toward closing
	p2.Done(0, errBoom) // stale: does not reopen again
	m = f.m()
	assert.Equal(t, cb.Open, m.State)
	assert.Equal(t, uint64(3), m.Generation)
	assert.Equal(t, uint64(2), m.TotalStale)
	assert.Equal(t, uint64(1), m.TotalCalls)
	assert.Equal(t, uint64(1), m.TotalFailures)

	f.at(35 * time.Second)
	f.ok()
	f.ok()
	assert.Equal(t, cb.Closed, f.b.State())
	require.Len(t, f.events, 5)
	assert.Equal(t, cb.Transition{Name: "rules", From: cb.HalfOpen, To: cb.Closed, Generation: 5, Reason: cb.ReasonProbesSucceeded}, f.events[4])
}

// The episode fails when its deadline passes, whoever looks: here the
// probe itself, through State inside fn. The probe is then stale.
func TestHalfOpenTimeoutMakesRunningProbeStale(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{OpenTimeout: 10 * time.Second, HalfOpenTimeout: 5 * time.Second, SuccessThreshold: 1})
	f.b.ForceHalfOpen() // gen 1 at 0
	_, r := f.b.Execute(func() (int, error) {
		f.clk.Advance(5 * time.Second)
		require.Equal(t, cb.Open, f.b.State()) // someone looks: the episode has failed
		return 1, nil
	})
	assert.Equal(t, cb.Success, r.Outcome)
	assert.Equal(t, cb.HalfOpen, r.State)
	assert.True(t, r.Stale)
	m := f.m()
	assert.Equal(t, cb.Open, m.State)
	assert.Equal(t, uint64(2), m.Generation)
	assert.Equal(t, uint64(1), m.TotalStale)
	assert.Equal(t, uint64(0), m.TotalCalls)
	assert.Equal(t, 10*time.Second, m.RetryAfter)
}

// A probe that ends after its episode's deadline finds the episode failed
// (dated at the deadline, not at its own end) and is stale, whatever its
// outcome.
func TestHalfOpenProbeEndingAfterHalfOpenTimeoutIsStale(t *testing.T) {
	outcomes := map[string]error{"success": nil, "failure": errBoom}
	for name, err := range outcomes {
		t.Run(name, func(t *testing.T) {
			f := newRuleFixture(t, throughExecute, cb.Config{OpenTimeout: 10 * time.Second, HalfOpenTimeout: 5 * time.Second, SuccessThreshold: 1})
			f.b.ForceHalfOpen() // gen 1 at 0
			r := f.call(6*time.Second, err)
			assert.Equal(t, cb.HalfOpen, r.State)
			assert.True(t, r.Stale, "the probe ended 1s after its episode failed")
			m := f.m()
			assert.Equal(t, cb.Open, m.State)
			assert.Equal(t, uint64(2), m.Generation)
			assert.Equal(t, uint64(1), m.TotalStale)
			assert.Equal(t, uint64(0), m.TotalCalls)
			assert.Equal(t, time.Second, m.StateSince)
			assert.Equal(t, 9*time.Second, m.RetryAfter)
		})
	}
}

// An episode with no probe out waits for traffic however long it lasts,
// and a probe admitted late has the whole HalfOpenTimeout to answer: the
// episode's clock starts with a probe admitted while none is out.
func TestHalfOpenProbeClockStartsWithTheProbe(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{
		ConsecutiveFailures: 1, OpenTimeout: 10 * time.Second, HalfOpenTimeout: 5 * time.Second,
		SuccessThreshold: 4, HalfOpenMaxCalls: 4, SlowCallDuration: cb.Off,
	})
	f.fail()
	f.at(10 * time.Second)
	assert.Equal(t, cb.HalfOpen, f.b.State())
	f.at(time.Hour) // no probe was out: nothing to time out
	m := f.m()
	assert.Equal(t, cb.HalfOpen, m.State)
	assert.Equal(t, uint64(2), m.Generation)
	assert.Equal(t, time.Hour-10*time.Second, m.StateSince)

	r := f.call(5*time.Second-1, nil) // admitted at 1h: its deadline is 1h+5s
	assert.False(t, r.Stale)
	assert.Equal(t, 1, int(f.m().ConsecutiveSuccesses))

	// An ignored probe gives its permit back; the next probe taken while
	// none is out starts the clock again.
	p := f.allow() // at 1h+5s-1ns: deadline 1h+10s-1ns
	f.at(time.Hour + 7*time.Second)
	p.Done(0, context.Canceled)
	q := f.allow() // at 1h+7s: deadline 1h+12s
	f.at(time.Hour + 12*time.Second - 1)
	assert.Equal(t, cb.HalfOpen, f.b.State())
	q.Done(1, nil)
	// A probe admitted while another is out runs on that one's clock.
	p = f.allow() // at 1h+12s-1ns: deadline 1h+17s-1ns
	f.at(time.Hour + 14*time.Second)
	q = f.allow()
	f.at(time.Hour + 17*time.Second - 2)
	assert.Equal(t, cb.HalfOpen, f.b.State())
	f.at(time.Hour + 17*time.Second - 1)
	assert.Equal(t, cb.Open, f.b.State(), "q runs on p's clock")
	p.Done(1, nil)
	q.Done(1, nil)
	m = f.m()
	assert.Equal(t, uint64(2), m.TotalStale)
	assert.Equal(t, cb.Transition{Name: "rules", From: cb.HalfOpen, To: cb.Open, Generation: 3, Reason: cb.ReasonHalfOpenTimeout}, f.events[len(f.events)-1])
}

// HalfOpenTimeout defaults to OpenTimeout.
func TestHalfOpenTimeoutDefaultsToOpenTimeout(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{ConsecutiveFailures: 1, OpenTimeout: 10 * time.Second})
	f.fail()
	f.at(10 * time.Second)
	p := f.allow()
	f.at(20*time.Second - 1)
	assert.Equal(t, uint64(2), f.m().Generation)
	assert.Equal(t, 1, f.m().HalfOpenInFlight)
	f.at(20 * time.Second)
	assert.Equal(t, uint64(3), f.m().Generation)
	assert.Equal(t, cb.Open, f.m().State)
	p.Done(1, nil)
	assert.Equal(t, uint64(1), f.m().TotalStale)
}

// Probes are refused with the half-open error, never the open one, and
// RetryAfter 0 even right after the transition.
func TestHalfOpenRejectionsCarryZeroRetryAfter(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{ConsecutiveFailures: 1, OpenTimeout: 10 * time.Second, SuccessThreshold: 1, SlowCallDuration: cb.Off})
	f.fail()
	f.at(10 * time.Second)
	p := f.allow()
	for _, at := range []time.Duration{10 * time.Second, 12 * time.Second, 20*time.Second - 1} {
		f.at(at)
		r := f.ok()
		require.Equal(t, cb.Rejected, r.Outcome)
		assert.Equal(t, cb.HalfOpen, r.State)
		assert.Equal(t, time.Duration(0), r.RetryAfter)
		var oe *cb.OpenError
		require.ErrorAs(t, r.Err, &oe)
		assert.Equal(t, cb.HalfOpen, oe.State)
	}
	p.Done(1, nil) // at 20s-1ns, just before the episode would fail
	assert.Equal(t, cb.Closed, f.b.State())
	assert.Equal(t, uint64(0), f.m().TotalStale)
}

// The open time keeps doubling until it reaches MaxOpenTimeout, however
// many failed episodes that takes.
func TestBackoffReachesALargeCap(t *testing.T) {
	const maxOpen = 1000 * time.Hour
	f := newRuleFixture(t, throughExecute, cb.Config{ConsecutiveFailures: 1, SuccessThreshold: 1, OpenTimeout: time.Millisecond, MaxOpenTimeout: maxOpen})
	f.fail()
	want := time.Millisecond
	for i := range 40 {
		m := f.m()
		require.Equal(t, cb.Open, m.State)
		require.Equal(t, want, m.RetryAfter, "open time after %d failed episodes", i)
		f.at(f.clk.Now() + want)
		require.Equal(t, cb.HalfOpen, f.fail().State)
		want = min(2*want, maxOpen)
	}
	assert.Equal(t, maxOpen, want)
}
