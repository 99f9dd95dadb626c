package cb_test

// HalfOpen: an episode hands out exactly HalfOpenMaxCalls probe permits,
// refused beyond with the half-open error and RetryAfter 0;
// SuccessThreshold successes close the breaker with an empty window and
// streaks. Any failure reopens it with the backoff step, and so does a
// probe that succeeds slowly. A probe still out HalfOpenTimeout after the
// episode's clock started fails the episode and comes back stale; the
// clock starts with a probe admitted while no other is out. Ignored
// probes give their permits back. Every test that makes calls runs
// through every entry point.

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
)

func TestHalfOpenPermitsAndClosing(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{ConsecutiveFailures: 1, OpenTimeout: 10 * time.Second, SuccessThreshold: 2, HalfOpenMaxCalls: 3})
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
		assert.EqualError(t, r.Err, `tripswitch: circuit "rules" is half-open and its probes are taken`)
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
	})
}

func TestHalfOpenMaxCallsDefaultsToSuccessThreshold(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		for _, n := range []int{0, 1, 2, 4} { // 0: the default SuccessThreshold, 3
			t.Run(fmt.Sprint(n), func(t *testing.T) {
				f := newRuleFixture(t, via, cb.Config{SuccessThreshold: n})
				f.b.ForceHalfOpen()
				permits := n
				if n == 0 {
					permits = cb.DefaultSuccessThreshold
				}
				for range permits {
					f.allow()
				}
				r := f.ok()
				assert.Equal(t, cb.Rejected, r.Outcome)
				assert.Equal(t, cb.HalfOpen, r.State)
				assert.Equal(t, permits, f.m().HalfOpenInFlight)
			})
		}
	})
}

func TestHalfOpenNeedsSuccessThresholdSuccesses(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{SuccessThreshold: 3, HalfOpenMaxCalls: 5})
		f.b.ForceHalfOpen()
		for i := range 2 {
			r := f.ok()
			require.Equal(t, cb.HalfOpen, r.State)
			require.Equal(t, cb.HalfOpen, f.b.State(), "after %d successes", i+1)
		}
		r := f.ok()
		assert.Equal(t, cb.HalfOpen, r.State)
		assert.Equal(t, cb.Closed, f.b.State())
		assert.Equal(t, cb.ReasonProbesSucceeded, f.lastEvent().Reason)
	})
}

// Any failure reopens, whatever the successes before it.
func TestHalfOpenAnyFailureReopens(t *testing.T) {
	type panicValue struct{ n int }
	failures := map[string]func(f *ruleFixture){
		"error": func(f *ruleFixture) { f.fail() },
		"slow error": func(f *ruleFixture) {
			f.assertSlow(f.call(2*time.Second, errBoom), true)
		},
		"deadline exceeded": func(f *ruleFixture) { f.call(0, context.DeadlineExceeded) },
		"panic": func(f *ruleFixture) {
			f.panics(panicValue{3}, callSpec{panicValue: panicValue{3}})
		},
	}
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		for name, failure := range failures {
			if name == "panic" && via == throughAllowDone {
				continue // no fn to panic in
			}
			for _, before := range []int{0, 2} {
				t.Run(fmt.Sprintf("%s after %d successes", name, before), func(t *testing.T) {
					f := newRuleFixture(t, via, cb.Config{OpenTimeout: 7 * time.Second, SuccessThreshold: 3, HalfOpenMaxCalls: 3, SlowCallDuration: time.Second})
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
	})
}

// With slow-call tracking on, a probe that succeeds slowly fails its
// episode: the breaker reopens, with the backoff step, and the event says
// why. A slow dependency has not recovered; closing on it would trip again
// on the slow-call rate at once.
func TestSlowProbeFailsTheEpisode(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{
			ConsecutiveFailures: 1, OpenTimeout: 10 * time.Second, MaxOpenTimeout: time.Minute,
			SlowCallDuration: time.Second, SuccessThreshold: 2,
		})
		f.fail()
		f.at(10 * time.Second)
		f.assertSlow(f.call(time.Second, nil), false, "exactly SlowCallDuration is not slow")
		assert.Equal(t, uint64(1), f.m().ConsecutiveSuccesses, "a probe success")
		r := f.call(time.Second+1, nil)
		assert.Equal(t, cb.Success, r.Outcome, "the call itself succeeded")
		f.assertSlow(r, true)
		m := f.m()
		assert.Equal(t, cb.Open, m.State)
		assert.Equal(t, 20*time.Second, m.RetryAfter, "the backoff step")
		assert.Equal(t, cb.Transition{Name: "rules", From: cb.HalfOpen, To: cb.Open, Generation: 3, Reason: cb.ReasonProbeSlow}, f.lastEvent())
		assert.Equal(t, uint64(0), m.ConsecutiveSuccesses)

		// Without slow-call tracking, the same probe closes.
		f = newRuleFixture(t, via, cb.Config{ConsecutiveFailures: 1, OpenTimeout: 10 * time.Second, SlowCallDuration: cb.Off, SuccessThreshold: 1})
		f.fail()
		f.at(10 * time.Second)
		f.call(5*time.Second, nil)
		assert.Equal(t, cb.Closed, f.b.State())
	})
}

// Permits of ignored or cancelled calls return to the pool.
func TestHalfOpenIgnoredCallsReturnTheirPermit(t *testing.T) {
	ignoreNegative := cb.WithClassifier(func(v int, _ error) cb.Outcome {
		if v < 0 {
			return cb.Ignored
		}
		return cb.Success
	})
	ways := map[string]struct {
		opts []cb.Option[int]
		call callSpec
	}{
		"context.Canceled":         {call: callSpec{err: context.Canceled}},
		"wrapped context.Canceled": {call: callSpec{err: fmt.Errorf("op: %w", context.Canceled)}},
		"classifier says Ignored":  {opts: []cb.Option[int]{ignoreNegative}, call: callSpec{v: -1}},
	}
	// returns checks that the one permit is still there, and decides.
	returns := func(t *testing.T, f *ruleFixture, ignore func() cb.Outcome) {
		f.b.ForceHalfOpen()
		gen := f.m().Generation
		for range 3 {
			assert.Equal(t, cb.Ignored, ignore())
			m := f.m()
			assert.Equal(t, cb.HalfOpen, m.State)
			assert.Equal(t, 0, m.HalfOpenInFlight)
			assert.Equal(t, gen, m.Generation)
		}
		m := f.m()
		assert.Equal(t, uint64(3), m.TotalIgnored)
		assert.Equal(t, uint64(0), m.TotalCalls)
		assert.Equal(t, uint64(0), m.TotalRejected)
		p := f.allow()
		f.rejected(cb.HalfOpen)
		p.Done(1, nil)
		assert.Equal(t, cb.Closed, f.b.State())
	}
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		for name, way := range ways {
			t.Run(name, func(t *testing.T) {
				f := newRuleFixture(t, via, cb.Config{SuccessThreshold: 1}, way.opts...)
				returns(t, f, func() cb.Outcome { return f.do(way.call).Outcome })
			})
		}
	})
	t.Run("ExecuteContext cancelled while running", func(t *testing.T) {
		f := newRuleFixture(t, throughExecuteContext, cb.Config{SuccessThreshold: 1})
		returns(t, f, func() cb.Outcome {
			ctx, cancel := context.WithCancel(context.Background())
			_, r := f.b.ExecuteContext(ctx, func(ctx context.Context) (int, error) {
				cancel()
				return 0, ctx.Err()
			})
			return r.Outcome
		})
	})
}

// A half-open episode whose probe is still out HalfOpenTimeout after it
// was admitted fails as a failed probe does: the breaker reopens with the
// backoff step, the probes still out come back stale and decide nothing,
// and the event says why.
func TestHalfOpenTimeoutFailsTheEpisode(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{
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
	})
}

// The episode fails when its deadline passes, whoever looks: here the
// probe itself, through State inside fn. The probe is then stale.
func TestHalfOpenTimeoutMakesRunningProbeStale(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{OpenTimeout: 10 * time.Second, HalfOpenTimeout: 5 * time.Second, SuccessThreshold: 1})
		f.b.ForceHalfOpen() // gen 1 at 0
		r := f.do(callSpec{v: 1, inside: func() {
			f.clk.Advance(5 * time.Second)
			require.Equal(t, cb.Open, f.b.State()) // someone looks: the episode has failed
		}})
		f.assertOutcome(r, cb.Success)
		assert.Equal(t, cb.HalfOpen, r.State)
		assert.True(t, r.Stale)
		m := f.m()
		assert.Equal(t, cb.Open, m.State)
		assert.Equal(t, uint64(2), m.Generation)
		assert.Equal(t, uint64(1), m.TotalStale)
		assert.Equal(t, uint64(0), m.TotalCalls)
		assert.Equal(t, 10*time.Second, m.RetryAfter)
	})
}

// A probe that ends after its episode's deadline finds the episode failed
// (dated at the deadline, not at its own end) and is stale, whatever its
// outcome.
func TestHalfOpenProbeEndingAfterHalfOpenTimeoutIsStale(t *testing.T) {
	outcomes := map[string]error{"success": nil, "failure": errBoom}
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		for name, err := range outcomes {
			t.Run(name, func(t *testing.T) {
				f := newRuleFixture(t, via, cb.Config{OpenTimeout: 10 * time.Second, HalfOpenTimeout: 5 * time.Second, SuccessThreshold: 1})
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
	})
}

// An episode with no probe out waits for traffic however long it lasts,
// and a probe admitted late has the whole HalfOpenTimeout to answer: the
// episode's clock starts with a probe admitted while none is out.
func TestHalfOpenProbeClockStartsWithTheProbe(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{
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
		assert.Equal(t, uint64(1), f.m().ConsecutiveSuccesses)

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
		assert.Equal(t, cb.Transition{Name: "rules", From: cb.HalfOpen, To: cb.Open, Generation: 3, Reason: cb.ReasonHalfOpenTimeout}, f.lastEvent())
	})
}

// HalfOpenTimeout defaults to OpenTimeout.
func TestHalfOpenTimeoutDefaultsToOpenTimeout(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{ConsecutiveFailures: 1, OpenTimeout: 10 * time.Second})
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
	})
}

// Probes are refused with the half-open error, never the open one, and
// RetryAfter 0 even right after the transition.
func TestHalfOpenRejectionsCarryZeroRetryAfter(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{ConsecutiveFailures: 1, OpenTimeout: 10 * time.Second, SuccessThreshold: 1, SlowCallDuration: cb.Off})
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
	})
}
