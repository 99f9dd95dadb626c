package cb_test

// Forcing: ForceOpen holds the breaker open, with no timeout, no probes
// and RetryAfter 0, until ForceClosed, ForceHalfOpen or Reset; holding a
// breaker already open is an event too. ForceClosed and Reset leave the
// same state (closed, empty window, cleared streaks and backoff, lifetime
// totals kept) and hold nothing. ForceHalfOpen starts a fresh episode. Each
// starts a new generation, so the calls and probes in flight come back
// stale. Every test that makes calls runs through every entry point.

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
)

// ForceOpen holds the breaker open past any timeout, with RetryAfter 0,
// until ForceClosed, ForceHalfOpen or Reset.
func TestForceOpenHolds(t *testing.T) {
	releases := map[string]struct {
		release func(b *cb.Breaker[int])
		state   cb.State
	}{
		"ForceClosed":   {func(b *cb.Breaker[int]) { b.ForceClosed() }, cb.Closed},
		"ForceHalfOpen": {func(b *cb.Breaker[int]) { b.ForceHalfOpen() }, cb.HalfOpen},
		"Reset":         {func(b *cb.Breaker[int]) { b.Reset() }, cb.Closed},
	}
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		for name, rel := range releases {
			t.Run(name, func(t *testing.T) {
				f := newRuleFixture(t, via, cb.Config{OpenTimeout: time.Second, HalfOpenTimeout: time.Second, MaxOpenTimeout: 4 * time.Second})
				f.ok()
				f.b.ForceOpen()
				for _, at := range []time.Duration{0, time.Second, 4 * time.Second, time.Hour, 1000 * time.Hour} {
					f.at(at)
					m := f.m()
					require.Equal(t, cb.Open, m.State, "at %v", at)
					assert.True(t, m.Forced)
					assert.Equal(t, time.Duration(0), m.RetryAfter)
					assert.Equal(t, at, m.StateSince)
					assert.Equal(t, cb.Open, f.b.State())
					r := f.ok()
					require.Equal(t, cb.Rejected, r.Outcome)
					assert.Equal(t, time.Duration(0), r.RetryAfter, "forced open: RetryAfter 0")
					assert.Equal(t, cb.Open, r.State)
					f.rejected(cb.Open)
				}
				require.Len(t, f.events, 1)
				assert.Equal(t, cb.ReasonForcedOpen, f.events[0].Reason)
				assert.Equal(t, uint64(1), f.m().Generation)

				rel.release(f.b)
				m := f.m()
				assert.Equal(t, rel.state, m.State)
				assert.False(t, m.Forced)
				assert.Equal(t, uint64(2), m.Generation)
				assert.Equal(t, uint64(10), m.TotalRejected)
				assert.Equal(t, uint64(1), m.TotalCalls)
				r := f.ok()
				assert.Equal(t, cb.Success, r.Outcome)
				assert.Equal(t, rel.state, r.State)
			})
		}
	})
}

// Every change of the forced flag is an event, even when the state stays:
// ForceOpen on a breaker already open (by a trip) holds it, and says so.
// A ForceOpen that changes nothing (already held open) tells nothing.
func TestForceOpenOnAnOpenBreakerIsAnEvent(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{ConsecutiveFailures: 1})
		f.fail()
		require.Len(t, f.events, 1)
		f.b.ForceOpen()
		require.Len(t, f.events, 2)
		assert.Equal(t, cb.Transition{Name: "rules", From: cb.Open, To: cb.Open, Generation: 2, Reason: cb.ReasonForcedOpen}, f.events[1])
		assert.True(t, f.m().Forced)
		f.b.ForceOpen()
		assert.Len(t, f.events, 2, "already held open: no change, no event")
		assert.Equal(t, uint64(3), f.m().Generation, "but a new generation, as every Force makes")
	})
}

// Forcing open makes the probes in flight stale.
func TestForceOpenDuringHalfOpen(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{SuccessThreshold: 2})
		f.b.ForceHalfOpen()
		r := f.do(callSpec{v: 1, inside: f.b.ForceOpen})
		assert.Equal(t, cb.HalfOpen, r.State)
		assert.True(t, r.Stale)
		m := f.m()
		assert.Equal(t, cb.Open, m.State)
		assert.True(t, m.Forced)
		assert.Equal(t, uint64(1), m.TotalStale)
		assert.Equal(t, uint64(0), m.TotalCalls)
	})
}

// ForceHalfOpen starts a fresh episode now: full pool, no successes yet,
// the old probes stale.
func TestForceHalfOpenStartsAFreshEpisode(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{SuccessThreshold: 2, HalfOpenMaxCalls: 3, OpenTimeout: time.Minute, HalfOpenTimeout: 10 * time.Second})
		f.at(time.Second)
		f.b.ForceHalfOpen() // gen 1
		m := f.m()
		assert.Equal(t, cb.HalfOpen, m.State)
		assert.Equal(t, time.Duration(0), m.StateSince)
		assert.Equal(t, 0, m.HalfOpenInFlight)

		f.ok() // one success of two
		p1, p2 := f.allow(), f.allow()
		f.rejected(cb.HalfOpen)

		f.at(5 * time.Second)
		f.b.ForceHalfOpen() // gen 2
		m = f.m()
		assert.Equal(t, uint64(2), m.Generation)
		assert.Equal(t, 0, m.HalfOpenInFlight)
		assert.Equal(t, time.Duration(0), m.StateSince)
		p1.Done(1, nil)
		p2.Done(1, nil)
		m = f.m()
		assert.Equal(t, cb.HalfOpen, m.State, "stale successes do not close")
		assert.Equal(t, uint64(2), m.TotalStale)

		f.ok()
		assert.Equal(t, cb.HalfOpen, f.b.State(), "the earlier success belongs to the old episode")
		f.at(time.Hour)
		assert.Equal(t, uint64(2), f.m().Generation, "with no probe out, HalfOpenTimeout ends nothing")
		f.ok()
		assert.Equal(t, cb.Closed, f.b.State())
	})
}

// scenario leaves a breaker with every kind of count and a raised backoff.
func scenario(t *testing.T, f *ruleFixture) cb.Metrics {
	t.Helper()
	f.ok()
	f.ok()
	f.call(2*time.Second, nil) // slow success (the window still holds t=0)
	f.call(0, context.Canceled)
	p := f.allow()
	f.fail()
	f.fail()
	f.fail() // trips (ConsecutiveFailures 3)
	require.Equal(t, cb.Open, f.b.State())
	p.Done(1, nil) // stale
	f.ok()         // rejected
	f.at(f.clk.Now() + time.Second)
	f.fail() // the probe fails: the open time doubles
	require.Equal(t, 2*time.Second, f.m().RetryAfter)
	f.b.ForceOpen()
	m := f.m()
	require.Equal(t, cb.Metrics{
		Name: "rules", State: cb.Open, Forced: true, Generation: 4,
		// The failed probe is in the totals and the streak, not the window.
		Calls: 6, Successes: 3, Failures: 3, SlowCalls: 1,
		FailureRate: 3.0 / 6, SlowCallRate: 1.0 / 6,
		ConsecutiveFailures: 4, ConsecutiveSuccesses: 0,
		TotalCalls: 7, TotalFailures: 4, TotalRejected: 1, TotalIgnored: 1, TotalStale: 1,
		TotalSlowCalls: 1,
		Transitions:    transitions(cb.ReasonConsecutiveFailures, cb.ReasonOpenTimeout, cb.ReasonProbeFailed, cb.ReasonForcedOpen),
	}, m)
	return m
}

// ForceClosed and Reset: closed, not forced, empty window and streaks,
// backoff back at OpenTimeout; only the lifetime totals are kept.
func TestForceClosedAndResetKeepOnlyTotals(t *testing.T) {
	ops := map[string]func(b *cb.Breaker[int]){
		"ForceClosed": func(b *cb.Breaker[int]) { b.ForceClosed() },
		"Reset":       func(b *cb.Breaker[int]) { b.Reset() },
	}
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		for name, op := range ops {
			t.Run(name, func(t *testing.T) {
				f := newRuleFixture(t, via, cb.Config{ConsecutiveFailures: 3, OpenTimeout: time.Second, MaxOpenTimeout: time.Minute, SuccessThreshold: 1, SlowCallDuration: time.Second})
				before := scenario(t, f)
				f.clk.Advance(time.Minute)
				op(f.b)
				m := f.m()
				tr := before.Transitions
				tr[map[string]cb.Reason{"ForceClosed": cb.ReasonForcedClosed, "Reset": cb.ReasonReset}[name]]++
				assert.Equal(t, cb.Metrics{
					Name: "rules", State: cb.Closed, Generation: before.Generation + 1,
					TotalCalls: before.TotalCalls, TotalFailures: before.TotalFailures,
					TotalRejected: before.TotalRejected, TotalIgnored: before.TotalIgnored, TotalStale: before.TotalStale,
					TotalSlowCalls: before.TotalSlowCalls, Transitions: tr,
				}, m)
				// Not held closed: it trips as usual, and the backoff restarted.
				f.fail()
				f.fail()
				assert.Equal(t, cb.Closed, f.b.State())
				f.fail()
				m = f.m()
				assert.Equal(t, cb.Open, m.State)
				assert.Equal(t, time.Second, m.RetryAfter)
				assert.Equal(t, uint64(3), m.Calls)
				assert.Equal(t, before.TotalCalls+3, m.TotalCalls)
			})
		}
	})
}

// Forcing the state a breaker is in still starts a new generation, and
// the window survives ForceOpen and ForceHalfOpen.
func TestForceKeepsWindowExceptWhenClosing(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{ConsecutiveFailures: cb.Off, MinimumCalls: 100})
		f.ok()
		f.fail()
		f.b.ForceOpen()
		assert.Equal(t, windowOf{2, 1, 1, 0}, f.window())
		f.b.ForceHalfOpen()
		assert.Equal(t, windowOf{2, 1, 1, 0}, f.window())
		assert.Equal(t, uint64(1), f.m().ConsecutiveFailures)
		f.b.ForceClosed()
		assert.Equal(t, windowOf{}, f.window())
		assert.Equal(t, uint64(0), f.m().ConsecutiveFailures)
	})
}
