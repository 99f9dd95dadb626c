package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
)

// testOptions is a short run: 4 replicas calling every 100ms, with a 1 s
// open time, through a 1 s healthy phase, 3.5 s down and 3 s healthy. The
// fleet trips about a second into the down phase, probes (and reopens)
// while it lasts, and closes early in the last phase.
func testOptions(t *testing.T) options {
	t.Helper()
	plan, err := parseSchedule("healthy=1s,down=3500ms,healthy=3s")
	require.NoError(t, err)
	return options{
		replicas: 4, plan: plan, tick: 250 * time.Millisecond, pace: 100 * time.Millisecond,
		openTimeout: time.Second, bound: time.Second, redisServer: "redis-server",
	}
}

// The demo's replicas, real processes sharing the breaker through a real
// redis-server, open together on the fleet's window in the down phase,
// probe once per half-open episode (one replica, at most HalfOpenMaxCalls
// calls), and close together once the dependency is back; and the demo
// stops every process and removes its directory.
func TestFleetOpensProbesAndClosesTogether(t *testing.T) {
	o := testOptions(t)
	var out, errOut bytes.Buffer
	res, err := run(context.Background(), o, &out, &errOut)
	require.NoError(t, err, "%s\n%s", out.String(), errOut.String())
	printSummary(&out, o, res)
	log := out.String()
	assert.Empty(t, errOut.String(), "the replicas reported no error (a race among them included)")
	assert.Empty(t, res.problems, log)
	a := res.a
	downStart, downEnd := o.plan.Bounds(1)

	// Opened together, on the fleet's window, in the down phase.
	require.NotEmpty(t, a.openings, log)
	first := a.openings[0]
	assert.Len(t, first.moves, o.replicas, log)
	assert.GreaterOrEqual(t, first.at(), downStart, "no replica opened while the dependency was healthy:\n%s", log)
	assert.Less(t, first.at(), downEnd, log)
	assert.Equal(t, cb.ReasonFleetFailureRate, first.moves[0].reason,
		"the first replica tripped on the window it judges with the fleet's counts:\n%s", log)
	for _, m := range first.moves {
		assert.Contains(t, []cb.Reason{cb.ReasonFleetFailureRate, cb.ReasonFleetOpened}, m.reason,
			"r%d opened with the fleet, never on its own window:\n%s", m.replica, log)
	}
	assert.LessOrEqual(t, first.spread(), o.bound)

	// One replica probes per episode, within the fleet's budget.
	maxCalls := breakerConfig(o.pace, o.openTimeout).HalfOpenMaxCalls
	require.NotEmpty(t, a.episodes, log)
	for i, e := range a.episodes {
		assert.Len(t, e.halfOpen, 1, "episode %d: one replica holds the probe lease:\n%s", i+1, log)
		assert.Positive(t, e.total(), "episode %d probed:\n%s", i+1, log)
		assert.LessOrEqual(t, e.total(), maxCalls, "episode %d:\n%s", i+1, log)
		assert.False(t, e.running, log)
	}
	last := a.episodes[len(a.episodes)-1]
	assert.True(t, last.closed, "the last episode closed the fleet:\n%s", log)
	assert.Equal(t, maxCalls, last.total(), "a closing episode takes SuccessThreshold probes:\n%s", log)
	assert.Zero(t, last.failed, log)

	// Closed together: the prober on its probes, the others after it.
	require.NotEmpty(t, a.closings, log)
	closing := a.closings[len(a.closings)-1]
	require.Len(t, closing.moves, o.replicas, log)
	assert.GreaterOrEqual(t, closing.at(), downEnd, "the fleet closed once the dependency was back:\n%s", log)
	assert.Equal(t, cb.ReasonProbesSucceeded, closing.moves[0].reason, log)
	assert.Equal(t, last.halfOpen[0], closing.moves[0].replica, "the prober closed first:\n%s", log)
	for _, m := range closing.moves[1:] {
		assert.Equal(t, cb.ReasonFleetClosed, m.reason, "r%d adopted the close:\n%s", m.replica, log)
	}
	for i, s := range a.states {
		assert.Equal(t, cb.Closed, s, "r%d ends closed", i)
	}

	// The breakers spared the dependency, and every replica synced.
	assert.Positive(t, a.failed, log)
	assert.Positive(t, a.rejected, log)
	// Each replica's own counters agree with the calls it reported one
	// by one, which the timeline and the verdict read.
	var reached, failed, rejected, probes uint64
	for i, s := range res.statuses {
		assert.True(t, s.Final, "r%d sent its last status", i)
		assert.Positive(t, s.Syncs, "r%d synced with Redis", i)
		assert.Zero(t, s.SyncErrors, "r%d", i)
		assert.Equal(t, s.Calls, s.Reached+s.Rejected, "r%d", i)
		reached, failed, rejected, probes = reached+s.Reached, failed+s.Failed, rejected+s.Rejected, probes+s.Probes
	}
	assert.Equal(t, uint64(a.reached), reached)
	assert.Equal(t, uint64(a.failed), failed)
	assert.Equal(t, uint64(a.rejected), rejected)
	fleetProbes := 0
	for _, e := range a.episodes {
		fleetProbes += e.total()
	}
	assert.Equal(t, uint64(fleetProbes), probes)

	// What it printed: a tick with the whole fleet open, one with a
	// replica half-open while the others wait, the summary's verdict.
	assert.Regexp(t, `(?m)^t=\S+\s+dep=down\s+r0=open\s+r1=open\s+r2=open\s+r3=open\s`, log)
	assert.Regexp(t, `(?m)^t=.*=half-open.*probes=\d \(episode \d\)$`, log)
	assert.Contains(t, log, ">> r")
	assert.Contains(t, log, "(fleet failure rate)")
	assert.Contains(t, log, "  verdict    ok: opened together")

	assertStopped(t, res)
}

// assertStopped checks that the run left no Redis server and no directory.
func assertStopped(t *testing.T, res result) {
	t.Helper()
	require.NotEmpty(t, res.redisAddr)
	conn, err := net.DialTimeout("tcp", res.redisAddr, time.Second)
	if err == nil {
		_ = conn.Close() // only dialled to see whether the server is gone
	}
	require.Error(t, err, "the Redis server is stopped")
	_, err = os.Stat(res.dir)
	assert.ErrorIs(t, err, os.ErrNotExist, "its directory is removed")
}

// cancelOnTick cancels a run's context on the first timeline line, as
// Ctrl-C would.
type cancelOnTick struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	cancel context.CancelFunc
}

func (w *cancelOnTick) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if bytes.HasPrefix(p, []byte("t=")) {
		w.cancel()
	}
	return w.buf.Write(p)
}

// An interrupted run stops early, stops every process it started, and
// judges nothing; mainErr says so.
func TestInterruptStopsEverything(t *testing.T) {
	o := testOptions(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &cancelOnTick{cancel: cancel}
	var errOut bytes.Buffer
	res, err := run(ctx, o, out, &errOut)
	require.ErrorIs(t, err, context.Canceled)
	assert.True(t, res.interrupted)
	assert.Empty(t, res.problems)
	assert.Less(t, res.elapsed, o.plan.Total())
	assert.Empty(t, errOut.String())
	for i, s := range res.statuses {
		assert.True(t, s.Final, "r%d ended in order", i)
	}
	assertStopped(t, res)

	var summary bytes.Buffer
	printSummary(&summary, o, res)
	assert.Contains(t, summary.String(), "verdict    none: interrupted")
}

// Without redis-server the demo says what to install, and starts nothing.
func TestMissingRedisServer(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	err := mainErr(context.Background(), []string{"-redis-server", "no-such-redis-server-here"}, &out, &errOut)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"no-such-redis-server-here" is not there`)
	assert.Contains(t, err.Error(), "apt-get install -y redis-server")
	assert.Empty(t, out.String())
	assert.Equal(t, 1, exitCode(err, &errOut))
	assert.Contains(t, errOut.String(), "fleet: ")
}

func TestFlags(t *testing.T) {
	t.Parallel()
	o, err := parseFlags(nil, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, 4, o.replicas)
	assert.Equal(t, 16*time.Second, o.plan.Total())
	assert.Equal(t, "healthy 0.00s-4.00s, down 4.00s-10.00s, healthy 10.00s-16.00s", planString(o.plan))

	for _, args := range [][]string{
		{"-replicas", "1"},
		{"-phases", "healthy=1s,sideways=1s"},
		{"-phases", "healthy"},
		{"-phases", "down=-1s"},
		{"-pace", "1s"},
		{"-pace", "1ms"},
		{"-tick", "0s"},
		{"-open", "0s"},
		{"-bound", "0s"},
		{"extra"},
	} {
		_, err := parseFlags(args, &bytes.Buffer{})
		assert.Error(t, err, "%v", args)
	}
	var usage bytes.Buffer
	err = mainErr(context.Background(), []string{"-h"}, &bytes.Buffer{}, &usage)
	require.ErrorIs(t, err, flag.ErrHelp)
	assert.Equal(t, 0, exitCode(err, &bytes.Buffer{}))
	assert.Contains(t, usage.String(), "-replicas")
}

// The breaker's sizing: one replica alone can never reach MinimumCalls,
// two can.
func TestBreakerNeedsTheFleet(t *testing.T) {
	t.Parallel()
	for _, pace := range []time.Duration{10 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, window / 8} {
		cfg := breakerConfig(pace, time.Second)
		alone := int(window / pace) // calls at pace in a window, the first at its very start
		assert.Greater(t, cfg.MinimumCalls, alone+1, "pace %v", pace)
		// Two replicas fill the window's narrowest span, a bucket short.
		assert.LessOrEqual(t, cfg.MinimumCalls, 2*int((window-window/time.Duration(buckets))/pace), "pace %v", pace)
		_, err := cb.New[int]("sized", cfg)
		require.NoError(t, err)
	}
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	var errOut bytes.Buffer
	assert.Equal(t, 0, exitCode(nil, &errOut))
	assert.Equal(t, 1, exitCode(errors.New("boom"), &errOut))
	assert.True(t, strings.HasPrefix(errOut.String(), "fleet: boom"))
}
