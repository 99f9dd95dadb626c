package cb_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
)

// --- Generation and OnStateChange ------------------------------------------

// Every transition and every Force*/Reset bumps the generation by one;
// OnStateChange fires once per change of state, with From != To.
func TestGenerationAndEvents(t *testing.T) {
	f := newRuleFixture(t, cb.Config{
		ConsecutiveFailures: 2, MinimumCalls: 4, FailureRateThreshold: 0.5,
		SlowCallDuration: time.Second, SlowCallRateThreshold: 0.5,
		OpenTimeout: 10 * time.Second, SuccessThreshold: 1,
	})
	tr := func(from, to cb.State, gen uint64, reason cb.Reason) cb.Transition {
		return cb.Transition{Name: "rules", From: from, To: to, Generation: gen, Reason: reason}
	}
	steps := []struct {
		name  string
		do    func()
		gen   uint64
		event *cb.Transition // nil: no event
	}{
		{"successes change nothing", func() { f.ok(); f.ok() }, 0, nil},
		{"consecutive failures", func() { f.fail(); f.fail() }, 1, &[]cb.Transition{tr(cb.Closed, cb.Open, 1, cb.ReasonConsecutiveFailures)}[0]},
		{"rejections change nothing", func() { f.ok() }, 1, nil},
		{"open timeout", func() { f.at(10 * time.Second); f.b.State() }, 2, &[]cb.Transition{tr(cb.Open, cb.HalfOpen, 2, cb.ReasonOpenTimeout)}[0]},
		{"probe failed", func() { f.fail() }, 3, &[]cb.Transition{tr(cb.HalfOpen, cb.Open, 3, cb.ReasonProbeFailed)}[0]},
		{"open timeout again", func() { f.at(20 * time.Second); f.m() }, 4, &[]cb.Transition{tr(cb.Open, cb.HalfOpen, 4, cb.ReasonOpenTimeout)}[0]},
		{"probes succeeded", func() { f.ok() }, 5, &[]cb.Transition{tr(cb.HalfOpen, cb.Closed, 5, cb.ReasonProbesSucceeded)}[0]},
		{"failure rate", func() { f.ok(); f.fail(); f.ok(); f.fail() }, 6, &[]cb.Transition{tr(cb.Closed, cb.Open, 6, cb.ReasonFailureRate)}[0]},
		{"ForceHalfOpen", func() { f.b.ForceHalfOpen() }, 7, &[]cb.Transition{tr(cb.Open, cb.HalfOpen, 7, cb.ReasonForcedHalfOpen)}[0]},
		{"ForceHalfOpen again", func() { f.b.ForceHalfOpen() }, 8, nil},
		{"ForceOpen", func() { f.b.ForceOpen() }, 9, &[]cb.Transition{tr(cb.HalfOpen, cb.Open, 9, cb.ReasonForcedOpen)}[0]},
		{"ForceOpen again", func() { f.b.ForceOpen() }, 10, nil},
		{"ForceClosed", func() { f.b.ForceClosed() }, 11, &[]cb.Transition{tr(cb.Open, cb.Closed, 11, cb.ReasonForcedClosed)}[0]},
		{"ForceClosed again", func() { f.b.ForceClosed() }, 12, nil},
		{"Reset while closed", func() { f.b.Reset() }, 13, nil},
		{"ForceOpen from closed", func() { f.b.ForceOpen() }, 14, &[]cb.Transition{tr(cb.Closed, cb.Open, 14, cb.ReasonForcedOpen)}[0]},
		{"Reset", func() { f.b.Reset() }, 15, &[]cb.Transition{tr(cb.Open, cb.Closed, 15, cb.ReasonReset)}[0]},
		{"slow-call rate", func() {
			f.ok()
			f.ok()
			f.call(2*time.Second, nil)
			f.call(2*time.Second, nil)
		}, 16, &[]cb.Transition{tr(cb.Closed, cb.Open, 16, cb.ReasonSlowCallRate)}[0]},
		{"ForceClosed from open", func() { f.b.ForceClosed() }, 17, &[]cb.Transition{tr(cb.Open, cb.Closed, 17, cb.ReasonForcedClosed)}[0]},
		{"ForceHalfOpen from closed", func() { f.b.ForceHalfOpen() }, 18, &[]cb.Transition{tr(cb.Closed, cb.HalfOpen, 18, cb.ReasonForcedHalfOpen)}[0]},
		{"Reset from half-open", func() { f.b.Reset() }, 19, &[]cb.Transition{tr(cb.HalfOpen, cb.Closed, 19, cb.ReasonReset)}[0]},
	}
	for _, s := range steps {
		before := len(f.events)
		s.do()
		require.Equal(t, s.gen, f.m().Generation, s.name)
		if s.event == nil {
			require.Len(t, f.events, before, s.name)
			continue
		}
		require.Len(t, f.events, before+1, s.name)
		assert.Equal(t, *s.event, f.events[before], s.name)
		assert.Equal(t, s.event.To, f.b.State(), s.name)
	}
	for i, e := range f.events {
		assert.NotEqual(t, e.From, e.To, "event %d", i)
	}
}

// A panicking listener is recovered and the breaker goes on working.
func TestPanickingListenerIsRecovered(t *testing.T) {
	calls := 0
	f := newRuleFixture(t, cb.Config{
		ConsecutiveFailures: 1, OpenTimeout: time.Second, SuccessThreshold: 1,
		OnStateChange: func(cb.Transition) { calls++; panic("listener") },
	})
	require.NotPanics(t, func() { f.fail() })
	assert.Equal(t, cb.Open, f.b.State())
	f.at(time.Second)
	require.NotPanics(t, func() { assert.Equal(t, cb.HalfOpen, f.b.State()) })
	require.NotPanics(t, func() { f.ok() })
	assert.Equal(t, cb.Closed, f.b.State())
	require.NotPanics(t, func() { f.b.ForceOpen(); f.b.ForceHalfOpen(); f.b.Reset() })
	assert.Equal(t, 6, calls)
	assert.Len(t, f.events, 6)
	m := f.m()
	assert.Equal(t, cb.Closed, m.State)
	assert.Equal(t, uint64(6), m.Generation)
	assert.Equal(t, uint64(2), m.TotalCalls)
	r := f.ok()
	assert.Equal(t, cb.Success, r.Outcome)
}

// The listener runs after the change is visible, under no lock: it may
// use the breaker.
func TestListenerMayUseTheBreaker(t *testing.T) {
	var b *cb.Breaker[int]
	var seen []cb.State
	var gens []uint64
	f := newRuleFixture(t, cb.Config{
		ConsecutiveFailures: 1, OpenTimeout: time.Second, SuccessThreshold: 1,
		OnStateChange: func(cb.Transition) {
			seen = append(seen, b.State())
			m := b.Metrics()
			gens = append(gens, m.Generation)
		},
	})
	b = f.b
	f.fail()
	f.at(time.Second)
	f.ok()
	assert.Equal(t, []cb.State{cb.Open, cb.HalfOpen, cb.Closed}, seen)
	assert.Equal(t, []uint64{1, 2, 3}, gens)
}

// An outcome admitted under an older generation is stale: counted only in
// TotalStale and reported in CallResult.Stale.
func TestStaleOutcomes(t *testing.T) {
	type panicValue string
	tests := []struct {
		name    string
		change  func(b *cb.Breaker[int])
		run     func(f *ruleFixture, change func()) cb.CallResult[int]
		outcome cb.Outcome
	}{
		{"success", nil, func(f *ruleFixture, change func()) cb.CallResult[int] {
			_, r := f.b.Execute(func() (int, error) { change(); return 1, nil })
			return r
		}, cb.Success},
		{"failure", nil, func(f *ruleFixture, change func()) cb.CallResult[int] {
			_, r := f.b.Execute(func() (int, error) { change(); return 1, errRuleBoom })
			return r
		}, cb.Failure},
		{"slow failure", nil, func(f *ruleFixture, change func()) cb.CallResult[int] {
			_, r := f.b.Execute(func() (int, error) { f.clk.Advance(time.Hour); change(); return 1, errRuleBoom })
			require.True(f.t, r.Slow)
			return r
		}, cb.Failure},
		{"ignored", nil, func(f *ruleFixture, change func()) cb.CallResult[int] {
			_, r := f.b.ExecuteContext(context.Background(), func(context.Context) (int, error) { change(); return 1, context.Canceled })
			return r
		}, cb.Ignored},
		{"panic", nil, func(f *ruleFixture, change func()) cb.CallResult[int] {
			require.PanicsWithValue(f.t, panicValue("p"), func() {
				f.b.Execute(func() (int, error) { change(); panic(panicValue("p")) })
			})
			return cb.CallResult[int]{Outcome: cb.Failure, Stale: true}
		}, cb.Failure},
		{"Allow then Done", nil, func(f *ruleFixture, change func()) cb.CallResult[int] {
			p := f.allow()
			change()
			p.Done(1, errRuleBoom)
			return cb.CallResult[int]{Outcome: cb.Failure, Stale: true}
		}, cb.Failure},
	}
	changes := map[string]func(f *ruleFixture){
		"ForceClosed":   func(f *ruleFixture) { f.b.ForceClosed() },
		"Reset":         func(f *ruleFixture) { f.b.Reset() },
		"ForceOpen":     func(f *ruleFixture) { f.b.ForceOpen() },
		"ForceHalfOpen": func(f *ruleFixture) { f.b.ForceHalfOpen() },
		"a trip": func(f *ruleFixture) {
			f.fail() // a nested call: ConsecutiveFailures 1 trips
		},
	}
	for _, tc := range tests {
		for cname, change := range changes {
			t.Run(tc.name+" across "+cname, func(t *testing.T) {
				f := newRuleFixture(t, cb.Config{ConsecutiveFailures: 1, MinimumCalls: 1, SlowCallDuration: time.Second})
				before := f.m()
				r := tc.run(f, func() { change(f) })
				assert.Equal(t, tc.outcome, r.Outcome)
				assert.True(t, r.Stale)
				m := f.m()
				assert.Equal(t, uint64(1), m.TotalStale)
				assert.Equal(t, before.Generation+1, m.Generation)
				assert.Equal(t, uint64(0), m.TotalIgnored)
				assert.Equal(t, uint64(0), m.ConsecutiveSuccesses)
				wantCalls := uint64(0)
				if cname == "a trip" {
					wantCalls = 1 // the nested failure, not the stale call
				}
				assert.Equal(t, wantCalls, m.TotalCalls)
				assert.Equal(t, wantCalls, m.TotalFailures)
				assert.Equal(t, wantCalls, m.Calls)
				assert.Equal(t, wantCalls, m.ConsecutiveFailures)
				assert.Equal(t, uint64(0), m.SlowCalls)
				assert.Equal(t, 0, m.HalfOpenInFlight)
				if cname == "ForceClosed" || cname == "Reset" {
					assert.Equal(t, cb.Closed, m.State, "a stale failure does not trip")
				}
			})
		}
	}
}

// --- Forcing --------------------------------------------------------------

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
	for name, rel := range releases {
		t.Run(name, func(t *testing.T) {
			f := newRuleFixture(t, cb.Config{OpenTimeout: time.Second, HalfOpenTimeout: time.Second, MaxOpenTimeout: 4 * time.Second})
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
				var oe *cb.OpenError
				require.ErrorAs(t, r.Err, &oe)
				assert.Equal(t, cb.Open, oe.State)
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
}

// Forcing open makes the probes in flight stale.
func TestForceOpenDuringHalfOpen(t *testing.T) {
	f := newRuleFixture(t, cb.Config{SuccessThreshold: 2})
	f.b.ForceHalfOpen()
	p := f.allow()
	f.b.ForceOpen()
	p.Done(1, nil)
	m := f.m()
	assert.Equal(t, cb.Open, m.State)
	assert.True(t, m.Forced)
	assert.Equal(t, uint64(1), m.TotalStale)
	assert.Equal(t, uint64(0), m.TotalCalls)
}

// ForceHalfOpen starts a fresh episode now: full pool, no successes yet,
// the old probes stale.
func TestForceHalfOpenStartsAFreshEpisode(t *testing.T) {
	f := newRuleFixture(t, cb.Config{SuccessThreshold: 2, HalfOpenMaxCalls: 3, OpenTimeout: time.Minute, HalfOpenTimeout: 10 * time.Second})
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

func forceCfg() cb.Config {
	return cb.Config{ConsecutiveFailures: 3, OpenTimeout: time.Second, MaxOpenTimeout: time.Minute, SuccessThreshold: 1, SlowCallDuration: time.Second}
}

// ForceClosed and Reset: closed, not forced, empty window and streaks,
// backoff back at OpenTimeout; only the lifetime totals are kept.
func TestForceClosedAndResetKeepOnlyTotals(t *testing.T) {
	ops := map[string]func(b *cb.Breaker[int]){
		"ForceClosed": func(b *cb.Breaker[int]) { b.ForceClosed() },
		"Reset":       func(b *cb.Breaker[int]) { b.Reset() },
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			f := newRuleFixture(t, forceCfg())
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
}

// Forcing the state a breaker is in still starts a new generation, and
// the window survives ForceOpen and ForceHalfOpen.
func TestForceKeepsWindowExceptWhenClosing(t *testing.T) {
	f := newRuleFixture(t, cb.Config{ConsecutiveFailures: cb.Off, MinimumCalls: 100})
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
}

// Closing empties the window as of that instant: later outcomes of the same
// bucket count, and leave with it.
func TestWindowClearedOnClose(t *testing.T) {
	windows := map[string]cb.Config{
		"time window":  {ConsecutiveFailures: cb.Off, MinimumCalls: 4},
		"count window": {ConsecutiveFailures: cb.Off, MinimumCalls: 4, WindowCalls: 4},
	}
	for name, cfg := range windows {
		t.Run(name, func(t *testing.T) {
			f := newRuleFixture(t, cfg)
			f.at(200 * ms)
			f.fail()
			f.fail()
			f.ok()
			f.at(500 * ms)
			f.b.ForceClosed()
			assert.Equal(t, windowOf{}, f.window())
			f.at(700 * ms)
			f.fail() // 3 of 4 with the calls before the close would trip
			assert.Equal(t, cb.Closed, f.b.State())
			f.ok()
			assert.Equal(t, windowOf{2, 1, 1, 0}, f.window())
			f.ok()
			f.fail() // 2 of 4 since the close
			assert.Equal(t, cb.Open, f.b.State())
			if cfg.WindowCalls == 0 {
				f.at(10 * time.Second)
				assert.Equal(t, windowOf{}, f.window())
			}
		})
	}
}
