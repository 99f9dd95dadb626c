package cb_test

// Time: readings come from Config.Clock (a fake cbtest.Clock in tests, the
// real clock, which follows a synctest bubble's time, or a CoarseClock),
// and readings anywhere in the Duration range work: deadlines saturate at
// the largest Duration, which never comes, so an OpenTimeout of the
// largest Duration holds a breaker open until someone acts, and durations
// saturate instead of wrapping. Every test that makes calls runs through
// every entry point.

import (
	"errors"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
)

// An OpenTimeout of the largest Duration (how "stay open until someone
// acts" is written) holds the breaker open: the deadline saturates at the
// end of time instead of wrapping into the past.
func TestOpenTimeoutAtTheMaximumHoldsOpen(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{ConsecutiveFailures: 1, OpenTimeout: endOfTime})
		f.at(time.Hour)
		f.fail()
		for _, at := range []time.Duration{time.Hour + time.Millisecond, 1000 * time.Hour, endOfTime - 1} {
			f.at(at)
			m := f.m()
			require.Equal(t, cb.Open, m.State, "at %v", at)
			assert.Equal(t, endOfTime-at, m.RetryAfter, "at %v", at)
			r := f.ok()
			assert.Equal(t, cb.Rejected, r.Outcome)
			assert.Equal(t, endOfTime-at, r.RetryAfter)
		}
		f.b.ForceClosed() // someone acts
		assert.Equal(t, cb.Closed, f.b.State())
	})
}

// A backoff capped at the largest Duration doubles up to it without
// overflowing.
func TestMaxOpenTimeoutAtTheMaximum(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{ConsecutiveFailures: 1, OpenTimeout: time.Hour, MaxOpenTimeout: endOfTime, SuccessThreshold: 1})
		f.fail()
		at := time.Hour
		for range 80 { // more doublings than a Duration has bits
			f.at(at)
			require.Equal(t, cb.HalfOpen, f.b.State())
			f.fail()
			m := f.m()
			require.Equal(t, cb.Open, m.State)
			require.Positive(t, m.RetryAfter)
			if m.RetryAfter >= endOfTime-at {
				assert.Equal(t, endOfTime-at, m.RetryAfter, "the deadline is the end of time")
				return
			}
			at += m.RetryAfter
		}
		t.Fatal("the open time never reached the cap")
	})
}

// A HalfOpenTimeout of the largest Duration lets a probe take as long as
// it takes: the episode neither restarts nor fails, and the probe closes
// the breaker.
func TestHalfOpenTimeoutAtTheMaximum(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{
			ConsecutiveFailures: 1, OpenTimeout: time.Second, HalfOpenTimeout: endOfTime,
			SuccessThreshold: 1, SlowCallDuration: cb.Off,
		})
		f.fail()
		f.at(time.Second)
		r := f.do(callSpec{v: 1, inside: func() {
			for _, at := range []time.Duration{2 * time.Second, 1000 * time.Hour, endOfTime - 1} {
				f.at(at)
				m := f.m()
				require.Equal(t, cb.HalfOpen, m.State, "at %v", at)
				assert.Equal(t, uint64(2), m.Generation, "at %v: the episode goes on", at)
			}
		}})
		assert.False(t, r.Stale)
		m := f.m()
		assert.Equal(t, cb.Closed, m.State)
		assert.Zero(t, m.TotalStale)
	})
}

// Clock readings at either end of the range work: the time window's next
// boundary, which would pass the largest reading, is clamped (a call there
// returns instead of spinning), windows roll, and durations saturate.
func TestClockReadingsAtTheEndsOfTime(t *testing.T) {
	cfgs := map[string]cb.Config{
		"time window":  {ConsecutiveFailures: 3, MinimumCalls: 4, Window: time.Second, Buckets: 10},
		"count window": {ConsecutiveFailures: 3, MinimumCalls: 4, WindowCalls: 10},
	}
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		for name, cfg := range cfgs {
			t.Run(name, func(t *testing.T) {
				f := newRuleFixture(t, via, cfg)
				f.at(endOfTime - 150*time.Millisecond) // inside the last whole bucket
				done := make(chan struct{})
				go func() {
					defer close(done)
					f.ok()
					f.at(endOfTime - 10*time.Millisecond) // past the last boundary
					f.ok()
					f.fail()
					f.at(endOfTime)
					f.ok()
					f.fail()
				}()
				select {
				case <-done:
				case <-time.After(30 * time.Second):
					require.FailNow(t, "calls at the end of time did not return")
				}
				m := f.m()
				assert.Equal(t, cb.Closed, m.State)
				assert.Equal(t, uint64(5), m.TotalCalls)
				assert.Equal(t, uint64(5), m.Calls)
				assert.Equal(t, uint64(2), m.Failures)
				f.fail()
				assert.Equal(t, cb.Open, f.b.State(), "the rate rule still works there")
			})
		}
	})
}

// A call measured across the whole range of readings has the largest
// Duration, and one at the end of time itself lasts 0, never a wrapped
// negative.
func TestDurationSaturates(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		// A negative reading, as a synctest bubble's can be.
		f := newRuleFixture(t, via, cb.Config{SlowCallDuration: time.Hour, Clock: &settableClock{now: -endOfTime}})
		r := f.do(callSpec{v: 1, inside: func() { f.at(endOfTime) }})
		f.assertDuration(r, endOfTime, "the span of the whole range saturates")
		f.assertSlow(r, true)
		f.assertDuration(f.ok(), 0)
		assert.Equal(t, uint64(2), f.m().TotalCalls)
	})
}

// Inside a synctest bubble the default (real) clock follows the bubble's
// fake time, so code using a breaker with no Clock configured is tested
// exactly, with sleeps that take no real time.
func TestRealClockInsideSynctestBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, err := cb.New[int]("bubble", cb.Config{ConsecutiveFailures: 1, OpenTimeout: 30 * time.Second, SuccessThreshold: 1})
		require.NoError(t, err)

		_, r := b.Execute(func() (int, error) {
			time.Sleep(6 * time.Second) // slower than the default SlowCallDuration of 5s
			return 0, errors.New("down")
		})
		assert.Equal(t, 6*time.Second, r.Duration)
		assert.True(t, r.Slow)
		require.Equal(t, cb.Open, b.State())

		time.Sleep(10 * time.Second)
		_, r = b.Execute(fnOK)
		assert.Equal(t, cb.Rejected, r.Outcome)
		assert.Equal(t, 20*time.Second, r.RetryAfter)

		time.Sleep(20 * time.Second)
		assert.Equal(t, cb.HalfOpen, b.State())
		v, r := b.Execute(func() (int, error) { return 7, nil })
		assert.Equal(t, 7, v)
		assert.Equal(t, cb.HalfOpen, r.State)
		assert.Equal(t, cb.Closed, b.State())
	})
}

// --- CoarseClock ----------------------------------------------------------

func TestNewCoarseClockRejectsNonPositiveResolution(t *testing.T) {
	for _, res := range []time.Duration{0, -1, -time.Millisecond} {
		t.Run(res.String(), func(t *testing.T) {
			c, err := cb.NewCoarseClock(res)
			require.Error(t, err)
			assert.Nil(t, c)
			assert.ErrorIs(t, err, cb.ErrInvalidConfig)
			var ce *cb.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, "resolution", ce.Field)
			assert.Contains(t, err.Error(), "resolution = "+res.String())
		})
	}
}

// A CoarseClock advances on its own, a breaker reads it, and Stop is
// idempotent and freezes it. (It follows the real clock: the test waits
// for it to move, and after Stop for the real clock to pass several
// resolutions; nothing here asserts a timing.)
func TestCoarseClockAdvancesAndStops(t *testing.T) {
	c, err := cb.NewCoarseClock(time.Millisecond)
	require.NoError(t, err)
	assert.Equal(t, time.Millisecond, c.Resolution())
	first := c.Now()
	waitFor(t, "the clock to advance", func() bool { return c.Now() > first })

	b, err := cb.New[int]("coarse", cb.Config{Clock: c})
	require.NoError(t, err)
	v, r := b.Execute(func() (int, error) { return 3, nil })
	assert.Equal(t, 3, v)
	assert.Equal(t, cb.Success, r.Outcome)
	assert.Equal(t, uint64(1), b.Metrics().TotalCalls)

	c.Stop()
	c.Stop()
	assert.NotPanics(t, c.Stop)
	frozen := c.Now()
	for start := time.Now(); time.Since(start) < 10*c.Resolution(); {
		runtime.Gosched()
	}
	assert.Equal(t, frozen, c.Now(), "a stopped clock stays where it was")
}

// A CoarseClock started inside a bubble ticks with the bubble's time and
// its goroutine ends with Stop, as synctest requires.
func TestCoarseClockInsideSynctestBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk, err := cb.NewCoarseClock(time.Millisecond)
		require.NoError(t, err)
		defer clk.Stop()
		start := clk.Now()
		time.Sleep(50 * time.Millisecond)
		synctest.Wait()
		assert.Equal(t, 50*time.Millisecond, clk.Now()-start)
	})
}
