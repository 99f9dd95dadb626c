package cb_test

// Listeners and the totals exporters read: many listeners per breaker,
// isolated from each other's panics, and transitions counted by reason.

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
)

// transitions is the TransitionCounts of one transition per reason given.
func transitions(rs ...cb.Reason) cb.TransitionCounts {
	var c cb.TransitionCounts
	for _, r := range rs {
		c[r]++
	}
	return c
}

// Every listener hears every transition, Config.OnStateChange first; an
// unsubscribed one hears no more; a panicking one keeps neither the
// breaker nor the other listeners from working.
func TestSubscribeManyListeners(t *testing.T) {
	var order []string
	f := newRuleFixture(t, throughExecute, cb.Config{
		ConsecutiveFailures: 1, OpenTimeout: time.Second, SuccessThreshold: 1,
		OnStateChange: func(cb.Transition) { order = append(order, "config") },
	})
	var a, c []cb.Transition
	unsubA := f.b.Subscribe(func(tr cb.Transition) { order = append(order, "a"); a = append(a, tr) })
	f.b.Subscribe(func(cb.Transition) { order = append(order, "panics"); panic("listener") })
	f.b.Subscribe(func(tr cb.Transition) { order = append(order, "c"); c = append(c, tr) })
	assert.NotPanics(t, func() { f.b.Subscribe(nil)() }, "a nil listener is a no-op")

	f.fail()
	assert.Equal(t, []string{"config", "a", "panics", "c"}, order)
	require.Len(t, a, 1)
	assert.Equal(t, a, c)
	assert.Equal(t, cb.ReasonConsecutiveFailures, a[0].Reason)

	unsubA()
	unsubA() // harmless
	f.at(time.Second)
	f.ok() // half-open, then closed
	assert.Len(t, a, 1, "unsubscribed")
	require.Len(t, c, 3)
	assert.Equal(t, []cb.Reason{cb.ReasonConsecutiveFailures, cb.ReasonOpenTimeout, cb.ReasonProbesSucceeded},
		[]cb.Reason{c[0].Reason, c[1].Reason, c[2].Reason})
	assert.Equal(t, cb.Closed, f.b.State(), "the panicking listener broke nothing")
}

// Listeners come and go while other goroutines make transitions: each
// transition reaches every listener subscribed before it was made and
// still subscribed after, exactly once. (One that unsubscribes while a
// transition is being told may still hear that one: the set the telling
// goroutine loaded.)
func TestSubscribeWhileTransitioning(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{ConsecutiveFailures: 1})
	var steady atomic.Int64
	f.b.Subscribe(func(cb.Transition) { steady.Add(1) })
	var wg sync.WaitGroup
	var stop atomic.Bool
	wg.Go(func() {
		for !stop.Load() {
			f.b.Subscribe(func(cb.Transition) {})()
		}
	})
	const flips = 2000
	for range flips / 2 {
		f.b.ForceOpen()
		f.b.Reset()
	}
	stop.Store(true)
	wg.Wait()
	assert.Equal(t, int64(flips), steady.Load())
	assert.Equal(t, uint64(flips), f.m().Transitions.Total())
}

// Metrics counts the transitions by reason, so a change shorter than the
// time between two reads still shows; each reason leads to one state.
// Generation steps that change nothing a listener sees are not counted.
func TestTransitionCounts(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{ConsecutiveFailures: 1, OpenTimeout: time.Second, SuccessThreshold: 1})
	f.fail()
	f.at(time.Second)
	f.ok()
	f.b.ForceOpen()
	f.b.ForceOpen() // already held open: no change
	f.b.Reset()
	f.b.Reset() // already closed: no change
	m := f.m()
	want := transitions(cb.ReasonConsecutiveFailures, cb.ReasonOpenTimeout, cb.ReasonProbesSucceeded,
		cb.ReasonForcedOpen, cb.ReasonReset)
	assert.Equal(t, want, m.Transitions)
	assert.Equal(t, uint64(len(f.events)), m.Transitions.Total(), "one count per event")
	assert.Equal(t, uint64(2), m.Transitions.To(cb.Open))
	assert.Equal(t, uint64(1), m.Transitions.To(cb.HalfOpen))
	assert.Equal(t, uint64(2), m.Transitions.To(cb.Closed))
	assert.Equal(t, uint64(1), m.Transitions.By(cb.ReasonReset))

	for _, r := range cb.Reasons() {
		assert.NotEmpty(t, r.String())
		assert.Contains(t, []cb.State{cb.Closed, cb.Open, cb.HalfOpen}, r.To())
	}
	assert.Equal(t, cb.Open, cb.ReasonHalfOpenTimeout.To())

	data, err := json.Marshal(m.Transitions)
	require.NoError(t, err)
	var keys map[string]uint64
	require.NoError(t, json.Unmarshal(data, &keys))
	assert.Len(t, keys, len(cb.Reasons()), "every reason is a key")
	assert.Equal(t, uint64(1), keys["failure rate"]+keys["consecutive failures"])
	var back cb.TransitionCounts
	require.NoError(t, json.Unmarshal(data, &back))
	assert.Equal(t, m.Transitions, back)
	assert.Error(t, json.Unmarshal([]byte(`{"no such reason":1}`), &back))
}

// TotalSlowCalls counts slow calls over the breaker's life, probes
// included, where the window's SlowCalls forgets them.
func TestTotalSlowCalls(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{
		ConsecutiveFailures: 1, OpenTimeout: time.Second, SlowCallDuration: time.Millisecond,
		SlowCallRateThreshold: cb.Off, Window: time.Second, Buckets: 1,
	})
	f.call(time.Second, nil)
	f.call(time.Second, nil)
	f.call(time.Second, errBoom) // trips
	f.at(f.clk.Now() + time.Second)
	f.call(10*time.Millisecond, nil) // a slow probe: reopens
	m := f.m()
	assert.Equal(t, uint64(4), m.TotalSlowCalls)
	assert.Equal(t, cb.Open, m.State)
}

// Created is the wall-clock time the breaker was made, whatever its
// Clock.
func TestCreated(t *testing.T) {
	before := time.Now()
	f := newRuleFixture(t, throughExecute, cb.Config{})
	after := time.Now()
	assert.False(t, f.b.Created().Before(before))
	assert.False(t, f.b.Created().After(after))
	var c cb.Circuit = f.b
	assert.Equal(t, f.b.Created(), c.Created())
}
