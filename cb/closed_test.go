package cb_test

// Closed: a failure trips the breaker when it is the ConsecutiveFailures-th
// in a row, or when the window holds at least MinimumCalls and its failure
// rate has reached FailureRateThreshold; a slow call (one longer than
// SlowCallDuration) trips it when the slow-call rate has reached
// SlowCallRateThreshold. Rates are evaluated only when a failure or a slow
// call is recorded, so a fast success never trips, and Off turns each rule
// off alone. Every test runs through every entry point, on a fake clock.

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
)

func TestClosedConsecutiveFailuresTripOnTheNth(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		for _, n := range []int{1, 2, 3, 7} {
			t.Run(fmt.Sprint(n), func(t *testing.T) {
				f := newRuleFixture(t, via, cb.Config{ConsecutiveFailures: n, MinimumCalls: 1000, FailureRateThreshold: cb.Off})
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
	})
}

func TestClosedSuccessResetsTheFailureStreak(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{ConsecutiveFailures: 3, MinimumCalls: 1000, SlowCallDuration: time.Second})
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
	})
}

// Rates are evaluated only when a failure or a slow call is recorded: a
// fast success that brings the window to MinimumCalls with a rate over the
// threshold does not trip; the next failure (or slow call) does.
func TestClosedFastSuccessNeverTrips(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		t.Run("failure rate", func(t *testing.T) {
			f := newRuleFixture(t, via, cb.Config{MinimumCalls: 4, FailureRateThreshold: 0.5, ConsecutiveFailures: cb.Off})
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
			f := newRuleFixture(t, via, cb.Config{MinimumCalls: 4, SlowCallDuration: time.Second, SlowCallRateThreshold: 0.5})
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
			f.assertSlow(r, true)
			assert.Equal(t, cb.Success, r.Outcome)
			assert.Equal(t, cb.Open, f.b.State())
			require.Len(t, f.events, 1)
			assert.Equal(t, cb.ReasonSlowCallRate, f.events[0].Reason)
		})
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
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				f := newRuleFixture(t, via, cb.Config{MinimumCalls: 4, FailureRateThreshold: tc.threshold, ConsecutiveFailures: cb.Off})
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
	})
}

// MinimumCalls gates both rates.
func TestClosedMinimumCallsGatesBothRates(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		t.Run("failure rate", func(t *testing.T) {
			f := newRuleFixture(t, via, cb.Config{MinimumCalls: 5, FailureRateThreshold: 0.1, ConsecutiveFailures: cb.Off})
			for i := range 4 {
				f.fail()
				require.Equal(t, cb.Closed, f.b.State(), "after %d failures", i+1)
			}
			assert.InDelta(t, 1.0, f.m().FailureRate, 0)
			f.fail()
			assert.Equal(t, cb.Open, f.b.State())
		})
		t.Run("slow-call rate", func(t *testing.T) {
			f := newRuleFixture(t, via, cb.Config{MinimumCalls: 5, SlowCallDuration: time.Second, SlowCallRateThreshold: 0.1})
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
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		for _, tc := range tests {
			t.Run(fmt.Sprint(tc.threshold, tc.slowAt), func(t *testing.T) {
				f := newRuleFixture(t, via, cb.Config{MinimumCalls: 4, SlowCallDuration: time.Second, SlowCallRateThreshold: tc.threshold})
				slow := map[int]bool{}
				for _, i := range tc.slowAt {
					slow[i] = true
				}
				for i := range 4 {
					d := time.Duration(0)
					if slow[i] {
						d = 3 * time.Second
					}
					r := f.call(d, nil)
					assert.Equal(t, cb.Success, r.Outcome)
					f.assertSlow(r, slow[i])
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
	})
}

// A call is slow when Duration > SlowCallDuration: equal is not slow. A
// slow probe is not window contents.
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
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				cfg := cb.Config{SlowCallDuration: tc.slowDur, MinimumCalls: 100, ConsecutiveFailures: cb.Off}
				want := uint64(0)
				if tc.slow {
					want = 1
				}
				t.Run("success", func(t *testing.T) {
					f := newRuleFixture(t, via, cfg)
					r := f.call(tc.d, nil)
					f.assertSlow(r, tc.slow)
					assert.Equal(t, want, f.m().SlowCalls)
				})
				t.Run("failure", func(t *testing.T) {
					f := newRuleFixture(t, via, cfg)
					r := f.call(tc.d, errBoom)
					f.assertSlow(r, tc.slow)
					m := f.m()
					assert.Equal(t, want, m.SlowCalls)
					assert.Equal(t, uint64(1), m.Failures)
				})
				t.Run("half-open probe", func(t *testing.T) {
					cfg := cfg
					cfg.HalfOpenTimeout = 100 * time.Hour // the probe must end within its episode
					f := newRuleFixture(t, via, cfg)
					f.b.ForceHalfOpen()
					r := f.call(tc.d, nil)
					assert.Equal(t, cb.HalfOpen, r.State)
					f.assertSlow(r, tc.slow)
					assert.Zero(t, f.m().SlowCalls, "probes are not window contents")
					assert.Equal(t, uint64(1), f.m().TotalCalls)
				})
			})
		}
	})
}

// Off disables each of ConsecutiveFailures, FailureRateThreshold and
// SlowCallDuration, and only that.
func TestClosedOffDisables(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		t.Run("ConsecutiveFailures", func(t *testing.T) {
			f := newRuleFixture(t, via, cb.Config{ConsecutiveFailures: cb.Off, MinimumCalls: 100})
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
			f := newRuleFixture(t, via, cb.Config{FailureRateThreshold: cb.Off, ConsecutiveFailures: 50, MinimumCalls: 1})
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
			f := newRuleFixture(t, via, cb.Config{FailureRateThreshold: cb.Off, ConsecutiveFailures: cb.Off, MinimumCalls: 1})
			for range 200 {
				f.fail()
			}
			assert.Equal(t, cb.Closed, f.b.State())
			assert.Empty(t, f.events)
		})
		t.Run("SlowCallDuration", func(t *testing.T) {
			f := newRuleFixture(t, via, cb.Config{SlowCallDuration: cb.Off, SlowCallRateThreshold: 0.01, MinimumCalls: 1, ConsecutiveFailures: 2})
			for range 50 {
				r := f.call(time.Hour, nil)
				f.assertSlow(r, false)
			}
			m := f.m()
			assert.Equal(t, cb.Closed, m.State)
			assert.Equal(t, uint64(0), m.SlowCalls)
			assert.InDelta(t, 0.0, m.SlowCallRate, 0)
			f.fail()
			f.fail() // failures still trip
			assert.Equal(t, cb.Open, f.b.State())
		})
	})
}

// SlowCallRateThreshold Off keeps slow calls tracked (CallResult.Slow,
// Metrics) without their rate ever tripping the breaker.
func TestSlowCallRateOffTracksWithoutTripping(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{SlowCallDuration: time.Millisecond, SlowCallRateThreshold: cb.Off, MinimumCalls: 1, WindowCalls: 100})
		for range 20 {
			f.assertSlow(f.call(time.Second, nil), true)
		}
		m := f.m()
		assert.Equal(t, cb.Closed, m.State)
		assert.Equal(t, uint64(20), m.SlowCalls)
		assert.InDelta(t, 1.0, m.SlowCallRate, 0)
	})
}
