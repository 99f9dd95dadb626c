package cb_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
)

// An OpenTimeout of the largest Duration (how "stay open until someone
// acts" is written) holds the breaker open: the deadline saturates at the
// end of time instead of wrapping into the past.
func TestOpenTimeoutAtTheMaximumHoldsOpen(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{ConsecutiveFailures: 1, OpenTimeout: endOfTime})
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
}

// A backoff capped at the largest Duration doubles up to it without
// overflowing.
func TestMaxOpenTimeoutAtTheMaximum(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{ConsecutiveFailures: 1, OpenTimeout: time.Hour, MaxOpenTimeout: endOfTime, SuccessThreshold: 1})
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
}

// A HalfOpenTimeout of the largest Duration lets a probe take as long as
// it takes: the episode neither restarts nor fails, and the probe closes
// the breaker.
func TestHalfOpenTimeoutAtTheMaximum(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{
		ConsecutiveFailures: 1, OpenTimeout: time.Second, HalfOpenTimeout: endOfTime,
		SuccessThreshold: 1, SlowCallDuration: cb.Off,
	})
	f.fail()
	f.at(time.Second)
	p := f.allow()
	for _, at := range []time.Duration{2 * time.Second, 1000 * time.Hour, endOfTime - 1} {
		f.at(at)
		m := f.m()
		require.Equal(t, cb.HalfOpen, m.State, "at %v", at)
		assert.Equal(t, uint64(2), m.Generation, "at %v: the episode goes on", at)
	}
	p.Done(1, nil)
	m := f.m()
	assert.Equal(t, cb.Closed, m.State)
	assert.Zero(t, m.TotalStale)
}

// Clock readings at either end of the range work: the time window's next
// boundary, which would pass the largest reading, is clamped (a call there
// returns instead of spinning), windows roll, and durations saturate.
func TestClockReadingsAtTheEndsOfTime(t *testing.T) {
	cfgs := map[string]cb.Config{
		"time window":  {ConsecutiveFailures: 3, MinimumCalls: 4, Window: time.Second, Buckets: 10},
		"count window": {ConsecutiveFailures: 3, MinimumCalls: 4, WindowCalls: 10},
	}
	for name, cfg := range cfgs {
		t.Run(name, func(t *testing.T) {
			f := newRuleFixture(t, throughExecute, cfg)
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
}

// A call measured across the end of time has the largest Duration, and
// one at the end of time itself lasts 0, never a wrapped negative.
func TestDurationSaturates(t *testing.T) {
	clk := &settableClock{now: -endOfTime} // a negative reading, as a synctest bubble's can be
	b, err := cb.New[int]("extremes", cb.Config{SlowCallDuration: time.Hour, Clock: clk})
	require.NoError(t, err)
	_, r := b.Execute(func() (int, error) { clk.now = endOfTime; return 1, nil })
	assert.Equal(t, endOfTime, r.Duration, "the span of the whole range saturates")
	assert.True(t, r.Slow)
	_, r = b.Execute(func() (int, error) { return 1, nil })
	assert.Equal(t, time.Duration(0), r.Duration)
	assert.Equal(t, uint64(2), b.Metrics().TotalCalls)
}
