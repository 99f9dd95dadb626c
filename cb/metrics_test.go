package cb_test

// Metrics: a snapshot of a breaker, every field exact on a fake clock in
// each state (window figures for the current window, Total figures for the
// breaker's life, every call exactly one of counted, rejected, ignored or
// stale), whatever entry point the calls went through; its JSON (snake_case
// keys, durations in seconds), and the text of states, outcomes and
// reasons.

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
)

// Every field of Metrics, in each state.
func TestMetricsEveryField(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{
			ConsecutiveFailures: 3, MinimumCalls: 100, SlowCallDuration: time.Second,
			OpenTimeout: 3 * time.Second, HalfOpenTimeout: time.Minute, SuccessThreshold: 2, HalfOpenMaxCalls: 3,
		})
		assert.Equal(t, "rules", f.b.Name())
		assert.Equal(t, cb.Metrics{Name: "rules", State: cb.Closed}, f.m())

		f.ok()
		f.call(2*time.Second, nil)     // slow success, ends at 2s
		f.fail()                       //
		f.call(2*time.Second, errBoom) // slow failure, ends at 4s
		f.ok()
		f.call(0, context.Canceled)
		f.at(5 * time.Second)
		assert.Equal(t, cb.Metrics{
			Name: "rules", State: cb.Closed,
			Calls: 5, Successes: 3, Failures: 2, SlowCalls: 2,
			FailureRate: 0.4, SlowCallRate: 0.4,
			ConsecutiveFailures: 0, ConsecutiveSuccesses: 1,
			TotalCalls: 5, TotalFailures: 2, TotalIgnored: 1, TotalSlowCalls: 2,
			StateSince: 5 * time.Second,
		}, f.m(), "closed")

		f.fail()
		f.fail()
		f.fail() // trips at 5s: gen 1
		f.ok()   // rejected
		f.at(7 * time.Second)
		assert.Equal(t, cb.Metrics{
			Name: "rules", State: cb.Open, Generation: 1,
			Calls: 8, Successes: 3, Failures: 5, SlowCalls: 2,
			FailureRate: 5.0 / 8, SlowCallRate: 2.0 / 8,
			ConsecutiveFailures: 3, ConsecutiveSuccesses: 0,
			TotalCalls: 8, TotalFailures: 5, TotalRejected: 1, TotalIgnored: 1, TotalSlowCalls: 2,
			Transitions: transitions(cb.ReasonConsecutiveFailures),
			StateSince:  2 * time.Second, RetryAfter: time.Second,
		}, f.m(), "open")

		f.at(12500 * ms) // half-open since 8s: gen 2
		p1, p2 := f.allow(), f.allow()
		p1.Done(1, nil)
		// The window spans buckets 3-12: the calls of buckets 0 and 2 have
		// left it; those of 4 and 5 remain. The probe is in the totals and
		// ConsecutiveSuccesses, never in the window.
		assert.Equal(t, cb.Metrics{
			Name: "rules", State: cb.HalfOpen, Generation: 2,
			Calls: 5, Successes: 1, Failures: 4, SlowCalls: 1,
			FailureRate: 4.0 / 5, SlowCallRate: 1.0 / 5,
			ConsecutiveFailures: 0, ConsecutiveSuccesses: 1,
			TotalCalls: 9, TotalFailures: 5, TotalRejected: 1, TotalIgnored: 1, TotalSlowCalls: 2,
			Transitions:      transitions(cb.ReasonConsecutiveFailures, cb.ReasonOpenTimeout),
			HalfOpenInFlight: 1, StateSince: 4500 * ms,
		}, f.m(), "half-open")

		p2.Done(1, nil) // closes: gen 3
		f.at(13500 * ms)
		assert.Equal(t, cb.Metrics{
			Name: "rules", State: cb.Closed, Generation: 3,
			TotalCalls: 10, TotalFailures: 5, TotalRejected: 1, TotalIgnored: 1, TotalSlowCalls: 2,
			Transitions: transitions(cb.ReasonConsecutiveFailures, cb.ReasonOpenTimeout, cb.ReasonProbesSucceeded),
			StateSince:  time.Second,
		}, f.m(), "closed again")

		f.b.ForceOpen()
		assert.Equal(t, cb.Metrics{
			Name: "rules", State: cb.Open, Forced: true, Generation: 4,
			TotalCalls: 10, TotalFailures: 5, TotalRejected: 1, TotalIgnored: 1, TotalSlowCalls: 2,
			Transitions: transitions(cb.ReasonConsecutiveFailures, cb.ReasonOpenTimeout, cb.ReasonProbesSucceeded, cb.ReasonForcedOpen),
		}, f.m(), "forced open")
	})
}

func TestMetricsJSON(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{ConsecutiveFailures: 1, OpenTimeout: 5 * time.Second})
	f.fail()
	f.at(7 * time.Second)
	m := f.m()
	require.Equal(t, cb.HalfOpen, m.State)
	data, err := json.Marshal(m)
	require.NoError(t, err)

	var got map[string]any
	require.NoError(t, json.Unmarshal(data, &got))
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	assert.Equal(t, []string{
		"calls", "consecutive_failures", "consecutive_successes", "failure_rate", "failures",
		"forced", "generation", "half_open_in_flight", "name", "retry_after_seconds", "shadow", "slow_call_rate",
		"slow_calls", "state", "state_since_seconds", "successes", "total_calls", "total_failures",
		"total_ignored", "total_rejected", "total_slow_calls", "total_stale", "transitions",
	}, keys)
	assert.Equal(t, "half-open", got["state"])
	assert.Equal(t, "rules", got["name"])
	assert.InDelta(t, 2.0, got["generation"], 0)
	assert.InDelta(t, 2.0, got["state_since_seconds"], 0, "durations in seconds")
	assert.InDelta(t, 1.0, got["failure_rate"], 0)
	assert.Equal(t, false, got["forced"])

	var back cb.Metrics
	require.NoError(t, json.Unmarshal(data, &back))
	assert.Equal(t, m, back)
	odd := cb.Metrics{StateSince: 90*time.Minute + 123456789, RetryAfter: time.Nanosecond}
	data, err = json.Marshal(odd)
	require.NoError(t, err)
	assert.Contains(t, string(data), `"state_since_seconds":5400.123456789`)
	require.NoError(t, json.Unmarshal(data, &back))
	assert.Equal(t, odd, back, "seconds come back to the nanosecond")

	for _, s := range []cb.State{cb.Closed, cb.Open, cb.HalfOpen} {
		data, err := json.Marshal(cb.Metrics{State: s})
		require.NoError(t, err)
		assert.Contains(t, string(data), `"state":"`+s.String()+`"`)
	}
}

// --- Text -----------------------------------------------------------------

func TestStateString(t *testing.T) {
	tests := []struct {
		s    cb.State
		want string
	}{
		{cb.Closed, "closed"},
		{cb.Open, "open"},
		{cb.HalfOpen, "half-open"},
		{cb.State(3), "State(3)"},
		{cb.State(200), "State(200)"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, tc.s.String())
	}
	assert.Equal(t, cb.Closed, cb.State(0), "the zero State is Closed")

	for _, s := range []cb.State{cb.Closed, cb.Open, cb.HalfOpen} {
		text, err := s.MarshalText()
		require.NoError(t, err)
		assert.Equal(t, s.String(), string(text))
		var back cb.State
		require.NoError(t, back.UnmarshalText(text))
		assert.Equal(t, s, back)
	}
	_, err := cb.State(3).MarshalText()
	assert.Error(t, err)
	var s cb.State
	assert.Error(t, s.UnmarshalText([]byte("ajar")))
}

func TestOutcomeString(t *testing.T) {
	tests := []struct {
		o    cb.Outcome
		want string
	}{
		{cb.Success, "success"},
		{cb.Failure, "failure"},
		{cb.Ignored, "ignored"},
		{cb.Rejected, "rejected"},
		{cb.Outcome(4), "Outcome(4)"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, tc.o.String())
	}
	text, err := cb.Rejected.MarshalText()
	require.NoError(t, err)
	assert.Equal(t, "rejected", string(text))
	_, err = cb.Outcome(4).MarshalText()
	assert.Error(t, err)
}

func TestReasonString(t *testing.T) {
	reasons := map[cb.Reason]string{
		cb.ReasonConsecutiveFailures: "consecutive failures",
		cb.ReasonFailureRate:         "failure rate",
		cb.ReasonSlowCallRate:        "slow-call rate",
		cb.ReasonOpenTimeout:         "open timeout elapsed",
		cb.ReasonProbeFailed:         "probe failed",
		cb.ReasonProbeSlow:           "probe slow",
		cb.ReasonHalfOpenTimeout:     "half-open timeout",
		cb.ReasonProbesSucceeded:     "probes succeeded",
		cb.ReasonForcedOpen:          "forced open",
		cb.ReasonForcedClosed:        "forced closed",
		cb.ReasonForcedHalfOpen:      "forced half-open",
		cb.ReasonReset:               "reset",
	}
	for r, want := range reasons {
		assert.Equal(t, want, r.String())
		text, err := r.MarshalText()
		require.NoError(t, err)
		assert.Equal(t, want, string(text))
		var back cb.Reason
		require.NoError(t, back.UnmarshalText(text))
		assert.Equal(t, r, back)
	}
	for _, r := range []cb.Reason{0, cb.Reason(len(cb.Reasons()) + 1), 255} {
		assert.Equal(t, fmt.Sprintf("Reason(%d)", uint8(r)), r.String(), "the zero Reason is not used")
		_, err := r.MarshalText()
		assert.Error(t, err)
	}
	var r cb.Reason
	assert.Error(t, r.UnmarshalText([]byte("bad luck")))
	data, err := json.Marshal(cb.Transition{Reason: cb.ReasonProbeSlow})
	require.NoError(t, err)
	assert.Contains(t, string(data), `"Reason":"probe slow"`, "JSON shows the reason in words")
}
