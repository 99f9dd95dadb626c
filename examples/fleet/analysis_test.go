package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func tr(at time.Duration, r int, from, to cb.State, why cb.Reason) event {
	return event{at: at, replica: r, from: from, to: to, reason: why}
}

func call(at time.Duration, r int, state cb.State, outcome string) event {
	return event{at: at, replica: r, call: true, state: state, outcome: outcome}
}

// healthyCycle is two replicas that open together, probe once (r1, two
// calls) and close together.
func healthyCycle() []event {
	return []event{
		call(ms(100), 0, cb.Closed, "failure"),
		call(ms(120), 1, cb.Closed, "failure"),
		tr(ms(1000), 0, cb.Closed, cb.Open, cb.ReasonFleetFailureRate),
		tr(ms(1010), 1, cb.Closed, cb.Open, cb.ReasonFleetOpened),
		call(ms(1100), 0, cb.Open, "rejected"),
		tr(ms(3000), 1, cb.Open, cb.HalfOpen, cb.ReasonOpenTimeout),
		call(ms(3050), 1, cb.HalfOpen, "success"),
		// The second probe's event comes after the close it caused.
		tr(ms(3200), 1, cb.HalfOpen, cb.Closed, cb.ReasonProbesSucceeded),
		call(ms(3201), 1, cb.HalfOpen, "success"),
		tr(ms(3210), 0, cb.Open, cb.Closed, cb.ReasonFleetClosed),
	}
}

func TestAnalyzeHealthyCycle(t *testing.T) {
	t.Parallel()
	a := analyze(healthyCycle(), 2, time.Second, 2*time.Second)
	require.Len(t, a.openings, 1)
	assert.Equal(t, ms(1000), a.openings[0].at())
	assert.Equal(t, ms(10), a.openings[0].spread())
	require.Len(t, a.episodes, 1)
	e := a.episodes[0]
	assert.Equal(t, []int{1}, e.halfOpen)
	assert.Equal(t, 2, e.total())
	assert.True(t, e.closed)
	assert.False(t, e.running)
	require.Len(t, a.closings, 1)
	assert.Len(t, a.closings[0].moves, 2)
	assert.Equal(t, []cb.State{cb.Closed, cb.Closed}, a.states)
	assert.Equal(t, 4, a.reached)
	assert.Equal(t, 2, a.failed)
	assert.Equal(t, 1, a.rejected)
	assert.Empty(t, a.verdict(2, time.Second, 2))
}

// Each way a fleet can misbehave is a problem of the verdict.
func TestVerdictProblems(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		edit func([]event) []event
		want string
	}{
		"a replica opens late": {
			edit: func(evs []event) []event { evs[3].at = ms(2500); return evs },
			want: "not opened together at 1.00s: only r0 of 2 replicas within 1s of the first",
		},
		"a replica closes late": {
			edit: func(evs []event) []event { evs[9].at = ms(4500); return evs },
			want: "not closed together at 3.20s: only r1 of 2 replicas within 1s of the first",
		},
		"two replicas probe in one episode": {
			edit: func(evs []event) []event {
				return append(evs,
					tr(ms(3010), 0, cb.Open, cb.HalfOpen, cb.ReasonOpenTimeout),
					call(ms(3020), 0, cb.HalfOpen, "success"),
					tr(ms(3100), 0, cb.HalfOpen, cb.Open, cb.ReasonFleetOpened))
			},
			want: "half-open episode 1 at 3.00s: 3 probes fleet-wide, more than HalfOpenMaxCalls (2)",
		},
		"a second replica probes right after the first": {
			edit: func(evs []event) []event {
				return append(evs,
					tr(ms(3300), 0, cb.Open, cb.HalfOpen, cb.ReasonOpenTimeout),
					call(ms(3310), 0, cb.HalfOpen, "success"))
			},
			want: "more than HalfOpenMaxCalls",
		},
		"never closes": {
			edit: func(evs []event) []event { return evs[:7] },
			want: "the fleet never closed",
		},
		"ends open": {
			edit: func(evs []event) []event { return evs[:9] },
			want: "r0 ended open",
		},
		"never opens": {
			edit: func(evs []event) []event { return evs[:2] },
			want: "the fleet never opened",
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := analyze(tc.edit(healthyCycle()), 2, time.Second, 2*time.Second)
			problems := a.verdict(2, time.Second, 2)
			require.NotEmpty(t, problems)
			assert.Contains(t, joinLines(problems), tc.want)
		})
	}
}

func joinLines(s []string) string {
	out := ""
	for _, l := range s {
		out += l + "\n"
	}
	return out
}

// Episodes a whole open time apart are two, each with its own prober.
func TestEpisodesApart(t *testing.T) {
	t.Parallel()
	evs := []event{
		tr(ms(1000), 0, cb.Closed, cb.Open, cb.ReasonFleetFailureRate),
		tr(ms(3000), 0, cb.Open, cb.HalfOpen, cb.ReasonOpenTimeout),
		tr(ms(3010), 0, cb.HalfOpen, cb.Open, cb.ReasonProbeFailed),
		call(ms(3011), 0, cb.HalfOpen, "failure"),
		tr(ms(5010), 0, cb.Open, cb.HalfOpen, cb.ReasonOpenTimeout),
	}
	a := analyze(evs, 1, time.Second, 2*time.Second)
	require.Len(t, a.episodes, 2)
	assert.Equal(t, 1, a.episodes[0].total())
	assert.Equal(t, 1, a.episodes[0].failed)
	assert.False(t, a.episodes[0].closed)
	assert.True(t, a.episodes[1].running)
	assert.Equal(t, 0, a.episodes[1].total())
	assert.Equal(t, cb.HalfOpen, a.states[0])
}
