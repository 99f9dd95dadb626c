package cb_test

// Tests of design.md §3 (Semantics), one rule at a time, each on a fake
// clock so that every figure asserted is exact. This file holds the shared
// fixture and the rules of the window and of the closed state; the other
// rules_*_test.go files hold the rest.

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
)

// --- Window ---------------------------------------------------------------

// An outcome counts while its bucket is one of the newest Buckets: it
// leaves the window when the bucket Buckets after its own begins, so it is
// counted for between Window-width and Window.
func TestTimeWindowBucketBoundaries(t *testing.T) {
	type check struct {
		at    time.Duration
		calls uint64
	}
	tests := []struct {
		name    string
		window  time.Duration
		buckets int
		record  time.Duration // one success recorded at this reading
		checks  []check
	}{
		{
			"t=0 is counted until just before Window", 10 * time.Second, 10, 0,
			[]check{{0, 1}, {5 * time.Second, 1}, {9999 * ms, 1}, {10*time.Second - 1, 1}, {10 * time.Second, 0}, {11 * time.Second, 0}},
		},
		{
			"t=0.5s leaves with its bucket at 10s, after 9.5s", 10 * time.Second, 10, 500 * ms,
			[]check{{9999 * ms, 1}, {10*time.Second - 1, 1}, {10 * time.Second, 0}, {10400 * ms, 0}},
		},
		{
			"t=0.999999999s leaves at 10s", 10 * time.Second, 10, time.Second - 1,
			[]check{{10*time.Second - 1, 1}, {10 * time.Second, 0}},
		},
		{
			"t=1s is in bucket 1 and leaves at 11s", 10 * time.Second, 10, time.Second,
			[]check{{10 * time.Second, 1}, {10999 * ms, 1}, {11*time.Second - 1, 1}, {11 * time.Second, 0}},
		},
		{
			"t=9.5s leaves at 19s", 10 * time.Second, 10, 9500 * ms,
			[]check{{18999 * ms, 1}, {19 * time.Second, 0}},
		},
		{
			"1s in 4 buckets of 250ms: t=0.3s leaves at 1.25s", time.Second, 4, 300 * ms,
			[]check{{1249 * ms, 1}, {1250*ms - 1, 1}, {1250 * ms, 0}},
		},
		{
			"10ms in 10 buckets of 1ms: t=3.5ms leaves at 13ms", 10 * ms, 10, 3500 * time.Microsecond,
			[]check{{13*ms - 1, 1}, {13 * ms, 0}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newRuleFixture(t, throughExecute, neverTrips(cb.Config{Window: tc.window, Buckets: tc.buckets, MinimumCalls: 1}))
			f.at(tc.record)
			f.ok()
			for _, c := range tc.checks {
				f.at(c.at)
				assert.Equal(t, c.calls, f.m().Calls, "window calls at %v", c.at)
				assert.Equal(t, uint64(1), f.m().TotalCalls, "lifetime calls at %v", c.at)
			}
		})
	}
}

// Outcomes of several buckets leave one bucket at a time, each kind with
// its own count.
func TestTimeWindowSlidesBucketByBucket(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{
		Window: 10 * time.Second, Buckets: 10, MinimumCalls: 100,
		ConsecutiveFailures: cb.Off, FailureRateThreshold: cb.Off, SlowCallDuration: time.Second,
	})
	f.at(200 * ms)
	f.fail() // bucket 0
	f.at(3700 * ms)
	f.ok()                         // bucket 3
	f.call(2*time.Second, nil)     // slow success ending at 5.7s: bucket 5
	f.call(2*time.Second, errBoom) // slow failure ending at 7.7s: bucket 7
	f.at(9900 * ms)
	f.fail() // bucket 9

	steps := []struct {
		at   time.Duration
		want windowOf
	}{
		{9999 * ms, windowOf{5, 2, 3, 2}},
		{10 * time.Second, windowOf{4, 2, 2, 2}},   // bucket 0 gone
		{12999 * ms, windowOf{4, 2, 2, 2}},         //
		{13 * time.Second, windowOf{3, 1, 2, 2}},   // bucket 3 gone
		{15*time.Second - 1, windowOf{3, 1, 2, 2}}, //
		{15 * time.Second, windowOf{2, 0, 2, 1}},   // bucket 5 gone
		{17 * time.Second, windowOf{1, 0, 1, 0}},   // bucket 7 gone
		{18999 * ms, windowOf{1, 0, 1, 0}},         //
		{19 * time.Second, windowOf{0, 0, 0, 0}},   // bucket 9 gone
		{100 * time.Second, windowOf{0, 0, 0, 0}},  //
	}
	for _, s := range steps {
		f.at(s.at)
		assert.Equal(t, s.want, f.window(), "at %v", s.at)
	}
	m := f.m()
	assert.Equal(t, uint64(5), m.TotalCalls)
	assert.Equal(t, uint64(3), m.TotalFailures)
}

// After an idle gap longer than the window nothing old is counted, and
// the outcomes after the gap are counted exactly.
func TestTimeWindowIdleGapLongerThanWindow(t *testing.T) {
	f := newRuleFixture(t, throughExecute, neverTrips(cb.Config{Window: 10 * time.Second, Buckets: 10, MinimumCalls: 1}))
	for i := range 6 {
		f.at(time.Duration(i) * 400 * ms)
		if i%2 == 0 {
			f.fail()
		} else {
			f.ok()
		}
	}
	assert.Equal(t, windowOf{6, 3, 3, 0}, f.window())

	f.at(25300 * ms)
	assert.Equal(t, windowOf{}, f.window(), "everything before the gap is gone")
	f.ok()
	f.ok()
	f.fail()
	assert.Equal(t, windowOf{3, 2, 1, 0}, f.window())
	f.at(34999 * ms)
	assert.Equal(t, windowOf{3, 2, 1, 0}, f.window())
	f.at(35 * time.Second)
	assert.Equal(t, windowOf{}, f.window())
	m := f.m()
	assert.Equal(t, uint64(9), m.TotalCalls)
	assert.Equal(t, uint64(4), m.TotalFailures)
}

// A gap a little longer than the window, then outcomes on both sides of a
// partial slide.
func TestTimeWindowGapCrossingPartOfTheRing(t *testing.T) {
	f := newRuleFixture(t, throughExecute, neverTrips(cb.Config{Window: 10 * time.Second, Buckets: 10, MinimumCalls: 1}))
	f.ok() // bucket 0
	f.at(12 * time.Second)
	f.fail() // bucket 12: bucket 0 has left
	assert.Equal(t, windowOf{1, 0, 1, 0}, f.window())
	f.at(15500 * ms)
	f.ok() // bucket 15
	assert.Equal(t, windowOf{2, 1, 1, 0}, f.window())
	f.at(22 * time.Second)
	assert.Equal(t, windowOf{1, 1, 0, 0}, f.window())
	f.at(25 * time.Second)
	assert.Equal(t, windowOf{}, f.window())
}

func TestTimeWindowWithNegativeReadings(t *testing.T) {
	clk := &settableClock{now: -10 * time.Second}
	b, err := cb.New[int]("neg", neverTrips(cb.Config{Clock: clk, MinimumCalls: 1}))
	require.NoError(t, err)
	b.Execute(func() (int, error) { return 0, errBoom }) // -10s: bucket -10
	clk.now = -500 * ms
	b.Execute(func() (int, error) { return 0, nil }) // bucket -1

	steps := []struct {
		at          time.Duration
		calls, fail uint64
	}{
		{-1, 2, 1},
		{0, 1, 0},
		{9*time.Second - 1, 1, 0},
		{9 * time.Second, 0, 0},
	}
	for _, s := range steps {
		clk.now = s.at
		m := b.Metrics()
		assert.Equal(t, s.calls, m.Calls, "at %v", s.at)
		assert.Equal(t, s.fail, m.Failures, "at %v", s.at)
	}
}

// A count window holds exactly the last WindowCalls counted outcomes,
// whatever the time.
func TestCountWindowHoldsLastNOutcomes(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{
		WindowCalls: 4, MinimumCalls: 4, FailureRateThreshold: 0.5,
		ConsecutiveFailures: cb.Off, SlowCallDuration: cb.Off,
	})
	steps := []struct {
		fail  bool
		calls uint64
		fails uint64
		state cb.State
	}{
		{false, 1, 0, cb.Closed},
		{true, 2, 1, cb.Closed},
		{false, 3, 1, cb.Closed},
		{false, 4, 1, cb.Closed},
		{false, 4, 1, cb.Closed}, // S F S S S: the first S left
		{false, 4, 0, cb.Closed}, // the F left
		{true, 4, 1, cb.Closed},  // S S S F: 0.25
		{true, 4, 2, cb.Open},    // S S F F: 0.5 trips
	}
	for i, s := range steps {
		f.clk.Advance(time.Hour) // time plays no part in a count window
		if s.fail {
			f.fail()
		} else {
			f.ok()
		}
		m := f.m()
		assert.Equal(t, s.calls, m.Calls, "step %d", i)
		assert.Equal(t, s.fails, m.Failures, "step %d", i)
		assert.Equal(t, s.calls-s.fails, m.Successes, "step %d", i)
		assert.Equal(t, s.state, m.State, "step %d", i)
	}
	require.Len(t, f.events, 1)
	assert.Equal(t, cb.ReasonFailureRate, f.events[0].Reason)
	assert.Equal(t, uint64(8), f.m().TotalCalls)
}

// Ignored and stale outcomes never enter a window, of either kind.
func TestIgnoredAndStaleNeverInWindow(t *testing.T) {
	windows := map[string]cb.Config{
		"time window":  {MinimumCalls: 2},
		"count window": {WindowCalls: 3, MinimumCalls: 2},
	}
	for name, cfg := range windows {
		t.Run(name, func(t *testing.T) {
			cfg.ConsecutiveFailures = 1
			f := newRuleFixture(t, throughExecute, cfg)
			f.ok()
			r := f.call(0, context.Canceled)
			assert.Equal(t, cb.Ignored, r.Outcome)
			r = f.call(0, fmt.Errorf("wrapped: %w", context.Canceled))
			assert.Equal(t, cb.Ignored, r.Outcome)

			// Admitted, then the generation moves (the state does not).
			p := f.allow()
			f.b.ForceClosed()
			p.Done(0, errBoom)

			r = f.do(callSpec{err: errBoom, inside: f.b.ForceClosed})
			assert.True(t, r.Stale)

			m := f.m()
			assert.Equal(t, cb.Closed, m.State, "a stale failure must not trip (ConsecutiveFailures 1)")
			assert.Equal(t, uint64(0), m.Calls, "ForceClosed emptied the window; stale outcomes are not in it")
			assert.Equal(t, uint64(0), m.Failures)
			assert.Equal(t, uint64(0), m.ConsecutiveFailures)
			assert.Equal(t, uint64(1), m.TotalCalls)
			assert.Equal(t, uint64(0), m.TotalFailures)
			assert.Equal(t, uint64(2), m.TotalIgnored)
			assert.Equal(t, uint64(2), m.TotalStale)

			f.ok()
			r = f.call(0, context.Canceled)
			assert.Equal(t, cb.Ignored, r.Outcome)
			assert.Equal(t, windowOf{1, 1, 0, 0}, f.window())
		})
	}
}

// --- Closed ---------------------------------------------------------------

func TestClosedConsecutiveFailuresTripOnTheNth(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			f := newRuleFixture(t, throughExecute, cb.Config{ConsecutiveFailures: n, MinimumCalls: 1000, FailureRateThreshold: cb.Off})
			for i := 1; i < n; i++ {
				r := f.fail()
				require.Equal(t, cb.Failure, r.Outcome)
				require.Equal(t, cb.Closed, f.b.State(), "after %d failures", i)
				require.Equal(t, uint64(i), f.m().ConsecutiveFailures)
			}
			r := f.fail()
			assert.Equal(t, cb.Failure, r.Outcome)
			assert.Equal(t, cb.Closed, r.State, "the call was admitted while closed")
			assert.False(t, r.Stale)
			assert.Equal(t, cb.Open, f.b.State())
			assert.Equal(t, uint64(n), f.m().ConsecutiveFailures)
			require.Len(t, f.events, 1)
			assert.Equal(t, cb.Transition{Name: "rules", From: cb.Closed, To: cb.Open, Generation: 1, Reason: cb.ReasonConsecutiveFailures}, f.events[0])
		})
	}
}

func TestClosedSuccessResetsTheFailureStreak(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{ConsecutiveFailures: 3, MinimumCalls: 1000, SlowCallDuration: time.Second})
	f.fail()
	f.fail()
	assert.Equal(t, uint64(2), f.m().ConsecutiveFailures)
	f.ok()
	assert.Equal(t, uint64(0), f.m().ConsecutiveFailures)
	assert.Equal(t, uint64(1), f.m().ConsecutiveSuccesses)
	f.fail()
	f.fail()
	assert.Equal(t, uint64(0), f.m().ConsecutiveSuccesses)
	f.call(2*time.Second, nil) // a slow success is a success too
	assert.Equal(t, uint64(0), f.m().ConsecutiveFailures)
	f.fail()
	f.fail()
	assert.Equal(t, cb.Closed, f.b.State())
	f.fail()
	assert.Equal(t, cb.Open, f.b.State())
	assert.Equal(t, uint64(3), f.m().ConsecutiveFailures)
	assert.Equal(t, uint64(9), f.m().TotalCalls)
	assert.Equal(t, uint64(7), f.m().TotalFailures)
}

// Rates are evaluated only when a failure or a slow call is recorded: a
// fast success that brings the window to MinimumCalls with a rate over the
// threshold does not trip; the next failure (or slow call) does.
func TestClosedFastSuccessNeverTrips(t *testing.T) {
	t.Run("failure rate", func(t *testing.T) {
		f := newRuleFixture(t, throughExecute, cb.Config{MinimumCalls: 4, FailureRateThreshold: 0.5, ConsecutiveFailures: cb.Off})
		f.fail()
		f.fail()
		f.fail()
		assert.Equal(t, cb.Closed, f.b.State(), "3 calls < MinimumCalls 4")
		f.ok()
		m := f.m()
		assert.Equal(t, cb.Closed, m.State, "a fast success never trips")
		assert.Equal(t, uint64(4), m.Calls)
		assert.InDelta(t, 0.75, m.FailureRate, 0)
		f.fail()
		assert.Equal(t, cb.Open, f.b.State())
		require.Len(t, f.events, 1)
		assert.Equal(t, cb.ReasonFailureRate, f.events[0].Reason)
	})
	t.Run("slow-call rate", func(t *testing.T) {
		f := newRuleFixture(t, throughExecute, cb.Config{MinimumCalls: 4, SlowCallDuration: time.Second, SlowCallRateThreshold: 0.5})
		for range 3 {
			f.call(2*time.Second, nil)
		}
		assert.Equal(t, cb.Closed, f.b.State(), "3 calls < MinimumCalls 4")
		f.ok()
		m := f.m()
		assert.Equal(t, cb.Closed, m.State, "a fast success never trips")
		assert.InDelta(t, 0.75, m.SlowCallRate, 0)
		f.ok()
		f.ok()
		assert.Equal(t, cb.Closed, f.b.State())
		r := f.call(2*time.Second, nil) // 4 slow of 7
		assert.True(t, r.Slow)
		assert.Equal(t, cb.Success, r.Outcome)
		assert.Equal(t, cb.Open, f.b.State())
		require.Len(t, f.events, 1)
		assert.Equal(t, cb.ReasonSlowCallRate, f.events[0].Reason)
	})
}

// The failure rate trips at >= FailureRateThreshold, once the window holds
// MinimumCalls.
func TestClosedFailureRateThresholdIsInclusive(t *testing.T) {
	tests := []struct {
		name      string
		threshold float64
		calls     string // S success, F failure, in order
		tripAt    int    // index of the call that trips; -1 none
	}{
		{"0.5 trips at exactly half", 0.5, "SSFF", 3},
		{"just above 0.5 does not", 0.5000001, "SSFF", -1},
		{"0.25 trips at the minimum, not before", 0.25, "FFFSF", 4},
		{"1 trips when all fail", 1, "FFFF", 3},
		{"1 never with one success", 1, "SFFFFF", -1},
		{"0.6 with 3 of 5", 0.6, "SSFFF", 4},
		{"0.6 not with 2 of 4 then 3 of 6", 0.6, "SSFFSF", -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newRuleFixture(t, throughExecute, cb.Config{MinimumCalls: 4, FailureRateThreshold: tc.threshold, ConsecutiveFailures: cb.Off})
			for i, c := range tc.calls {
				if c == 'F' {
					f.fail()
				} else {
					f.ok()
				}
				want := cb.Closed
				if tc.tripAt >= 0 && i >= tc.tripAt {
					want = cb.Open
				}
				require.Equal(t, want, f.b.State(), "after call %d", i)
				if want == cb.Open {
					break
				}
			}
		})
	}
}

// MinimumCalls gates both rates.
func TestClosedMinimumCallsGatesBothRates(t *testing.T) {
	t.Run("failure rate", func(t *testing.T) {
		f := newRuleFixture(t, throughExecute, cb.Config{MinimumCalls: 5, FailureRateThreshold: 0.1, ConsecutiveFailures: cb.Off})
		for i := range 4 {
			f.fail()
			require.Equal(t, cb.Closed, f.b.State(), "after %d failures", i+1)
		}
		assert.InDelta(t, 1.0, f.m().FailureRate, 0)
		f.fail()
		assert.Equal(t, cb.Open, f.b.State())
	})
	t.Run("slow-call rate", func(t *testing.T) {
		f := newRuleFixture(t, throughExecute, cb.Config{MinimumCalls: 5, SlowCallDuration: time.Second, SlowCallRateThreshold: 0.1})
		for i := range 4 {
			f.call(time.Second+1, nil)
			require.Equal(t, cb.Closed, f.b.State(), "after %d slow calls", i+1)
		}
		assert.InDelta(t, 1.0, f.m().SlowCallRate, 0)
		f.call(time.Second+1, nil)
		assert.Equal(t, cb.Open, f.b.State())
		require.Len(t, f.events, 1)
		assert.Equal(t, cb.ReasonSlowCallRate, f.events[0].Reason)
	})
}

// A slow success trips by the slow-call rate (the >= comparison again).
func TestClosedSlowSuccessTripsBySlowCallRate(t *testing.T) {
	tests := []struct {
		threshold float64
		slowAt    []int // indexes (of 4 calls) that are slow
		trips     bool
	}{
		{0.5, []int{2, 3}, true},
		{0.5, []int{3}, false},
		{0.75, []int{1, 2, 3}, true},
		{0.76, []int{1, 2, 3}, false},
		{1, []int{0, 1, 2, 3}, true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.threshold, tc.slowAt), func(t *testing.T) {
			f := newRuleFixture(t, throughExecute, cb.Config{MinimumCalls: 4, SlowCallDuration: time.Second, SlowCallRateThreshold: tc.threshold})
			slow := map[int]bool{}
			for _, i := range tc.slowAt {
				slow[i] = true
			}
			var last result
			for i := range 4 {
				d := time.Duration(0)
				if slow[i] {
					d = 3 * time.Second
				}
				last = f.call(d, nil)
				assert.Equal(t, cb.Success, last.Outcome)
				assert.Equal(t, slow[i], last.Slow)
			}
			if tc.trips {
				assert.Equal(t, cb.Open, f.b.State())
				require.Len(t, f.events, 1)
				assert.Equal(t, cb.ReasonSlowCallRate, f.events[0].Reason)
			} else {
				assert.Equal(t, cb.Closed, f.b.State())
				assert.Empty(t, f.events)
			}
			assert.Equal(t, uint64(len(tc.slowAt)), f.m().SlowCalls)
		})
	}
}

// A call is slow when Duration > SlowCallDuration: equal is not slow.
func TestSlowMeansLongerThanSlowCallDuration(t *testing.T) {
	tests := []struct {
		name    string
		slowDur time.Duration
		d       time.Duration
		slow    bool
	}{
		{"instant", time.Second, 0, false},
		{"shorter", time.Second, 999 * ms, false},
		{"equal is not slow", time.Second, time.Second, false},
		{"one ns longer", time.Second, time.Second + 1, true},
		{"much longer", time.Second, time.Hour, true},
		{"default 5s, equal", 0, 5 * time.Second, false},
		{"default 5s, longer", 0, 5*time.Second + 1, true},
		{"Off: never slow", cb.Off, 24 * time.Hour, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := cb.Config{SlowCallDuration: tc.slowDur, MinimumCalls: 100, ConsecutiveFailures: cb.Off}
			want := uint64(0)
			if tc.slow {
				want = 1
			}
			t.Run("Execute success", func(t *testing.T) {
				f := newRuleFixture(t, throughExecute, cfg)
				r := f.call(tc.d, nil)
				assert.Equal(t, tc.slow, r.Slow)
				assert.Equal(t, tc.d, r.Duration)
				assert.Equal(t, want, f.m().SlowCalls)
			})
			t.Run("Execute failure", func(t *testing.T) {
				f := newRuleFixture(t, throughExecute, cfg)
				r := f.call(tc.d, errBoom)
				assert.Equal(t, tc.slow, r.Slow)
				m := f.m()
				assert.Equal(t, want, m.SlowCalls)
				assert.Equal(t, uint64(1), m.Failures)
			})
			t.Run("ExecuteContext", func(t *testing.T) {
				f := newRuleFixture(t, throughExecute, cfg)
				_, r := f.b.ExecuteContext(context.Background(), func(context.Context) (int, error) {
					f.clk.Advance(tc.d)
					return 1, nil
				})
				assert.Equal(t, tc.slow, r.Slow)
				assert.Equal(t, tc.d, r.Duration)
				assert.Equal(t, want, f.m().SlowCalls)
			})
			t.Run("Allow and Done", func(t *testing.T) {
				f := newRuleFixture(t, throughExecute, cfg)
				p := f.allow()
				f.clk.Advance(tc.d)
				p.Done(1, nil)
				assert.Equal(t, want, f.m().SlowCalls)
			})
			t.Run("half-open probe", func(t *testing.T) {
				cfg := cfg
				cfg.HalfOpenTimeout = 100 * time.Hour // the probe must end within its episode
				f := newRuleFixture(t, throughExecute, cfg)
				f.b.ForceHalfOpen()
				r := f.call(tc.d, nil)
				assert.Equal(t, cb.HalfOpen, r.State)
				assert.Equal(t, tc.slow, r.Slow)
				assert.Equal(t, tc.d, r.Duration)
				assert.Zero(t, f.m().SlowCalls, "probes are not window contents")
				assert.Equal(t, uint64(1), f.m().TotalCalls)
			})
		})
	}
}

// Off disables each of ConsecutiveFailures, FailureRateThreshold and
// SlowCallDuration, and only that.
func TestClosedOffDisables(t *testing.T) {
	t.Run("ConsecutiveFailures", func(t *testing.T) {
		f := newRuleFixture(t, throughExecute, cb.Config{ConsecutiveFailures: cb.Off, MinimumCalls: 100})
		for range 99 {
			f.fail()
		}
		assert.Equal(t, cb.Closed, f.b.State())
		assert.Equal(t, uint64(99), f.m().ConsecutiveFailures, "the streak is still reported")
		f.fail() // the failure rate still works
		assert.Equal(t, cb.Open, f.b.State())
		require.Len(t, f.events, 1)
		assert.Equal(t, cb.ReasonFailureRate, f.events[0].Reason)
	})
	t.Run("FailureRateThreshold", func(t *testing.T) {
		f := newRuleFixture(t, throughExecute, cb.Config{FailureRateThreshold: cb.Off, ConsecutiveFailures: 50, MinimumCalls: 1})
		for range 49 {
			f.fail()
		}
		m := f.m()
		assert.Equal(t, cb.Closed, m.State)
		assert.InDelta(t, 1.0, m.FailureRate, 0, "the rate is still reported")
		f.fail() // consecutive failures still work
		assert.Equal(t, cb.Open, f.b.State())
		require.Len(t, f.events, 1)
		assert.Equal(t, cb.ReasonConsecutiveFailures, f.events[0].Reason)
	})
	t.Run("both failure rules", func(t *testing.T) {
		f := newRuleFixture(t, throughExecute, cb.Config{FailureRateThreshold: cb.Off, ConsecutiveFailures: cb.Off, MinimumCalls: 1})
		for range 200 {
			f.fail()
		}
		assert.Equal(t, cb.Closed, f.b.State())
		assert.Empty(t, f.events)
	})
	t.Run("SlowCallDuration", func(t *testing.T) {
		f := newRuleFixture(t, throughExecute, cb.Config{SlowCallDuration: cb.Off, SlowCallRateThreshold: 0.01, MinimumCalls: 1, ConsecutiveFailures: 2})
		for range 50 {
			r := f.call(time.Hour, nil)
			assert.False(t, r.Slow)
		}
		m := f.m()
		assert.Equal(t, cb.Closed, m.State)
		assert.Equal(t, uint64(0), m.SlowCalls)
		assert.InDelta(t, 0.0, m.SlowCallRate, 0)
		f.fail()
		f.fail() // failures still trip
		assert.Equal(t, cb.Open, f.b.State())
	})
}
