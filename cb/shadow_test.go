package cb_test

// Shadow mode: the breaker never rejects, but counts, judges and
// transitions exactly as it would enforcing.

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
)

// A call the breaker would reject runs and returns fn's result, with
// WouldReject set and Outcome what fn did; it is counted as rejected, and
// only so. Through Execute, Call, ExecuteContext and Allow, open and
// half-open with its probe permits taken.
func TestShadowRunsWhatItWouldReject(t *testing.T) {
	f := newRC(t, cb.Config{ConsecutiveFailures: 1, OpenTimeout: time.Second, SuccessThreshold: 1, Shadow: true})
	f.fail()
	require.Equal(t, cb.Open, f.b.State())

	f.clk.Advance(100 * time.Millisecond)
	r := f.call(time.Millisecond, errRC)
	assert.Equal(t, cb.CallResult[int]{
		Value: 7, Err: errRC, Duration: time.Millisecond, RetryAfter: 900 * time.Millisecond,
		Outcome: cb.Failure, State: cb.Open, WouldReject: true,
	}, r)
	v, err := f.b.Call(func() (int, error) { return 3, nil })
	assert.Equal(t, 3, v)
	require.NoError(t, err)
	_, r = f.b.ExecuteContext(context.Background(), func(context.Context) (int, error) { return 4, nil })
	assert.True(t, r.WouldReject)
	assert.Equal(t, cb.Success, r.Outcome)
	p, err := f.b.Allow()
	require.NoError(t, err)
	assert.True(t, p.WouldReject())
	p.Done(0, errRC) // counts nothing
	done, cancel := context.WithCancel(context.Background())
	cancel()
	_, r = f.b.ExecuteContext(done, func(context.Context) (int, error) { panic("not run") })
	assert.Equal(t, cb.Ignored, r.Outcome, "a done context is refused before admission, shadow or not")

	m := f.b.Metrics()
	assert.Equal(t, uint64(4), m.TotalRejected)
	assert.Equal(t, uint64(1), m.TotalCalls, "the trip's failure only")
	assert.Equal(t, uint64(1), m.TotalIgnored)
	assert.True(t, m.Shadow)

	f.clk.Advance(time.Second)
	p, err = f.b.Allow() // the one probe permit
	require.NoError(t, err)
	assert.False(t, p.WouldReject())
	r = f.ok()
	assert.Equal(t, cb.HalfOpen, r.State)
	assert.True(t, r.WouldReject, "no permit left")
	assert.Zero(t, r.RetryAfter)
	assert.Equal(t, cb.HalfOpen, f.b.State())
	p.Done(1, nil)
	assert.Equal(t, cb.Closed, f.b.State(), "the probe decided, as enforcing")
	m = f.b.Metrics()
	assert.Equal(t, uint64(5), m.TotalRejected)
	assert.Equal(t, uint64(2), m.TotalCalls)
	assert.Equal(t, uint64(8), m.TotalCalls+m.TotalRejected+m.TotalIgnored+m.TotalStale, "every call is one of them")
}

// The same calls through an enforcing and a shadow breaker leave the same
// figures and events: shadow changes what callers get, nothing else.
func TestShadowCountsAsEnforcing(t *testing.T) {
	cfg := cb.Config{ConsecutiveFailures: 2, OpenTimeout: time.Second, MaxOpenTimeout: 4 * time.Second, SuccessThreshold: 2, WindowCalls: 4}
	enforcing := newRC(t, cfg)
	cfg.Shadow = true
	shadow := newRC(t, cfg)
	steps := []func(f *rcFixture){
		func(f *rcFixture) { f.fail() },
		func(f *rcFixture) { f.ok() },
		func(f *rcFixture) { f.fail() },
		func(f *rcFixture) { f.fail() },
		func(f *rcFixture) { f.ok() },
		func(f *rcFixture) { f.clk.Advance(time.Second) },
		func(f *rcFixture) { f.ok() },
		func(f *rcFixture) { f.fail() },
		func(f *rcFixture) { f.fail() },
		func(f *rcFixture) { f.clk.Advance(2 * time.Second) },
		func(f *rcFixture) { f.ok() },
		func(f *rcFixture) { f.ok() },
		func(f *rcFixture) { f.fail() },
		func(f *rcFixture) { f.b.ForceOpen() },
		func(f *rcFixture) { f.ok() },
	}
	for i, step := range steps {
		step(enforcing)
		step(shadow)
		me, ms := enforcing.b.Metrics(), shadow.b.Metrics()
		require.True(t, ms.Shadow)
		ms.Shadow = false
		require.Equal(t, me, ms, "after step %d", i)
	}
	assert.Equal(t, enforcing.events, shadow.events)
}

// A panic in a call the breaker would have rejected goes on, and counts
// nothing beyond the rejection.
func TestShadowPanicCountsOnlyTheRejection(t *testing.T) {
	f := newRC(t, cb.Config{Shadow: true})
	f.b.ForceOpen()
	assert.PanicsWithValue(t, "boom", func() { f.b.Execute(func() (int, error) { panic("boom") }) })
	m := f.b.Metrics()
	assert.Equal(t, uint64(1), m.TotalRejected)
	assert.Zero(t, m.TotalCalls)
}

// Switching shadow mode is an event: From == To, the current generation,
// counted apart from the state changes.
func TestShadowSwitchIsAnEvent(t *testing.T) {
	cfg := cb.Config{ConsecutiveFailures: 1}
	f := newRC(t, cfg)
	f.fail()
	cfg.Shadow = true
	f.reconfigure(cfg)
	f.reconfigure(cfg) // no switch
	cfg.Shadow = false
	f.reconfigure(cfg)
	assert.Equal(t, []cb.Transition{
		{Name: "rc", From: cb.Closed, To: cb.Open, Generation: 1, Reason: cb.ReasonConsecutiveFailures},
		{Name: "rc", From: cb.Open, To: cb.Open, Generation: 1, Reason: cb.ReasonShadowOn},
		{Name: "rc", From: cb.Open, To: cb.Open, Generation: 1, Reason: cb.ReasonShadowOff},
	}, f.events)
	m := f.b.Metrics()
	assert.Equal(t, uint64(1), m.Transitions.By(cb.ReasonShadowOn))
	assert.Equal(t, uint64(1), m.Transitions.By(cb.ReasonShadowOff))
	assert.Equal(t, uint64(3), m.Transitions.Total())
	assert.Equal(t, uint64(1), m.Transitions.To(cb.Open), "a shadow switch enters no state")
	assert.Zero(t, m.Transitions.To(cb.Closed))
	assert.False(t, cb.ReasonShadowOn.ChangesState())
	assert.False(t, cb.ReasonShadowOff.ChangesState())
	assert.True(t, cb.ReasonTripRule.ChangesState())
	assert.False(t, cb.Reason(0).ChangesState())
	assert.Equal(t, "shadow on", cb.ReasonShadowOn.String())

	data, err := json.Marshal(m)
	require.NoError(t, err)
	var back struct {
		Shadow      *bool             `json:"shadow"`
		Transitions map[string]uint64 `json:"transitions"`
	}
	require.NoError(t, json.Unmarshal(data, &back))
	require.NotNil(t, back.Shadow, "always in the report")
	assert.False(t, *back.Shadow)
	assert.Equal(t, uint64(1), back.Transitions["shadow off"])
}
