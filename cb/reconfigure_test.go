package cb_test

// Reconfigure: validation, what is kept and what a new shape empties, how
// each rule takes the change, the clock, the listener and the classifier.

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
)

var errRC = errors.New("reconfigure: down")

// rcFixture is a breaker on a fake clock whose config listener records
// the events, across Reconfigures made with f.cfg.
type rcFixture struct {
	t      *testing.T
	clk    *cbtest.Clock
	b      *cb.Breaker[int]
	events []cb.Transition
}

func newRC(t *testing.T, cfg cb.Config, opts ...cb.Option[int]) *rcFixture {
	t.Helper()
	f := &rcFixture{t: t, clk: cbtest.NewClock()}
	cfg.Clock = f.clk
	b, err := cb.New[int]("rc", f.cfg(cfg), opts...)
	require.NoError(t, err)
	f.b = b
	return f
}

// cfg is c with the recording listener.
func (f *rcFixture) cfg(c cb.Config) cb.Config {
	c.OnStateChange = func(tr cb.Transition) { f.events = append(f.events, tr) }
	return c
}

func (f *rcFixture) reconfigure(c cb.Config) {
	f.t.Helper()
	require.NoError(f.t, f.b.Reconfigure(f.cfg(c)))
}

// call runs fn taking d on the fake clock and returning (7, err).
func (f *rcFixture) call(d time.Duration, err error) cb.CallResult[int] {
	_, r := f.b.Execute(func() (int, error) { f.clk.Advance(d); return 7, err })
	return r
}

func (f *rcFixture) ok() cb.CallResult[int]   { return f.call(0, nil) }
func (f *rcFixture) fail() cb.CallResult[int] { return f.call(0, errRC) }

func (f *rcFixture) reasons() []cb.Reason {
	rs := make([]cb.Reason, len(f.events))
	for i, e := range f.events {
		rs[i] = e.Reason
	}
	return rs
}

// An invalid config fails exactly as New fails on it, and changes
// nothing.
func TestReconfigureValidatesAsNew(t *testing.T) {
	f := newRC(t, cb.Config{ConsecutiveFailures: 2})
	before := f.b.Config()
	for _, bad := range []cb.Config{
		{Window: -time.Second},
		{WindowCalls: 5, Window: time.Second, MinimumCalls: 7, FailureRateThreshold: 2},
		{SuccessThreshold: 4, HalfOpenMaxCalls: 2},
		{Clock: (*cbtest.Clock)(nil)},
	} {
		_, newErr := cb.New[int]("rc", bad)
		require.Error(t, newErr)
		err := f.b.Reconfigure(bad)
		require.ErrorIs(t, err, cb.ErrInvalidConfig)
		assert.Equal(t, newErr.Error(), err.Error(), "%+v", bad)
	}
	after := f.b.Config()
	assert.Equal(t, before.ConsecutiveFailures, after.ConsecutiveFailures)
	assert.Equal(t, before.Window, after.Window)
	f.fail()
	f.fail()
	assert.Equal(t, cb.Open, f.b.State(), "the old policy is still in force")
}

// The clock cannot change: nil and the breaker's own are taken, any other
// clock is refused, and a clock Go cannot compare never panics.
func TestReconfigureKeepsTheClock(t *testing.T) {
	f := newRC(t, cb.Config{})
	require.NoError(t, f.b.Reconfigure(cb.Config{}))
	assert.Same(t, f.clk, f.b.Config().Clock, "Config tells the clock the breaker keeps")
	require.NoError(t, f.b.Reconfigure(cb.Config{Clock: f.clk}))

	err := f.b.Reconfigure(cb.Config{Clock: cbtest.NewClock(), Window: -1})
	require.ErrorIs(t, err, cb.ErrInvalidConfig)
	assert.Equal(t, []string{"Window", "Clock"}, configErrorFields(err), "every fault is reported")

	onReal := cb.MustNew[int]("rc-real", cb.Config{})
	assert.ErrorIs(t, onReal.Reconfigure(cb.Config{Clock: f.clk}), cb.ErrInvalidConfig, "a breaker on the real clock keeps it")
	require.NoError(t, onReal.Reconfigure(cb.Config{}))
	assert.Nil(t, onReal.Config().Clock)

	made := funcClock{now: f.clk.Now}
	g := cb.MustNew[int]("rc-func", cb.Config{Clock: made})
	assert.NotPanics(t, func() {
		require.NoError(t, g.Reconfigure(cb.Config{Clock: funcClock{now: f.clk.Now}}), "the same type, which Go cannot compare: taken as the same")
		assert.ErrorIs(t, g.Reconfigure(cb.Config{Clock: f.clk}), cb.ErrInvalidConfig)
	})
}

// configErrorFields lists the Field of every *cb.ConfigError in err, a
// tree of joined errors, in order.
func configErrorFields(err error) []string {
	var join interface{ Unwrap() []error }
	if errors.As(err, &join) {
		var fields []string
		for _, e := range join.Unwrap() {
			fields = append(fields, configErrorFields(e)...)
		}
		return fields
	}
	var ce *cb.ConfigError
	if errors.As(err, &ce) {
		return []string{ce.Field}
	}
	return nil
}

// funcClock is a Clock that == cannot compare (it holds a func).
type funcClock struct{ now func() time.Duration }

func (c funcClock) Now() time.Duration { return c.now() }

// State, generation, streaks, totals and transitions are kept; so is a
// window of the same shape, defaults applied.
func TestReconfigureKeepsWhatTheBreakerLearnt(t *testing.T) {
	f := newRC(t, cb.Config{ConsecutiveFailures: 3, FailureRateThreshold: cb.Off})
	f.ok()
	f.fail()
	f.fail()
	f.b.ForceHalfOpen()
	f.b.ForceClosed()
	f.fail()
	f.fail()
	before := f.b.Metrics()
	require.Equal(t, uint64(2), before.Calls)

	f.reconfigure(cb.Config{Window: cb.DefaultWindow, Buckets: cb.DefaultBuckets, ConsecutiveFailures: 4, FailureRateThreshold: cb.Off})
	after := f.b.Metrics()
	assert.Equal(t, before, after, "nothing the breaker learnt is lost")

	f.fail()
	assert.Equal(t, cb.Closed, f.b.State(), "three in a row no longer trip")
	f.fail()
	assert.Equal(t, cb.Open, f.b.State(), "the streak ran on into the new policy")
	assert.Equal(t, uint64(4), f.b.Metrics().Calls, "the window ran on too")
}

// A window of another shape starts empty, over the same lifetime totals:
// time to count, count to another count, time to other buckets.
func TestReconfigureReshapedWindowStartsEmpty(t *testing.T) {
	off := cb.Config{ConsecutiveFailures: cb.Off, FailureRateThreshold: cb.Off}
	shapes := []cb.Config{
		{Window: time.Second, Buckets: 10},
		{WindowCalls: 5},
		{WindowCalls: 6},
		{Window: time.Second, Buckets: 5},
		{Window: 2 * time.Second, Buckets: 10},
	}
	f := newRC(t, off)
	total := uint64(0)
	for _, s := range shapes {
		s.ConsecutiveFailures, s.FailureRateThreshold = off.ConsecutiveFailures, off.FailureRateThreshold
		f.ok()
		f.fail()
		total += 2
		require.Equal(t, uint64(2), f.b.Metrics().Calls, "before %+v", s)
		f.reconfigure(s)
		m := f.b.Metrics()
		assert.Zero(t, m.Calls, "%+v", s)
		assert.Equal(t, total, m.TotalCalls)
		assert.Equal(t, total/2, m.TotalFailures)
	}
	f.fail()
	assert.Equal(t, uint64(1), f.b.Metrics().Calls, "the new window counts")
}

// New thresholds apply from the next evaluation: a window already past
// them trips on the next failure, not on Reconfigure, and a fast success
// does not evaluate.
func TestReconfigureThresholdsApplyFromNextEvaluation(t *testing.T) {
	f := newRC(t, cb.Config{WindowCalls: 10, MinimumCalls: 4, ConsecutiveFailures: cb.Off, FailureRateThreshold: 0.75})
	f.ok()
	f.fail()
	f.ok()
	f.fail()
	f.reconfigure(cb.Config{WindowCalls: 10, MinimumCalls: 4, ConsecutiveFailures: cb.Off, FailureRateThreshold: 0.25})
	assert.Equal(t, cb.Closed, f.b.State())
	f.ok()
	assert.Equal(t, cb.Closed, f.b.State(), "a fast success evaluates nothing")
	f.fail()
	assert.Equal(t, cb.Open, f.b.State())
	assert.Equal(t, []cb.Reason{cb.ReasonFailureRate}, f.reasons())
}

// An open breaker keeps its deadline; the new OpenTimeout (and its cap)
// applies from the next trip, at the backoff level reached.
func TestReconfigureOpenKeepsItsDeadline(t *testing.T) {
	f := newRC(t, cb.Config{ConsecutiveFailures: 1, OpenTimeout: time.Second, MaxOpenTimeout: 8 * time.Second, SuccessThreshold: 1})
	f.fail()
	f.clk.Advance(time.Second)
	f.fail() // a failed probe: level 1, open 2s
	require.Equal(t, 2*time.Second, f.b.Metrics().RetryAfter)

	f.reconfigure(cb.Config{ConsecutiveFailures: 1, OpenTimeout: time.Minute, MaxOpenTimeout: time.Hour, SuccessThreshold: 1})
	assert.Equal(t, 2*time.Second, f.b.Metrics().RetryAfter, "the deadline stays")
	f.clk.Advance(2 * time.Second)
	assert.Equal(t, cb.HalfOpen, f.b.State())
	f.fail()
	assert.Equal(t, 4*time.Minute, f.b.Metrics().RetryAfter, "level 2 of the new OpenTimeout")

	f.reconfigure(cb.Config{ConsecutiveFailures: 1, OpenTimeout: time.Minute, MaxOpenTimeout: 3 * time.Minute, SuccessThreshold: 1})
	f.clk.Advance(4 * time.Minute)
	f.fail()
	assert.Equal(t, 3*time.Minute, f.b.Metrics().RetryAfter, "capped by the new MaxOpenTimeout")
}

// A half-open episode keeps its permits: a smaller HalfOpenMaxCalls
// admits no more; successes that meet a lowered SuccessThreshold close at
// once, and the probes still out come back stale.
func TestReconfigureHalfOpenEpisode(t *testing.T) {
	cfg := cb.Config{ConsecutiveFailures: 1, OpenTimeout: time.Second, SuccessThreshold: 3, HalfOpenMaxCalls: 4}
	f := newRC(t, cfg)
	f.fail()
	f.clk.Advance(time.Second)
	var ps []cb.Permit[int]
	for range 3 {
		p, err := f.b.Allow()
		require.NoError(t, err)
		ps = append(ps, p)
	}
	cfg.SuccessThreshold, cfg.HalfOpenMaxCalls = 3, 3
	f.reconfigure(cfg)
	_, err := f.b.Allow()
	require.ErrorIs(t, err, cb.ErrOpen, "three permits out of three")
	ps[0].Done(1, nil)
	m := f.b.Metrics()
	assert.Equal(t, cb.HalfOpen, m.State)
	assert.Equal(t, 2, m.HalfOpenInFlight)

	cfg.SuccessThreshold, cfg.HalfOpenMaxCalls = 1, 1
	f.reconfigure(cfg)
	m = f.b.Metrics()
	assert.Equal(t, cb.Closed, m.State, "one success meets the new threshold")
	assert.Equal(t, cb.ReasonProbesSucceeded, f.events[len(f.events)-1].Reason)
	ps[1].Done(1, nil)
	ps[2].Done(1, errRC)
	m = f.b.Metrics()
	assert.Equal(t, uint64(2), m.TotalStale)
	assert.Equal(t, cb.Closed, m.State)
}

// A lowered SuccessThreshold met with no permit left would hold the
// episode for ever: Reconfigure closes it.
func TestReconfigureClosesAnEpisodeNothingElseCouldEnd(t *testing.T) {
	cfg := cb.Config{ConsecutiveFailures: 1, OpenTimeout: time.Second, SuccessThreshold: 3}
	f := newRC(t, cfg)
	f.fail()
	f.clk.Advance(time.Second)
	f.ok()
	f.ok()
	cfg.SuccessThreshold = 2
	f.reconfigure(cfg)
	assert.Equal(t, cb.Closed, f.b.State())
	assert.Equal(t, []cb.Reason{cb.ReasonConsecutiveFailures, cb.ReasonOpenTimeout, cb.ReasonProbesSucceeded}, f.reasons())
}

// A probe's clock keeps its deadline; a shorter HalfOpenTimeout starts
// the next clock, but never ends it before one already started in the
// same episode.
func TestReconfigureHalfOpenTimeout(t *testing.T) {
	cfg := cb.Config{ConsecutiveFailures: 1, OpenTimeout: time.Second, HalfOpenTimeout: 10 * time.Second, SuccessThreshold: 3}
	f := newRC(t, cfg)
	f.fail()
	f.clk.Advance(time.Second) // half-open at 1s
	p, err := f.b.Allow()      // the clock runs to 11s
	require.NoError(t, err)
	cfg.HalfOpenTimeout = time.Second
	f.reconfigure(cfg)
	f.clk.Advance(5 * time.Second)
	assert.Equal(t, cb.HalfOpen, f.b.State(), "the probe out keeps its 10s")
	p.Done(1, nil)
	f.clk.Advance(time.Second) // 7s
	p, err = f.b.Allow()       // none out: a new clock, 7s+1s, but not before 11s
	require.NoError(t, err)
	f.clk.Advance(3 * time.Second) // 10s
	assert.Equal(t, cb.HalfOpen, f.b.State())
	f.clk.Advance(time.Second) // 11s
	assert.Equal(t, cb.Open, f.b.State())
	p.Done(1, nil)
	assert.Equal(t, uint64(1), f.b.Metrics().TotalStale)

	f.clk.Advance(time.Minute) // half-open again, a new episode: the 1s applies
	p, err = f.b.Allow()
	require.NoError(t, err)
	f.clk.Advance(time.Second)
	assert.Equal(t, cb.Open, f.b.State())
	assert.Equal(t, cb.ReasonHalfOpenTimeout, f.events[len(f.events)-1].Reason)
	p.Done(1, nil)
}

// A call is judged, wholly, by the policy in force when it ends:
// slowness, classification, window and rules.
func TestReconfigureCallInFlightJudgedByThePolicyAtItsEnd(t *testing.T) {
	benign := errors.New("benign")
	old := cb.Config{WindowCalls: 5, SlowCallDuration: time.Second, ConsecutiveFailures: 3}
	next := cb.Config{
		WindowCalls: 5, SlowCallDuration: time.Minute, ConsecutiveFailures: 1,
		IsFailure: func(err error) bool { return !errors.Is(err, benign) },
	}
	f := newRC(t, old)
	_, r := f.b.Execute(func() (int, error) {
		f.clk.Advance(2 * time.Second)
		f.reconfigure(next)
		return 0, benign
	})
	assert.Equal(t, cb.Success, r.Outcome, "the new IsFailure")
	assert.False(t, r.Slow, "the new SlowCallDuration")
	_, r = f.b.Execute(func() (int, error) {
		f.reconfigure(old)
		return 0, benign
	})
	assert.Equal(t, cb.Failure, r.Outcome)
	assert.Equal(t, cb.Closed, f.b.State(), "the old streak limit")
	p, err := f.b.Allow()
	require.NoError(t, err)
	f.reconfigure(next)
	p.Done(0, errRC)
	assert.Equal(t, cb.Open, f.b.State(), "Done judges by the new streak limit")
	m := f.b.Metrics()
	assert.Equal(t, uint64(3), m.Calls)
	assert.Equal(t, uint64(2), m.Failures)
}

// Reconfigure makes the transitions time alone causes, as State does.
func TestReconfigureCatchesUp(t *testing.T) {
	f := newRC(t, cb.Config{ConsecutiveFailures: 1, OpenTimeout: time.Second})
	f.fail()
	f.clk.Advance(time.Second)
	f.reconfigure(cb.Config{ConsecutiveFailures: 1, OpenTimeout: time.Second})
	assert.Equal(t, []cb.Reason{cb.ReasonConsecutiveFailures, cb.ReasonOpenTimeout}, f.reasons())
}

// OnStateChange is replaced in place, first among the listeners; nil
// removes it; Subscribe's listeners stay.
func TestReconfigureReplacesTheConfigListener(t *testing.T) {
	var order []string
	listener := func(name string) func(cb.Transition) {
		return func(cb.Transition) { order = append(order, name) }
	}
	cfg := cb.Config{ConsecutiveFailures: 1, OnStateChange: listener("first")}
	b := cb.MustNew[int]("rc", cfg)
	b.Subscribe(listener("subscribed"))
	b.ForceOpen()
	cfg.OnStateChange = listener("second")
	require.NoError(t, b.Reconfigure(cfg))
	b.Reset()
	cfg.OnStateChange = nil
	require.NoError(t, b.Reconfigure(cfg))
	b.ForceOpen()
	assert.Equal(t, []string{"first", "subscribed", "second", "subscribed", "subscribed"}, order)
	assert.Nil(t, b.Config().OnStateChange)
}

// A classifier given with WithClassifier outlives Reconfigure, which has
// no field for it.
func TestReconfigureKeepsTheClassifier(t *testing.T) {
	f := newRC(t, cb.Config{}, cb.WithClassifier(func(v int, _ error) cb.Outcome {
		if v == 7 {
			return cb.Failure
		}
		return cb.Success
	}))
	f.reconfigure(cb.Config{IsFailure: func(error) bool { return false }})
	assert.Equal(t, cb.Failure, f.ok().Outcome, "the classifier alone decides")
}

// Config gives back what the breaker runs with; the registry and callers
// change a field of it.
func TestReconfigureConfigRoundTrip(t *testing.T) {
	f := newRC(t, cb.Config{OpenTimeout: time.Minute, Shadow: true})
	cfg := f.b.Config()
	assert.Equal(t, time.Minute, cfg.OpenTimeout)
	assert.True(t, cfg.Shadow)
	assert.Zero(t, cfg.Window, "as given: defaults are not filled in")
	cfg.Shadow = false
	require.NoError(t, f.b.Reconfigure(cfg))
	assert.False(t, f.b.Config().Shadow)
	assert.Equal(t, time.Minute, f.b.Config().OpenTimeout)

	var c cb.Circuit = f.b
	require.NoError(t, c.Reconfigure(cb.Config{OpenTimeout: time.Hour}))
	assert.Equal(t, time.Hour, c.Config().OpenTimeout)
}

// Reconfigure is safe against itself: the listener that ends in force is
// that of the policy that ends in force.
func TestReconfigureConcurrentReconfigures(t *testing.T) {
	b := cb.MustNew[int]("rc", cb.Config{})
	heard := make([]int, 8)
	done := make(chan struct{})
	for i := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 200 {
				cfg := cb.Config{SuccessThreshold: i + 1, OnStateChange: func(cb.Transition) { heard[i]++ }}
				if err := b.Reconfigure(cfg); err != nil {
					panic(fmt.Sprint(err))
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
	winner := b.Config().SuccessThreshold - 1
	b.ForceOpen()
	for i, n := range heard {
		if i == winner {
			assert.Equal(t, 1, n, "the listener of the config in force")
		} else {
			assert.Zero(t, n, "listener %d", i)
		}
	}
}
