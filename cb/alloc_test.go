package cb_test

// Allocation: Execute, Call, ExecuteContext, Allow and Done allocate
// nothing, succeeding, failing or rejected. Each case runs its operation
// allocRuns times inside one AllocsPerRun run, so that a single
// allocation anywhere in those calls (a rotation, a failure path's scan)
// fails the test: AllocsPerRun divides the mallocs by its run count,
// which would hide an occasional one.
//
// AllocsPerRun counts the mallocs of the whole process, so nothing else
// may allocate meanwhile: a CoarseClock's goroutine is seen running (its
// ticker made) before any measurement, and allocWarmUp fills the runtime's
// caches first (see there).

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
)

const allocRuns = 1000

// allocsOf is the number of allocations of allocRuns calls of op, after a
// warm-up run of as many.
func allocsOf(op func()) float64 {
	allocWarmUp()
	return testing.AllocsPerRun(1, func() {
		for range allocRuns {
			op()
		}
	})
}

var allocWarm sync.Once

// allocWarmUp sends failures through every entry point before any
// measurement. Classifying an error runs a type switch on interface types
// (the default IsIgnored), and the Go runtime fills the cache of such a
// switch lazily and at random: on a miss it adds the error's type with
// probability 1/1024 per call, allocating the cache then. That one-time
// allocation per (switch, error type) is not a per-call cost, but within
// AllocsPerRun's single warm-up run it has not always happened yet. After
// 1<<14 calls per entry point the chance it still has not is e^-16.
func allocWarmUp() {
	allocWarm.Do(func() {
		b := cb.MustNew[int]("warm", cb.Config{ConsecutiveFailures: cb.Off, FailureRateThreshold: cb.Off})
		ctx := context.Background()
		for range 1 << 14 {
			b.Execute(fnFail)
			b.ExecuteContext(ctx, func(context.Context) (int, error) { return fnFail() })
			if p, err := b.Allow(); err == nil {
				p.Done(0, errBoom)
			}
		}
	})
}

// allocConfig is a configuration under test. tick, when set, moves its
// fake clock between operations so that the time window rotates.
type allocConfig struct {
	name string
	cfg  cb.Config
	tick func()
}

func allocConfigs(t *testing.T) []allocConfig {
	coarse, err := cb.NewCoarseClock(time.Millisecond)
	require.NoError(t, err)
	t.Cleanup(coarse.Stop)
	// Its goroutine makes its ticker when it first runs: wait for a tick,
	// so that this allocation does not land in a measurement.
	for first := coarse.Now(); coarse.Now() == first; {
		runtime.Gosched()
	}
	fake := cbtest.NewClock()
	return []allocConfig{
		{name: "default", cfg: cb.Config{}},
		{name: "coarse clock", cfg: cb.Config{Clock: coarse, SlowCallDuration: cb.Off}},
		{name: "coarse clock, slow calls on", cfg: cb.Config{Clock: coarse}},
		{name: "window calls", cfg: cb.Config{WindowCalls: 100}},
		{name: "window calls, coarse clock", cfg: cb.Config{WindowCalls: 100, Clock: coarse, SlowCallDuration: cb.Off}},
		{
			name: "fake clock, rotating",
			cfg:  cb.Config{Clock: fake},
			tick: func() { fake.Advance(7 * time.Millisecond) },
		},
	}
}

func TestAllocsExecuteSuccess(t *testing.T) {
	for _, c := range allocConfigs(t) {
		t.Run(c.name, func(t *testing.T) {
			b := cb.MustNew[int]("alloc", c.cfg)
			op := func() { b.Execute(fnOK) }
			if c.tick != nil {
				op = func() { c.tick(); b.Execute(fnOK) }
			}
			assert.Zero(t, allocsOf(op))
			m := b.Metrics()
			require.Equal(t, cb.Closed, m.State)
			assert.Equal(t, uint64(2*allocRuns), m.TotalCalls, "every call counted")
		})
	}
}

// One failure then three successes, through Execute and through Call: the
// failure path (streak, window sum, rate evaluation) runs every fourth
// call, and the breaker never trips (a 25% failure rate, a streak of one).
func TestAllocsFailureNotTripping(t *testing.T) {
	calls := map[string]func(b *cb.Breaker[int], fn func() (int, error)){
		"Execute": func(b *cb.Breaker[int], fn func() (int, error)) { b.Execute(fn) },
		"Call":    func(b *cb.Breaker[int], fn func() (int, error)) { _, _ = b.Call(fn) },
	}
	for _, c := range allocConfigs(t) {
		for name, call := range calls {
			t.Run(c.name+"/"+name, func(t *testing.T) {
				b := cb.MustNew[int]("alloc", c.cfg)
				i := 0
				op := func() {
					if c.tick != nil {
						c.tick()
					}
					if i%4 == 0 {
						call(b, fnFail)
					} else {
						call(b, fnOK)
					}
					i++
				}
				assert.Zero(t, allocsOf(op))
				m := b.Metrics()
				require.Equal(t, cb.Closed, m.State, "the failures must not trip")
				assert.Equal(t, uint64(2*allocRuns/4), m.TotalFailures, "the failure path ran")
			})
		}
	}
}

// Also failures with no success in between, on a breaker with no trip
// rule: every call takes the failure path (streak, window sum).
func TestAllocsExecuteFailureOnly(t *testing.T) {
	for _, c := range allocConfigs(t) {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			cfg.ConsecutiveFailures = cb.Off
			cfg.FailureRateThreshold = cb.Off
			b := cb.MustNew[int]("alloc", cfg)
			op := func() { b.Execute(fnFail) }
			if c.tick != nil {
				op = func() { c.tick(); b.Execute(fnFail) }
			}
			assert.Zero(t, allocsOf(op))
			m := b.Metrics()
			require.Equal(t, cb.Closed, m.State)
			assert.Equal(t, uint64(2*allocRuns), m.TotalFailures)
		})
	}
}

func TestAllocsRejectedForcedOpen(t *testing.T) {
	for _, c := range allocConfigs(t) {
		t.Run(c.name, func(t *testing.T) {
			b := cb.MustNew[int]("alloc", c.cfg)
			b.ForceOpen()
			op := func() {
				if _, r := b.Execute(fnOK); r.Outcome != cb.Rejected {
					panic("not rejected")
				}
			}
			if c.tick != nil {
				op = func() { c.tick(); b.Execute(fnOK) }
			}
			assert.Zero(t, allocsOf(op))
			assert.Zero(t, allocsOf(func() { _, _ = b.Allow() }), "Allow rejected")
			assert.Zero(t, allocsOf(func() { _, _ = b.Call(fnOK) }), "Call rejected")
			m := b.Metrics()
			require.Equal(t, cb.Open, m.State)
			assert.Equal(t, uint64(6*allocRuns), m.TotalRejected)
			assert.Zero(t, m.TotalCalls)
		})
	}
}

// Open by tripping, within its open timeout (60s by default: far longer
// than the test; the fake clock moves 7ms a call, 14s in all).
func TestAllocsRejectedTimedOpen(t *testing.T) {
	for _, c := range allocConfigs(t) {
		t.Run(c.name, func(t *testing.T) {
			b := cb.MustNew[int]("alloc", c.cfg)
			for range 5 {
				b.Execute(fnFail)
			}
			require.Equal(t, cb.Open, b.State())
			op := func() { b.Execute(fnOK) }
			if c.tick != nil {
				op = func() { c.tick(); b.Execute(fnOK) }
			}
			assert.Zero(t, allocsOf(op))
			assert.Zero(t, allocsOf(func() { _, _ = b.Allow() }), "Allow rejected")
			assert.Zero(t, allocsOf(func() { _, _ = b.Call(fnOK) }), "Call rejected")
			m := b.Metrics()
			require.Equal(t, cb.Open, m.State)
			assert.False(t, m.Forced)
			assert.Equal(t, uint64(6*allocRuns), m.TotalRejected)
		})
	}
}

func TestAllocsAllowDoneClosed(t *testing.T) {
	for _, c := range allocConfigs(t) {
		t.Run(c.name, func(t *testing.T) {
			b := cb.MustNew[int]("alloc", c.cfg)
			op := func() {
				if c.tick != nil {
					c.tick()
				}
				p, err := b.Allow()
				if err != nil {
					panic(err)
				}
				p.Done(1, nil)
			}
			assert.Zero(t, allocsOf(op))
			m := b.Metrics()
			require.Equal(t, cb.Closed, m.State)
			assert.Equal(t, uint64(2*allocRuns), m.TotalCalls)
		})
	}
}

func TestAllocsExecuteContextSuccess(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, c := range allocConfigs(t) {
		t.Run(c.name, func(t *testing.T) {
			b := cb.MustNew[int]("alloc", c.cfg)
			for _, x := range []struct {
				name string
				ctx  context.Context
			}{{"background", context.Background()}, {"cancelable", ctx}} {
				op := func() { b.ExecuteContext(x.ctx, fnOKCtx) }
				if c.tick != nil {
					op = func() { c.tick(); b.ExecuteContext(x.ctx, fnOKCtx) }
				}
				assert.Zero(t, allocsOf(op), x.name)
			}
			m := b.Metrics()
			require.Equal(t, cb.Closed, m.State)
			assert.Equal(t, uint64(4*allocRuns), m.TotalCalls)
		})
	}
}
