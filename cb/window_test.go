package cb_test

// Window: the counted outcomes of calls admitted while closed enter a
// window, either the last Window of time cut into Buckets buckets (an
// outcome counts while its bucket is one of the newest Buckets) or the
// last WindowCalls outcomes. Idle gaps age outcomes out, ignored and stale
// outcomes never enter, and a close empties the window. Every test runs
// through every entry point, on a fake clock.

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
)

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
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				f := newRuleFixture(t, via, neverTrips(cb.Config{Window: tc.window, Buckets: tc.buckets, MinimumCalls: 1}))
				f.at(tc.record)
				f.ok()
				for _, c := range tc.checks {
					f.at(c.at)
					assert.Equal(t, c.calls, f.m().Calls, "window calls at %v", c.at)
					assert.Equal(t, uint64(1), f.m().TotalCalls, "lifetime calls at %v", c.at)
				}
			})
		}
	})
}

// Outcomes of several buckets leave one bucket at a time, each kind with
// its own count.
func TestTimeWindowSlidesBucketByBucket(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{
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
	})
}

// After an idle gap longer than the window nothing old is counted, and
// the outcomes after the gap are counted exactly.
func TestTimeWindowIdleGapLongerThanWindow(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, neverTrips(cb.Config{Window: 10 * time.Second, Buckets: 10, MinimumCalls: 1}))
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
	})
}

// A gap a little longer than the window, then outcomes on both sides of a
// partial slide.
func TestTimeWindowGapCrossingPartOfTheRing(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, neverTrips(cb.Config{Window: 10 * time.Second, Buckets: 10, MinimumCalls: 1}))
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
	})
}

// Negative readings (the real clock's, inside a synctest bubble) fall in
// negative buckets, which age out as any other.
func TestTimeWindowWithNegativeReadings(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, neverTrips(cb.Config{Clock: &settableClock{now: -10 * time.Second}, MinimumCalls: 1}))
		f.fail() // -10s: bucket -10
		f.at(-500 * ms)
		f.ok() // bucket -1

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
			f.at(s.at)
			m := f.m()
			assert.Equal(t, s.calls, m.Calls, "at %v", s.at)
			assert.Equal(t, s.fail, m.Failures, "at %v", s.at)
		}
	})
}

// A count window holds exactly the last WindowCalls counted outcomes,
// whatever the time.
func TestCountWindowHoldsLastNOutcomes(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{
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
	})
}

// Ignored and stale outcomes never enter a window, of either kind.
func TestIgnoredAndStaleNeverInWindow(t *testing.T) {
	windows := map[string]cb.Config{
		"time window":  {MinimumCalls: 2},
		"count window": {WindowCalls: 3, MinimumCalls: 2},
	}
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		for name, cfg := range windows {
			t.Run(name, func(t *testing.T) {
				cfg.ConsecutiveFailures = 1
				f := newRuleFixture(t, via, cfg)
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
	})
}

// Closing empties the window as of that instant: later outcomes of the same
// bucket count, and leave with it.
func TestWindowClearedOnClose(t *testing.T) {
	windows := map[string]cb.Config{
		"time window":  {ConsecutiveFailures: cb.Off, MinimumCalls: 4},
		"count window": {ConsecutiveFailures: cb.Off, MinimumCalls: 4, WindowCalls: 4},
	}
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		for name, cfg := range windows {
			t.Run(name, func(t *testing.T) {
				f := newRuleFixture(t, via, cfg)
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
	})
}
