package cbredis_test

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/internal/redistest"
)

func TestFleetWindowOpensEveryReplica(t *testing.T) {
	srv := redistest.Start(t)
	rs := fleetOf(t, []string{srv.Addr()}, 8, "payments", fastConfig())
	for _, r := range rs {
		r.fail(3) // 24 failures in all; 3 alone is below MinimumCalls
	}
	for _, r := range rs {
		require.Equal(t, cb.Closed, r.b.State())
	}
	took := within(t, 2*time.Second, "every replica open", func() bool { return allIn(rs, cb.Open) })
	t.Logf("every replica open %v after the last failure", took)
	assert.LessOrEqual(t, took, 2*interval+300*time.Millisecond)
}

func TestConsecutiveFailuresOnOneReplicaOpenTheOthers(t *testing.T) {
	srv := redistest.Start(t)
	cfg := fastConfig()
	cfg.ConsecutiveFailures = 3
	rs := fleetOf(t, []string{srv.Addr()}, 4, "search", cfg)
	rs[0].fail(3)
	require.Equal(t, cb.Open, rs[0].b.State())
	took := within(t, 2*time.Second, "every replica open", func() bool { return allIn(rs, cb.Open) })
	t.Logf("the others open %v after the trip", took)
	assert.LessOrEqual(t, took, interval+300*time.Millisecond)
	for _, r := range rs[1:] {
		assert.Equal(t, uint64(1), r.b.Metrics().Transitions.By(cb.ReasonFleetOpened))
	}
}

func TestOneSickReplicaOpensOnlyItself(t *testing.T) {
	srv := redistest.Start(t)
	rs := fleetOf(t, []string{srv.Addr()}, 4, "quorum", fastConfig())
	for _, r := range rs[1:] {
		for range 10 {
			r.b.Execute(func() (int, error) { return 1, nil })
		}
	}
	rs[0].fail(25)
	require.Equal(t, cb.Open, rs[0].b.State(), "its own window opens it")
	assert.Equal(t, uint64(1), rs[0].b.Metrics().Transitions.By(cb.ReasonFailureRate))
	afterRounds(t, rs, 4)
	for _, r := range rs[1:] {
		r.b.Execute(func() (int, error) { return 0, errDown })
		assert.Equal(t, cb.Closed, r.b.State(), "one replica's failures are no quorum")
	}
	// Its own episode runs locally: it probes when its open time is over.
	within(t, 3*time.Second, "the sick replica probes", func() bool { return rs[0].b.State() == cb.HalfOpen })
}

func TestProbeBudgetIsFleetWide(t *testing.T) {
	srv := redistest.Start(t)
	cfg := fastConfig()
	cfg.SuccessThreshold, cfg.HalfOpenMaxCalls = 2, 2
	cfg.ConsecutiveFailures = 1
	rs := fleetOf(t, []string{srv.Addr()}, 8, "probes", cfg)
	rs[0].fail(1)
	within(t, 2*time.Second, "every replica open", func() bool { return allIn(rs, cb.Open) })

	var probes, calls atomic.Int64
	stop := callAll(rs, func() (int, error) { return 1, nil }, func(res cb.CallResult[int]) {
		if res.Outcome != cb.Rejected {
			calls.Add(1)
			if res.State == cb.HalfOpen {
				probes.Add(1)
			}
		}
	})
	within(t, 5*time.Second, "every replica closed", func() bool { return allIn(rs, cb.Closed) })
	stop()
	assert.Equal(t, int64(2), probes.Load(), "HalfOpenMaxCalls probes for the whole fleet (of %d calls run)", calls.Load())
}

func TestAReplicaStartingWhileTheFleetIsOpenStartsOpen(t *testing.T) {
	srv := redistest.Start(t)
	cfg := fastConfig()
	cfg.ConsecutiveFailures, cfg.OpenTimeout = 1, time.Minute
	rs := fleetOf(t, []string{srv.Addr()}, 2, "warm", cfg)
	rs[0].fail(1)
	within(t, 2*time.Second, "both open", func() bool { return allIn(rs, cb.Open) })
	late := newReplica(t, []string{srv.Addr()}, 9, "warm", cfg)
	assert.Equal(t, cb.Open, late.b.State(), "open as soon as Share returns")
	_, res := late.b.Execute(func() (int, error) { return 1, nil })
	assert.Greater(t, res.RetryAfter, 50*time.Second)
}

func TestCountWindowSharesTransitionsButNotCounts(t *testing.T) {
	srv := redistest.Start(t)
	cfg := cb.Config{
		WindowCalls: 10, MinimumCalls: 10, FailureRateThreshold: 0.5,
		ConsecutiveFailures: 4, SlowCallDuration: cb.Off, OpenTimeout: time.Minute,
	}
	rs := fleetOf(t, []string{srv.Addr()}, 3, "counted", cfg)
	for _, r := range rs {
		r.fail(3) // nine failures in all, three in each window
	}
	afterRounds(t, rs, 3)
	assert.Equal(t, []cb.State{cb.Closed, cb.Closed, cb.Closed}, states(rs), "counts stay local")
	keys, err := srv.Do("KEYS", "*:w:*")
	require.NoError(t, err)
	assert.Empty(t, keys, "no bucket keys for a count window")

	rs[1].fail(1) // its fourth in a row
	within(t, 2*time.Second, "every replica open", func() bool { return allIn(rs, cb.Open) })
}

func TestUnshareMakesTheBreakerLocalAgain(t *testing.T) {
	srv := redistest.Start(t)
	cfg := fastConfig()
	cfg.ConsecutiveFailures = 2
	rs := fleetOf(t, []string{srv.Addr()}, 2, "leaving", cfg)
	require.True(t, rs[1].fleet.Unshare("leaving"))
	assert.False(t, rs[1].fleet.Unshare("leaving"), "shared no more")
	assert.Zero(t, rs[1].fleet.Health().Shared)
	rs[0].fail(2)
	require.Equal(t, cb.Open, rs[0].b.State())
	afterRounds(t, rs[:1], 3) // the other Fleet shares nothing: it has no rounds
	assert.Equal(t, cb.Closed, rs[1].b.State(), "an unshared breaker hears nothing of the fleet")
}

func TestHealthReportsSyncs(t *testing.T) {
	srv := redistest.Start(t)
	r := newReplica(t, []string{srv.Addr()}, 0, "healthy", fastConfig())
	afterRounds(t, []*replica{r}, 2)
	h := r.fleet.Health()
	assert.False(t, h.Degraded)
	assert.Zero(t, h.Errors)
	assert.Zero(t, h.Malformed)
	assert.Equal(t, 1, h.Shared)
	assert.WithinDuration(t, time.Now(), h.LastSync, time.Second)
}

func TestAFailedFleetProbeReopensEveryReplica(t *testing.T) {
	srv := redistest.Start(t)
	cfg := fastConfig()
	cfg.ConsecutiveFailures = 1
	rs := fleetOf(t, []string{srv.Addr()}, 4, "reopen", cfg)
	rs[0].fail(1)
	within(t, 2*time.Second, "every replica open", func() bool { return allIn(rs, cb.Open) })

	// Every replica calls a dependency that still fails. Each episode,
	// one replica probes and its failure reopens the fleet (the others,
	// open all along, adopt the new open time quietly). The record's
	// generation counts the episodes: each failed episode adds one to the
	// trip's.
	generation := func() int {
		g, err := srv.Do("HGET", "tripswitch:{reopen}:state", "g")
		require.NoError(t, err)
		n, err := strconv.Atoi(g)
		require.NoError(t, err)
		return n
	}
	tripped := generation()
	var probes atomic.Int64
	stop := callAll(rs, func() (int, error) { return 0, errDown }, func(res cb.CallResult[int]) {
		if res.State == cb.HalfOpen && res.Outcome != cb.Rejected {
			probes.Add(1)
		}
	})
	within(t, 10*time.Second, "three failed episodes", func() bool { return generation() >= tripped+3 })
	stop()
	within(t, 2*time.Second, "every probe's failure announced", func() bool {
		return int64(generation()-tripped) == probes.Load()
	})
	var failed uint64
	for _, r := range rs {
		failed += r.b.Metrics().Transitions.By(cb.ReasonProbeFailed)
		assert.Equal(t, cb.Open, r.b.State())
	}
	assert.Equal(t, uint64(probes.Load()), failed, "one probe, and one failed episode, at a time")
}
