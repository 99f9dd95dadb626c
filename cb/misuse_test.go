package cb_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
)

// A nil func or Context is the caller's mistake, not the dependency's: it
// panics before admission, with a message naming it, and counts nothing,
// so no number of them can open the breaker or take a probe permit.
func TestNilFuncOrContextPanicsBeforeAdmission(t *testing.T) {
	for _, state := range []cb.State{cb.Closed, cb.HalfOpen} {
		f := newRuleFixture(t, throughExecute, cb.Config{ConsecutiveFailures: 1, SuccessThreshold: 1})
		if state == cb.HalfOpen {
			f.b.ForceHalfOpen()
		}
		before := f.m()
		var nilCtx context.Context
		for range 10 {
			require.PanicsWithValue(t, "tripswitch: Execute called with a nil func", func() { f.b.Execute(nil) })
			require.PanicsWithValue(t, "tripswitch: Call called with a nil func", func() { _, _ = f.b.Call(nil) })
			require.PanicsWithValue(t, "tripswitch: ExecuteContext called with a nil func", func() {
				f.b.ExecuteContext(context.Background(), nil)
			})
			require.PanicsWithValue(t, "tripswitch: ExecuteContext called with a nil Context", func() {
				f.b.ExecuteContext(nilCtx, func(context.Context) (int, error) { return 1, nil })
			})
		}
		assert.Equal(t, before, f.m(), "in %v, nothing was counted or taken", state)
	}
}

// New refuses an empty name, as the registry does: the name is what errors,
// events and reports show.
func TestNewRefusesAnEmptyName(t *testing.T) {
	_, err := cb.New[int]("", cb.Config{})
	require.ErrorIs(t, err, cb.ErrInvalidConfig)
	var ce *cb.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "name", ce.Field)

	_, err = cb.New[int]("", cb.Config{Buckets: -1})
	assert.ErrorContains(t, err, "name")
	assert.ErrorContains(t, err, "Buckets", "every fault is still reported")
}

// A nil *cbtest.Clock in Config.Clock (a non-nil interface holding a nil
// pointer) is refused with the field named, instead of panicking later.
func TestNewRefusesATypedNilClock(t *testing.T) {
	var clk *cbtest.Clock
	_, err := cb.New[int]("typed-nil", cb.Config{Clock: clk})
	require.ErrorIs(t, err, cb.ErrInvalidConfig)
	var ce *cb.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "Clock", ce.Field)
	assert.Contains(t, ce.Reason, "*cbtest.Clock")
}

// Every change of the forced flag is an event, even when the state stays:
// ForceOpen on a breaker already open (by a trip) holds it, and says so.
// A ForceOpen that changes nothing (already held open) tells nothing.
func TestForceOpenOnAnOpenBreakerIsAnEvent(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{ConsecutiveFailures: 1})
	f.fail()
	require.Len(t, f.events, 1)
	f.b.ForceOpen()
	require.Len(t, f.events, 2)
	assert.Equal(t, cb.Transition{Name: "rules", From: cb.Open, To: cb.Open, Generation: 2, Reason: cb.ReasonForcedOpen}, f.events[1])
	assert.True(t, f.m().Forced)
	f.b.ForceOpen()
	assert.Len(t, f.events, 2, "already held open: no change, no event")
	assert.Equal(t, uint64(3), f.m().Generation, "but a new generation, as every Force makes")
}

// OpenError.RetryAfter tells a caller of Call (or of an HTTP client using
// the Transport) when to retry, read from the breaker when asked, without
// allocating: the same figure Execute's CallResult gives.
func TestOpenErrorRetryAfter(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{ConsecutiveFailures: 1, OpenTimeout: 10 * time.Second})
	f.fail()
	f.at(3 * time.Second)
	_, err := f.b.Call(fnOK)
	var oe *cb.OpenError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, 7*time.Second, oe.RetryAfter())
	assert.Equal(t, f.ok().RetryAfter, oe.RetryAfter())
	f.at(9 * time.Second)
	assert.Equal(t, time.Second, oe.RetryAfter(), "read when asked")
	f.at(10 * time.Second)
	assert.Equal(t, time.Duration(0), oe.RetryAfter(), "a probe may be admitted now")

	f.b.ForceOpen()
	_, err = f.b.Call(fnOK)
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, time.Duration(0), oe.RetryAfter(), "held open: no time is known")

	f.b.Reset()
	f.fail()
	_, err = f.b.Call(fnOK)
	require.ErrorAs(t, err, &oe)
	allocs := testing.AllocsPerRun(100, func() {
		_, err := f.b.Call(fnOK)
		if oe, ok := err.(*cb.OpenError); ok { //nolint:errorlint // the breaker's own error, unwrapped
			_ = oe.RetryAfter()
		}
	})
	assert.Zero(t, allocs, "a rejection and its RetryAfter allocate nothing")

	var handMade cb.OpenError
	assert.Equal(t, time.Duration(0), handMade.RetryAfter())
}

// A Permit is a value: Done on one copy does not stop Done on another, and
// each counts. Keeping one copy (or passing a *Permit) is the caller's
// part; here is what happens otherwise, as the Permit doc says.
func TestPermitCopiesCountEachDone(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{ConsecutiveFailures: cb.Off, FailureRateThreshold: cb.Off})
	p, err := f.b.Allow()
	require.NoError(t, err)
	q := p
	p.Done(1, nil)
	p.Done(1, nil) // the same copy again: nothing
	q.Done(1, nil) // another copy: counted again
	assert.Equal(t, uint64(2), f.m().TotalCalls)
}

// With slow-call tracking on, a probe that succeeds slowly fails its
// episode: the breaker reopens, with the backoff step, and the event says
// why. A slow dependency has not recovered; closing on it would trip again
// on the slow-call rate at once.
func TestSlowProbeFailsTheEpisode(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{
		ConsecutiveFailures: 1, OpenTimeout: 10 * time.Second, MaxOpenTimeout: time.Minute,
		SlowCallDuration: time.Second, SuccessThreshold: 2,
	})
	f.fail()
	f.at(10 * time.Second)
	assert.False(t, f.call(time.Second, nil).Slow, "exactly SlowCallDuration is not slow")
	r := f.call(time.Second+1, nil)
	assert.Equal(t, cb.Success, r.Outcome, "the call itself succeeded")
	assert.True(t, r.Slow)
	m := f.m()
	assert.Equal(t, cb.Open, m.State)
	assert.Equal(t, 20*time.Second, m.RetryAfter, "the backoff step")
	assert.Equal(t, cb.Transition{Name: "rules", From: cb.HalfOpen, To: cb.Open, Generation: 3, Reason: cb.ReasonProbeSlow}, f.events[len(f.events)-1])
	assert.Equal(t, uint64(0), m.ConsecutiveSuccesses)

	// Without slow-call tracking, the same probe closes.
	f = newRuleFixture(t, throughExecute, cb.Config{ConsecutiveFailures: 1, OpenTimeout: 10 * time.Second, SlowCallDuration: cb.Off, SuccessThreshold: 1})
	f.fail()
	f.at(10 * time.Second)
	f.call(5*time.Second, nil)
	assert.Equal(t, cb.Closed, f.b.State())
}

// SlowCallRateThreshold Off keeps slow calls tracked (CallResult.Slow,
// Metrics) without their rate ever tripping the breaker.
func TestSlowCallRateOffTracksWithoutTripping(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{SlowCallDuration: time.Millisecond, SlowCallRateThreshold: cb.Off, MinimumCalls: 1, WindowCalls: 100})
	for range 20 {
		assert.True(t, f.call(time.Second, nil).Slow)
	}
	m := f.m()
	assert.Equal(t, cb.Closed, m.State)
	assert.Equal(t, uint64(20), m.SlowCalls)
	assert.InDelta(t, 1.0, m.SlowCallRate, 0)
}

// A count window alone, smaller than the default MinimumCalls, is valid:
// MinimumCalls left zero becomes the window's size.
func TestSmallCountWindowLowersTheDefaultMinimum(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{WindowCalls: 5, ConsecutiveFailures: cb.Off})
	for range 4 {
		f.fail()
	}
	assert.Equal(t, cb.Closed, f.b.State(), "4 calls: below the minimum of 5")
	f.fail()
	assert.Equal(t, cb.Open, f.b.State())
	assert.Equal(t, cb.ReasonFailureRate, f.events[0].Reason)

	_, err := cb.New[int]("explicit", cb.Config{WindowCalls: 5, MinimumCalls: 6})
	assert.ErrorIs(t, err, cb.ErrInvalidConfig, "an explicit minimum above the window is still refused")
}
