package cb_test

// Concurrency: every method is safe for concurrent use, and the rules hold
// however calls race. No outcome is lost; an episode admits exactly
// HalfOpenMaxCalls probes however many goroutines ask; each transition is
// won by one CAS and told by one event, and Generation orders the events;
// a forced-open breaker holds under load; a call that outlives its
// generation is stale and never counted; every call is exactly one of
// counted, rejected, ignored or stale; and a close is atomic, so a call
// right after it is never judged on the old window or streak.
//
// The exact part (TestConcurrent...) races goroutines through one
// transition, burst or force at a time on a fake clock and checks exact
// figures. The soak part (TestStress...) runs thousands of calls of every
// kind through many transitions while a driver moves the clock, and checks
// the invariants that must survive them: a full run soaks, and -short
// scales it down so that go test -short -race stays fast. Both run under
// -race. Nothing waits for time to pass: every wait is for a condition the
// test drives, so a failure is a broken invariant, never a slow machine (a
// wait gives up, failing, only after 20s).

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
)

// --- Exact ----------------------------------------------------------------

// concRun starts n goroutines, released together, each running f with its
// index, and waits for them all.
func concRun(n int, f func(g int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range n {
		wg.Go(func() {
			<-start
			f(g)
		})
	}
	close(start)
	wg.Wait()
}

// drive runs step(0), step(1), ... on a driver goroutine, yielding
// between steps, until a step returns false or stop is called; stop waits
// for the driver to end.
func drive(step func(i int) bool) (stop func()) {
	var stopped atomic.Bool
	var driver sync.WaitGroup
	driver.Go(func() {
		for i := 0; !stopped.Load() && step(i); i++ {
			runtime.Gosched()
		}
	})
	return func() {
		stopped.Store(true)
		driver.Wait()
	}
}

// 8+ goroutines make many calls, through Execute, ExecuteContext, Call and
// Allow/Done, on a breaker that never trips: the totals and the window
// hold every call exactly once.
func TestConcurrentNoLostUpdates(t *testing.T) {
	const goroutines = 8
	for _, tc := range []struct {
		name string
		cfg  cb.Config
		perG int
		full bool // the window holds fewer than the calls: it must be full
	}{
		{"time window", cb.Config{}, 3000, false},
		{"time window, 1ms buckets", cb.Config{Window: 10 * time.Millisecond, Buckets: 10}, 3000, false},
		// Each failure scans a count window, so these stay small.
		{"count window", cb.Config{WindowCalls: 2048}, 250, false},
		{"count window, overfilled", cb.Config{WindowCalls: 100}, 1000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			perG := tc.perG
			cfg := neverTrips(tc.cfg)
			cfg.Clock = cbtest.NewClock()
			b := cb.MustNew[int]("conc", cfg)
			ctx := context.Background()
			var calls, failures atomic.Uint64
			concRun(goroutines, func(g int) {
				for i := range perG {
					fail := (g+i)%3 == 0
					fn := fnOK
					if fail {
						fn = fnFail
					}
					var r cb.CallResult[int]
					switch i % 4 {
					case 0:
						_, r = b.Execute(fn)
					case 1:
						_, r = b.ExecuteContext(ctx, func(context.Context) (int, error) { return fn() })
					case 2:
						_, err := b.Call(fn)
						if !assert.NotErrorIs(t, err, cb.ErrOpen) {
							return
						}
						r.Outcome = cb.Success
						if fail {
							r.Outcome = cb.Failure
						}
					default:
						p, err := b.Allow()
						if !assert.NoError(t, err) {
							return
						}
						v, ferr := fn()
						p.Done(v, ferr)
						r.Outcome = cb.Success
						if fail {
							r.Outcome = cb.Failure
						}
					}
					if !assert.False(t, r.Stale) || !assert.NotEqual(t, cb.Rejected, r.Outcome) {
						return
					}
					calls.Add(1)
					if fail {
						failures.Add(1)
					}
				}
			})
			require.Equal(t, uint64(goroutines*perG), calls.Load())
			m := b.Metrics()
			assert.Equal(t, cb.Closed, m.State)
			assert.Equal(t, calls.Load(), m.TotalCalls, "lifetime calls")
			assert.Equal(t, failures.Load(), m.TotalFailures, "lifetime failures")
			if tc.full {
				assert.Equal(t, uint64(tc.cfg.WindowCalls), m.Calls, "window calls: the newest WindowCalls")
				assert.Equal(t, m.Calls, m.Successes+m.Failures)
			} else {
				assert.Equal(t, calls.Load(), m.Calls, "window calls")
				assert.Equal(t, failures.Load(), m.Failures, "window failures")
				assert.Equal(t, calls.Load()-failures.Load(), m.Successes, "window successes")
			}
			assert.Zero(t, m.TotalRejected)
			assert.Zero(t, m.TotalStale)
			assert.Zero(t, m.TotalIgnored)
		})
	}
}

// The same with the clock moving through many bucket rotations meanwhile:
// the lifetime totals are still exact and the window never holds more.
func TestConcurrentNoLostUpdatesAcrossRotations(t *testing.T) {
	const (
		goroutines = 8
		perG       = 3000
	)
	clk := cbtest.NewClock()
	b := cb.MustNew[int]("conc", neverTrips(cb.Config{Window: 100 * time.Millisecond, Buckets: 10, Clock: clk}))
	var calls, failures atomic.Uint64
	stop := drive(func(int) bool {
		clk.Advance(3 * time.Millisecond)
		m := b.Metrics()
		return assert.LessOrEqual(t, m.Calls, m.TotalCalls) && assert.LessOrEqual(t, m.Failures, m.TotalFailures)
	})
	concRun(goroutines, func(g int) {
		for i := range perG {
			fn := fnOK
			if (g+i)%4 == 0 {
				fn = fnFail
				failures.Add(1)
			}
			if _, r := b.Execute(fn); !assert.False(t, r.Stale) || !assert.NotEqual(t, cb.Rejected, r.Outcome) {
				return
			}
			calls.Add(1)
		}
	})
	stop()
	m := b.Metrics()
	assert.Equal(t, uint64(goroutines*perG), m.TotalCalls)
	assert.Equal(t, failures.Load(), m.TotalFailures)
	assert.Equal(t, calls.Load(), m.TotalCalls)
}

// 200 goroutines race Allow in HalfOpen: exactly HalfOpenMaxCalls of them
// get a permit, episode after episode; the open->half-open transition the
// race makes fires once; finishing the probes together closes the breaker
// once, the probes after the closing one being stale.
func TestConcurrentExactlyNProbesAdmitted(t *testing.T) {
	const (
		goroutines  = 200
		maxCalls    = 10
		successes   = 3
		openTimeout = time.Second
	)
	clk := cbtest.NewClock()
	var ev eventLog
	b := cb.MustNew[int]("conc", cb.Config{
		ConsecutiveFailures: 3, OpenTimeout: openTimeout,
		SuccessThreshold: successes, HalfOpenMaxCalls: maxCalls,
		Clock: clk, OnStateChange: ev.on,
	})
	for round := 1; round <= 3; round++ {
		for range 3 {
			b.Execute(fnFail)
		}
		require.Equal(t, cb.Open, b.State(), "round %d", round)
		before := b.Metrics()
		clk.Advance(openTimeout)

		permits := make([]cb.Permit[int], goroutines)
		admitted := make([]bool, goroutines)
		var nAdmitted, nRejected atomic.Int64
		concRun(goroutines, func(g int) {
			p, err := b.Allow()
			if err != nil {
				nRejected.Add(1)
				assert.ErrorIs(t, err, cb.ErrOpen)
				var oe *cb.OpenError
				if assert.ErrorAs(t, err, &oe) {
					assert.Equal(t, cb.HalfOpen, oe.State, "refused for want of a probe permit")
				}
				return
			}
			nAdmitted.Add(1)
			permits[g], admitted[g] = p, true
		})
		require.Equal(t, int64(maxCalls), nAdmitted.Load(), "round %d: probes admitted", round)
		require.Equal(t, int64(goroutines-maxCalls), nRejected.Load(), "round %d", round)
		m := b.Metrics()
		require.Equal(t, cb.HalfOpen, m.State)
		assert.Equal(t, maxCalls, m.HalfOpenInFlight)
		assert.Equal(t, before.TotalRejected+goroutines-maxCalls, m.TotalRejected)
		assert.Equal(t, int64(round), ev.count(cb.Open, cb.HalfOpen), "round %d: one open->half-open event", round)
		assert.Equal(t, before.Generation+1, m.Generation)

		// The permits are finished together: SuccessThreshold of them
		// close the breaker, the rest are stale.
		concRun(goroutines, func(g int) {
			if admitted[g] {
				permits[g].Done(1, nil)
			}
		})
		m = b.Metrics()
		require.Equal(t, cb.Closed, m.State, "round %d", round)
		assert.Equal(t, int64(round), ev.count(cb.HalfOpen, cb.Closed), "round %d: one half-open->closed event", round)
		assert.Equal(t, before.TotalStale+maxCalls-successes, m.TotalStale, "round %d: probes after the closing one", round)
		assert.Equal(t, before.TotalCalls+successes, m.TotalCalls, "round %d", round)
		assert.Equal(t, before.Generation+2, m.Generation)
		assert.Zero(t, m.Calls, "closing empties the window")
	}
}

// One winner and one event per transition through a whole cycle, each
// transition raced by many goroutines: failures on a closed breaker trip it
// once; State calls after the open timeout make one open->half-open;
// failing probes finishing together reopen it once; Metrics calls after
// the timeout make one more open->half-open; succeeding probes close it
// once. The generation moves by exactly one per transition, and each
// event carries the generation it began.
func TestConcurrentOneEventPerTransition(t *testing.T) {
	const (
		goroutines  = 32
		openTimeout = time.Second
		maxCalls    = 8
	)
	clk := cbtest.NewClock()
	var ev eventLog
	b := cb.MustNew[int]("conc", cb.Config{
		ConsecutiveFailures: 5, OpenTimeout: openTimeout,
		SuccessThreshold: 3, HalfOpenMaxCalls: maxCalls,
		Clock: clk, OnStateChange: ev.on,
	})
	g0 := b.Metrics().Generation

	// Closed -> Open, raced by failures.
	var ran, rejected, staleR, countedR atomic.Uint64
	concRun(goroutines, func(int) {
		for range 200 {
			_, r := b.Execute(func() (int, error) { ran.Add(1); return fnFail() })
			switch {
			case r.Outcome == cb.Rejected:
				rejected.Add(1)
			case r.Stale:
				staleR.Add(1)
			default:
				countedR.Add(1)
			}
		}
	})
	require.Equal(t, cb.Open, b.State())
	assert.Equal(t, int64(1), ev.count(cb.Closed, cb.Open), "exactly one closed->open event")
	assert.Equal(t, int64(1), ev.total())
	m := b.Metrics()
	assert.Equal(t, g0+1, m.Generation)
	assert.Equal(t, uint64(goroutines*200), ran.Load()+rejected.Load(), "every call ran or was rejected")
	assert.Equal(t, rejected.Load(), m.TotalRejected)
	assert.Equal(t, staleR.Load(), m.TotalStale)
	assert.Equal(t, countedR.Load(), m.TotalCalls)
	assert.Equal(t, ran.Load(), m.TotalCalls+m.TotalStale, "every call that ran was counted or stale")

	// Open -> HalfOpen, raced by State calls after the timeout.
	clk.Advance(openTimeout)
	concRun(goroutines, func(int) {
		for range 50 {
			if !assert.Equal(t, cb.HalfOpen, b.State()) {
				return
			}
		}
	})
	assert.Equal(t, int64(1), ev.count(cb.Open, cb.HalfOpen), "exactly one open->half-open event")
	assert.Equal(t, int64(2), ev.total())
	assert.Equal(t, g0+2, b.Metrics().Generation)

	// HalfOpen -> Open, raced by failing probes.
	takePermits := func() []cb.Permit[int] {
		var mu sync.Mutex
		var ps []cb.Permit[int]
		concRun(goroutines, func(int) {
			if p, err := b.Allow(); err == nil {
				mu.Lock()
				ps = append(ps, p)
				mu.Unlock()
			}
		})
		return ps
	}
	ps := takePermits()
	require.Len(t, ps, maxCalls)
	stale0 := b.Metrics().TotalStale
	concRun(len(ps), func(g int) { ps[g].Done(0, errBoom) })
	require.Equal(t, cb.Open, b.State())
	assert.Equal(t, int64(1), ev.count(cb.HalfOpen, cb.Open), "exactly one half-open->open event")
	assert.Equal(t, int64(3), ev.total())
	m = b.Metrics()
	assert.Equal(t, g0+3, m.Generation)
	assert.Equal(t, stale0+maxCalls-1, m.TotalStale, "the probes after the failing one are stale")

	// Open -> HalfOpen, raced by Metrics calls after the timeout.
	clk.Advance(openTimeout)
	concRun(goroutines, func(int) {
		for range 20 {
			if !assert.Equal(t, cb.HalfOpen, b.Metrics().State) {
				return
			}
		}
	})
	assert.Equal(t, int64(2), ev.count(cb.Open, cb.HalfOpen), "exactly one more open->half-open event")
	assert.Equal(t, int64(4), ev.total())
	assert.Equal(t, g0+4, b.Metrics().Generation)

	// HalfOpen -> Closed, raced by succeeding probes.
	ps = takePermits()
	require.Len(t, ps, maxCalls)
	concRun(len(ps), func(g int) { ps[g].Done(1, nil) })
	require.Equal(t, cb.Closed, b.State())
	assert.Equal(t, int64(1), ev.count(cb.HalfOpen, cb.Closed), "exactly one half-open->closed event")
	assert.Equal(t, int64(5), ev.total())
	assert.Equal(t, g0+5, b.Metrics().Generation)

	want := []struct{ from, to cb.State }{
		{cb.Closed, cb.Open},
		{cb.Open, cb.HalfOpen},
		{cb.HalfOpen, cb.Open},
		{cb.Open, cb.HalfOpen},
		{cb.HalfOpen, cb.Closed},
	}
	events := ev.all()
	require.Len(t, events, len(want))
	for i, e := range events {
		assert.Equal(t, want[i].from, e.From, "event %d", i)
		assert.Equal(t, want[i].to, e.To, "event %d", i)
		assert.Equal(t, g0+uint64(i)+1, e.Generation, "event %d", i)
		assert.Equal(t, "conc", e.Name)
	}
}

// After an idle gap longer than the window, goroutines calling together at
// the new reading leave exactly their calls in the window, round after
// round. The goroutine that moves the clock calls at once while the others,
// spinning on the clock, call on the other cores: their calls overlap the
// rotation the gap makes.
func TestConcurrentBurstAfterIdleGap(t *testing.T) {
	const (
		goroutines = 8
		perG       = 100
		rounds     = 30
	)
	clk := cbtest.NewClock()
	b := cb.MustNew[int]("conc", neverTrips(cb.Config{Window: 10 * time.Second, Buckets: 10, Clock: clk}))
	for i := range 100 {
		clk.Set(time.Duration(i) * 100 * time.Millisecond)
		if i%2 == 0 {
			b.Execute(fnFail)
		} else {
			b.Execute(fnOK)
		}
	}
	require.Equal(t, uint64(100), b.Metrics().Calls)

	for round := 1; round <= rounds; round++ {
		at := time.Duration(round)*time.Hour + 500*time.Millisecond
		before := b.Metrics()
		var ready atomic.Int32
		var failures atomic.Uint64
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				if g == 0 {
					for ready.Load() != goroutines-1 {
						runtime.Gosched()
					}
					clk.Set(at)
				} else {
					ready.Add(1)
					for i := 1; clk.Now() != at; i++ {
						if i%256 == 0 {
							runtime.Gosched()
						}
					}
				}
				for i := range perG {
					fn := fnOK
					if (g+i)%3 == 0 {
						fn = fnFail
						failures.Add(1)
					}
					b.Execute(fn)
				}
			})
		}
		wg.Wait()
		m := b.Metrics()
		require.Equal(t, before.TotalCalls+goroutines*perG, m.TotalCalls, "round %d: lifetime calls", round)
		ok := assert.Equal(t, uint64(goroutines*perG), m.Calls, "round %d: window calls after the gap must be exactly the burst", round)
		ok = assert.Equal(t, failures.Load(), m.Failures, "round %d: window failures", round) && ok
		clk.Set(at + 9*time.Second) // bucket 3609: still the burst's window
		ok = assert.Equal(t, uint64(goroutines*perG), b.Metrics().Calls, "round %d, 9s on", round) && ok
		clk.Set(at + 9500*time.Millisecond) // bucket 3610: the burst has left
		ok = assert.Zero(t, b.Metrics().Calls, "round %d, 9.5s on", round) && ok
		if !ok {
			return // one round's report is enough
		}
	}
}

// A forced-open breaker holds while goroutines call it and the clock runs
// far past OpenTimeout: every call is rejected with RetryAfter 0, fn never
// runs, and it stays Open (forced) in the same generation.
func TestConcurrentForcedOpenHolds(t *testing.T) {
	const (
		goroutines = 16
		perG       = 300
	)
	clk := cbtest.NewClock()
	var ev eventLog
	b := cb.MustNew[int]("conc", cb.Config{OpenTimeout: time.Second, HalfOpenTimeout: time.Second, Clock: clk, OnStateChange: ev.on})
	b.ForceOpen()
	gen := b.Metrics().Generation
	ctx := context.Background()

	var ran, calls atomic.Uint64
	stop := drive(func(int) bool {
		clk.Advance(time.Hour)
		return true
	})
	concRun(goroutines, func(g int) {
		for i := range perG {
			var r cb.CallResult[int]
			switch (g + i) % 3 {
			case 0:
				_, r = b.Execute(func() (int, error) { ran.Add(1); return 1, nil })
			case 1:
				_, r = b.ExecuteContext(ctx, func(context.Context) (int, error) { ran.Add(1); return 1, nil })
			default:
				p, err := b.Allow()
				r.Err, r.Outcome, r.State = err, cb.Rejected, cb.Open
				if err == nil {
					r.Outcome = cb.Success
					p.Done(1, nil)
				}
			}
			calls.Add(1)
			ok := assert.Equal(t, cb.Rejected, r.Outcome) &&
				assert.ErrorIs(t, r.Err, cb.ErrOpen) &&
				assert.Equal(t, cb.Open, r.State) &&
				assert.Zero(t, r.RetryAfter, "forced open: no retry time") &&
				assert.Equal(t, cb.Open, b.State())
			if !ok {
				return
			}
		}
	})
	stop()
	clk.Advance(1000 * time.Hour)

	assert.Zero(t, ran.Load(), "fn never runs while forced open")
	m := b.Metrics()
	assert.Equal(t, cb.Open, m.State)
	assert.True(t, m.Forced)
	assert.Equal(t, gen, m.Generation, "no transition while forced")
	assert.Zero(t, m.RetryAfter)
	assert.Equal(t, calls.Load(), m.TotalRejected)
	assert.Zero(t, m.TotalCalls)
	assert.Equal(t, int64(1), ev.total(), "only the forced-open event")
	assert.Equal(t, int64(1), ev.count(cb.Closed, cb.Open))
}

// Calls admitted before ForceClosed, Reset, ForceOpen or ForceHalfOpen
// and finished after it, concurrently, are stale: reported so, counted in
// TotalStale only, leaving the window, the totals and the streak as the
// action left them.
func TestConcurrentStaleOutcomesNeverCounted(t *testing.T) {
	const goroutines = 16
	actions := []struct {
		name  string
		act   func(b *cb.Breaker[int])
		state cb.State
	}{
		{"ForceClosed", (*cb.Breaker[int]).ForceClosed, cb.Closed},
		{"Reset", (*cb.Breaker[int]).Reset, cb.Closed},
		{"ForceOpen", (*cb.Breaker[int]).ForceOpen, cb.Open},
		{"ForceHalfOpen", (*cb.Breaker[int]).ForceHalfOpen, cb.HalfOpen},
	}
	for _, a := range actions {
		t.Run(a.name, func(t *testing.T) {
			clk := cbtest.NewClock()
			b := cb.MustNew[int]("conc", neverTrips(cb.Config{Clock: clk}))
			for i := range 10 {
				if i%3 == 0 {
					b.Execute(fnFail)
				} else {
					b.Execute(fnOK)
				}
			}
			b.Execute(fnFail) // a streak of one

			// Half the goroutines hold a permit, half are inside Execute.
			release := make(chan struct{})
			var admitted sync.WaitGroup
			admitted.Add(goroutines)
			results := make([]cb.CallResult[int], goroutines)
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					fail := g%2 == 0
					if g < goroutines/2 {
						p, err := b.Allow()
						admitted.Done()
						if !assert.NoError(t, err) {
							return
						}
						<-release
						if fail {
							p.Done(0, errBoom)
						} else {
							p.Done(1, nil)
						}
						return
					}
					_, results[g] = b.Execute(func() (int, error) {
						admitted.Done()
						<-release
						if fail {
							return fnFail()
						}
						return fnOK()
					})
				})
			}
			admitted.Wait()
			a.act(b)
			m0 := b.Metrics()
			require.Equal(t, a.state, m0.State)
			close(release)
			wg.Wait()

			for g := goroutines / 2; g < goroutines; g++ {
				assert.True(t, results[g].Stale, "goroutine %d: finished after %s", g, a.name)
				assert.Equal(t, cb.Closed, results[g].State, "admitted while closed")
			}
			m := b.Metrics()
			assert.Equal(t, a.state, m.State)
			assert.Equal(t, m0.Generation, m.Generation, "stale outcomes make no transition")
			assert.Equal(t, m0.TotalStale+goroutines, m.TotalStale)
			assert.Equal(t, m0.TotalCalls, m.TotalCalls)
			assert.Equal(t, m0.TotalFailures, m.TotalFailures)
			assert.Equal(t, m0.Calls, m.Calls)
			assert.Equal(t, m0.Failures, m.Failures)
			assert.Equal(t, m0.Successes, m.Successes)
			assert.Equal(t, m0.ConsecutiveFailures, m.ConsecutiveFailures)
			assert.Equal(t, m0.ConsecutiveSuccesses, m.ConsecutiveSuccesses)
			assert.Equal(t, m0.HalfOpenInFlight, m.HalfOpenInFlight)
		})
	}

	// Probes admitted in HalfOpen, then Reset: stale too.
	t.Run("probes then Reset", func(t *testing.T) {
		clk := cbtest.NewClock()
		b := cb.MustNew[int]("conc", cb.Config{SuccessThreshold: 2, HalfOpenMaxCalls: 6, Clock: clk})
		b.ForceHalfOpen()
		ps := make([]cb.Permit[int], 6)
		for i := range ps {
			p, err := b.Allow()
			require.NoError(t, err)
			ps[i] = p
		}
		b.Reset()
		m0 := b.Metrics()
		concRun(len(ps), func(g int) {
			if g%2 == 0 {
				ps[g].Done(0, errBoom)
			} else {
				ps[g].Done(1, nil)
			}
		})
		m := b.Metrics()
		assert.Equal(t, cb.Closed, m.State)
		assert.Equal(t, m0.Generation, m.Generation)
		assert.Equal(t, m0.TotalStale+6, m.TotalStale)
		assert.Zero(t, m.TotalCalls)
		assert.Zero(t, m.Calls)
		assert.Zero(t, m.ConsecutiveFailures)
	})
}

// Calls race Reset, ForceClosed, ForceOpen and ForceHalfOpen: every call is
// exactly one of counted, rejected, ignored or stale, and the lifetime
// totals agree with the CallResults one by one.
func TestConcurrentAccountingWithRacingForces(t *testing.T) {
	const (
		goroutines = 8
		perG       = 2000
	)
	clk := cbtest.NewClock()
	b := cb.MustNew[int]("conc", cb.Config{Clock: clk, OpenTimeout: time.Second})
	var tally callTally
	forces := []func(){b.Reset, b.ForceClosed, b.ForceOpen, b.ForceHalfOpen}
	stop := drive(func(i int) bool {
		forces[i%len(forces)]()
		if i%5 == 0 {
			clk.Advance(300 * time.Millisecond)
		}
		return true
	})
	concRun(goroutines, func(g int) {
		for i := range perG {
			var err error
			switch (g + i) % 4 {
			case 0:
				err = errBoom
			case 1:
				err = context.Canceled
			}
			_, r := b.Execute(func() (int, error) { return 1, err })
			tally.calls.Add(1)
			tally.result(r)
		}
	})
	stop()
	require.Equal(t, uint64(goroutines*perG), tally.calls.Load())
	tally.check(t, b.Metrics())
}

// --- Soak -----------------------------------------------------------------

// Many goroutines call one breaker (through every entry point, with every
// outcome) while a driver goroutine moves the fake clock. Over thousands
// of calls and many transitions, the soak tests check what the exact
// tests check on single transitions:
//
//   - conservation: every call is exactly one of counted, rejected, ignored
//     or stale, and the lifetime totals agree with what the callers saw;
//   - the time window holds exactly the outcomes of its buckets, and aged
//     out ones leave, while the clock moves under the callers;
//   - one OnStateChange event per state-changing generation step, with the
//     generations of the events matching Metrics.Generation, and a
//     listener keeping the newest generation mirrors the state;
//   - exactly HalfOpenMaxCalls probes per half-open episode, episode after
//     episode, ended in each possible way;
//   - a forced-open breaker holds under load until released, while a
//     forced-closed one is not held;
//   - a call admitted before a Force or Reset and ending after it is
//     stale;
//   - no caller is told the breaker is open after its open time;
//   - one failure right after a close never trips the breaker again.

// soak is full in a full run and short with -short.
func soak[N int | time.Duration](full, short N) N {
	if testing.Short() {
		return short
	}
	return full
}

// errStressPanic is the value a panicking fn panics with.
var errStressPanic = errors.New("stress: fn panicked")

// callTally accounts for calls by what their callers saw.
type callTally struct {
	calls    atomic.Uint64 // every call made
	counted  atomic.Uint64 // results counted: not rejected, ignored or stale
	failures atomic.Uint64 // of which failures
	rejected atomic.Uint64
	ignored  atomic.Uint64
	stale    atomic.Uint64
	// Admitted calls whose fate the caller cannot see: Call returns only
	// fn's own result, Permit.Done reports nothing, and a panicking fn
	// returns no CallResult. The breaker made each one counted, ignored or
	// stale.
	unseen atomic.Uint64
	// Unseen calls that failed (fn panicked, or returned or gave Done a
	// failure): the most the unseen calls can add to TotalFailures.
	unseenFailures atomic.Uint64
}

// result files a CallResult the caller saw.
func (s *callTally) result(r cb.CallResult[int]) {
	switch {
	case r.Outcome == cb.Rejected:
		s.rejected.Add(1)
	case r.Stale:
		s.stale.Add(1)
	case r.Outcome == cb.Ignored:
		s.ignored.Add(1)
	case r.Outcome == cb.Failure:
		s.failures.Add(1)
		s.counted.Add(1)
	default:
		s.counted.Add(1)
	}
}

// check compares the tally with the lifetime totals of m, taken once every
// call has returned.
func (s *callTally) check(t *testing.T, m cb.Metrics) {
	t.Helper()
	assert.Equal(t, s.calls.Load(), m.TotalCalls+m.TotalRejected+m.TotalIgnored+m.TotalStale,
		"every call is exactly one of counted, rejected, ignored or stale")
	assert.Equal(t, s.rejected.Load(), m.TotalRejected, "rejections: every caller sees its own")
	// Each seen call is where its CallResult says; the unseen ones make
	// up the rest of each total, and nothing else does.
	require.GreaterOrEqual(t, m.TotalCalls, s.counted.Load(), "counted")
	require.GreaterOrEqual(t, m.TotalIgnored, s.ignored.Load(), "ignored")
	require.GreaterOrEqual(t, m.TotalStale, s.stale.Load(), "stale")
	require.GreaterOrEqual(t, m.TotalFailures, s.failures.Load(), "failures")
	assert.Equal(t, s.unseen.Load(),
		(m.TotalCalls-s.counted.Load())+(m.TotalIgnored-s.ignored.Load())+(m.TotalStale-s.stale.Load()),
		"the unseen calls account for the rest of the totals")
	assert.LessOrEqual(t, m.TotalFailures-s.failures.Load(), s.unseenFailures.Load(),
		"failures beyond the seen ones come from unseen failing calls")
}

// stressOutcome is what became of one stressCaller.call.
type stressOutcome struct {
	rejected bool  // refused: fn did not run (Execute, Call) or Allow failed
	err      error // the refusal's error
	// r is the breaker's result when the caller got one (Execute and
	// ExecuteContext calls that returned); hasR says so.
	r    cb.CallResult[int]
	hasR bool
	// doneCtx marks an ExecuteContext with a context already cancelled:
	// refused before admission, whatever the state.
	doneCtx bool
	// spannedForce: a whole Force or Reset ran while fn ran, so after the
	// call's admission and before its end: the call must be stale.
	spannedForce bool
}

// stressCaller makes the calls of the stress tests and files them in
// tally.
type stressCaller struct {
	t      *testing.T
	b      *cb.Breaker[int]
	clk    *cbtest.Clock
	slowBy time.Duration // how far a slow call moves the shared clock
	tally  *callTally
	// forces, when set, is odd while the test calls a Force method or
	// Reset: it goes up by one before the call and by one after.
	forces *atomic.Uint64
}

// watch wraps fn to set out.spannedForce when a whole Force or Reset ran
// while fn ran. fn runs only once the call is admitted, and returns before
// the breaker decides whether the outcome is stale.
func (c *stressCaller) watch(out *stressOutcome, fn func() (int, error)) func() (int, error) {
	if c.forces == nil {
		return fn
	}
	return func() (int, error) {
		before := c.forces.Load()
		defer func() { out.spannedForce = before%2 == 0 && c.forces.Load() >= before+2 }()
		return fn()
	}
}

// call makes call number i of goroutine g, of a kind and outcome chosen by
// (g, i). In a sick spell (every fourth run of 32 calls) successes become
// failures, so that the breaker trips now and then.
func (c *stressCaller) call(g, i int) stressOutcome {
	t, b := c.t, c.b
	c.tally.calls.Add(1)
	var err error
	if (i/32)%4 == 3 {
		err = errBoom
	}
	var out stressOutcome
	execute := func(fn func() (int, error)) {
		_, out.r = b.Execute(c.watch(&out, fn))
	}
	returning := func(err error) func() (int, error) { return func() (int, error) { return 1, err } }
	switch (g*7 + i) % 16 {
	case 0, 1, 2, 3:
		execute(returning(err))
	case 4, 5, 6:
		ran := false
		_, cerr := b.Call(c.watch(&out, func() (int, error) { ran = true; return 1, err }))
		if !ran {
			assert.ErrorIs(t, cerr, cb.ErrOpen)
			c.tally.rejected.Add(1)
			return stressOutcome{rejected: true, err: cerr}
		}
		assert.Equal(t, err, cerr, "Call returns fn's own error")
		c.tally.unseen.Add(1)
		if err != nil {
			c.tally.unseenFailures.Add(1)
		}
		return out
	case 7, 8:
		execute(returning(errBoom))
	case 9:
		execute(returning(context.Canceled))
	case 10:
		execute(func() (int, error) {
			c.clk.Advance(c.slowBy)
			runtime.Gosched() // others may make a transition meanwhile: stale
			return 1, err
		})
	case 11:
		panicked := false
		func() {
			defer func() {
				if p := recover(); p != nil {
					panicked = true
					assert.Equal(t, errStressPanic, p, "Execute panics on with fn's value")
				}
			}()
			execute(func() (int, error) { panic(errStressPanic) })
		}()
		if panicked {
			c.tally.unseen.Add(1)
			c.tally.unseenFailures.Add(1)
			return out
		}
		assert.Equal(t, cb.Rejected, out.r.Outcome, "fn did not panic, so it did not run")
	case 12:
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		ran := false
		_, out.r = b.ExecuteContext(ctx, func(context.Context) (int, error) { ran = true; return 1, nil })
		out.doneCtx = true
		assert.False(t, ran, "a done context is refused before admission")
		assert.Equal(t, cb.Ignored, out.r.Outcome)
		assert.ErrorIs(t, out.r.Err, context.Canceled)
	case 13:
		fn := c.watch(&out, func() (int, error) {
			runtime.Gosched()
			return 1, err
		})
		_, out.r = b.ExecuteContext(context.Background(), func(context.Context) (int, error) { return fn() })
	default:
		p, aerr := b.Allow()
		if aerr != nil {
			assert.ErrorIs(t, aerr, cb.ErrOpen)
			c.tally.rejected.Add(1)
			return stressOutcome{rejected: true, err: aerr}
		}
		c.tally.unseen.Add(1)
		if i%16 == 15 {
			p.Done(1, context.Canceled)
			return out
		}
		if err != nil {
			c.tally.unseenFailures.Add(1)
		}
		p.Done(1, err)
		return out
	}
	out.hasR = true
	out.rejected = out.r.Outcome == cb.Rejected
	out.err = out.r.Err
	if out.rejected {
		assert.ErrorIs(t, out.r.Err, cb.ErrOpen)
	}
	if out.spannedForce {
		assert.True(t, out.r.Stale, "a call admitted before a Force and ending after it must be stale")
	}
	c.tally.result(out.r)
	return out
}

// reasonFits reports whether a transition's reason can come with its
// states, for transitions made by calls and time (not by Force or Reset).
func reasonFits(tr cb.Transition) bool {
	switch {
	case tr.From == cb.Closed && tr.To == cb.Open:
		return tr.Reason == cb.ReasonConsecutiveFailures || tr.Reason == cb.ReasonFailureRate || tr.Reason == cb.ReasonSlowCallRate
	case tr.From == cb.Open && tr.To == cb.HalfOpen:
		return tr.Reason == cb.ReasonOpenTimeout
	case tr.From == cb.HalfOpen && tr.To == cb.Open:
		return tr.Reason == cb.ReasonProbeFailed || tr.Reason == cb.ReasonProbeSlow || tr.Reason == cb.ReasonHalfOpenTimeout
	case tr.From == cb.HalfOpen && tr.To == cb.Closed:
		return tr.Reason == cb.ReasonProbesSucceeded
	}
	return false
}

// Goroutines make every kind of call with every outcome while a driver
// moves the clock, so that the breaker trips, opens, probes, reopens with
// backoff and closes, over and over. No half-open episode can time out and
// nothing is forced, so every generation step changes the state: there is
// exactly one event per step. Afterwards every call is accounted for.
func TestStressConservationThroughTransitions(t *testing.T) {
	const (
		workers  = 32
		perG     = 640
		maxCalls = 4
		slowBy   = 3 * time.Millisecond
	)
	clk := cbtest.NewClock()
	var ev eventLog
	b := cb.MustNew[int]("stress", cb.Config{
		Window: 100 * time.Millisecond, Buckets: 10, MinimumCalls: 20,
		ConsecutiveFailures: 6, SlowCallDuration: 2 * time.Millisecond, SlowCallRateThreshold: 0.8,
		OpenTimeout: 2 * time.Millisecond, MaxOpenTimeout: 8 * time.Millisecond,
		// Far beyond the time this test makes pass: no episode restarts,
		// which would be a generation step with no event.
		HalfOpenTimeout:  1000 * time.Hour,
		SuccessThreshold: 2, HalfOpenMaxCalls: maxCalls,
		Clock: clk, OnStateChange: ev.on,
	})
	g0 := b.Metrics().Generation

	var tally callTally
	caller := &stressCaller{t: t, b: b, clk: clk, slowBy: slowBy, tally: &tally}
	var finished atomic.Int32
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			defer finished.Add(1)
			for i := range perG {
				caller.call(g, i)
				// Let the driver in: time must pass while the calls
				// run, for the breaker to go round its cycle.
				runtime.Gosched()
			}
		})
	}
	// The driver: time moves while the calls run. The lifetime figures
	// only grow, and no episode ever has more than maxCalls probes out.
	var prev cb.Metrics
	for n := 0; finished.Load() < workers; n++ {
		clk.Advance(time.Millisecond)
		if n%8 == 0 {
			m := b.Metrics()
			ok := assert.LessOrEqual(t, m.HalfOpenInFlight, maxCalls) &&
				assert.GreaterOrEqual(t, m.Generation, prev.Generation) &&
				assert.GreaterOrEqual(t, m.TotalCalls, prev.TotalCalls) &&
				assert.GreaterOrEqual(t, m.TotalFailures, prev.TotalFailures) &&
				assert.GreaterOrEqual(t, m.TotalRejected, prev.TotalRejected) &&
				assert.GreaterOrEqual(t, m.TotalIgnored, prev.TotalIgnored) &&
				assert.GreaterOrEqual(t, m.TotalStale, prev.TotalStale)
			if !ok {
				break
			}
			prev = m
		}
		runtime.Gosched()
	}
	wg.Wait()

	m := b.Metrics()
	require.Equal(t, uint64(workers*perG), tally.calls.Load())
	tally.check(t, m)

	events := ev.sorted()
	// The test must have driven the breaker round its cycle many times to
	// prove anything.
	require.GreaterOrEqual(t, len(events), 20, "too few transitions to stress anything")
	assert.Equal(t, m.Generation-g0, uint64(len(events)), "one event per generation step")
	state := cb.Closed
	for i, e := range events {
		ok := assert.Equal(t, g0+uint64(i)+1, e.Generation, "event %d: generations step by one", i) &&
			assert.Equal(t, state, e.From, "event %d leaves the state the previous one entered", i) &&
			assert.True(t, reasonFits(e), "event %d: %v", i, e)
		if !ok {
			break
		}
		state = e.To
	}
	assert.Equal(t, state, m.State, "the last event entered the current state")
}

// stressPhase is the outcomes recorded by one phase of
// TestStressWindowHoldsExactlyTheRecentPhases, all inside one slot of two
// buckets.
type stressPhase struct {
	slot int64
	// By kind: fast success, fast failure, slow success, slow failure.
	kinds   [4]atomic.Uint64
	ignored atomic.Uint64
}

func (p *stressPhase) add(failure, slow bool) {
	k := 0
	if failure {
		k++
	}
	if slow {
		k += 2
	}
	p.kinds[k].Add(1)
}

func (p *stressPhase) calls() uint64 {
	return p.kinds[0].Load() + p.kinds[1].Load() + p.kinds[2].Load() + p.kinds[3].Load()
}

// stressWindowWant sums the phases whose slots are among the newest
// slotsPerWindow up to slot: the window's contents when the clock is in it.
func stressWindowWant(phases []*stressPhase, slot, slotsPerWindow int64) (calls, failures, slow uint64) {
	for _, p := range phases {
		if p.slot > slot-slotsPerWindow && p.slot <= slot {
			calls += p.calls()
			failures += p.kinds[1].Load() + p.kinds[3].Load()
			slow += p.kinds[2].Load() + p.kinds[3].Load()
		}
	}
	return calls, failures, slow
}

// A time window of 10 buckets of 10ms, with no rule that can trip it, is
// written by goroutines in phases while the driver moves the clock through
// the phase's slot of two buckets. Five slots make exactly one window, so
// when a phase is over the window must hold exactly the outcomes of the
// phases of the last five slots, kind by kind (slow included), whichever
// bucket of its slot each outcome landed in; the clock sometimes skips
// slots and once jumps far past the window. At the end the clock moves on
// with no calls and the phases leave the window one by one.
func TestStressWindowHoldsExactlyTheRecentPhases(t *testing.T) {
	const (
		workers        = 16
		perG           = 48
		width          = 10 * time.Millisecond
		slotWidth      = 2 * width
		slotsPerWindow = 5
		step           = 250 * time.Microsecond
	)
	clk := cbtest.NewClock()
	b := cb.MustNew[int]("stress", cb.Config{
		Window: 10 * width, Buckets: 10,
		ConsecutiveFailures: cb.Off, FailureRateThreshold: cb.Off,
		// Slow-call tracking stays on (any call during which the clock
		// moved is slow); its rate cannot be Off, but MinimumCalls gates it.
		SlowCallDuration: time.Nanosecond, SlowCallRateThreshold: 1, MinimumCalls: math.MaxInt32,
		Clock: clk,
	})
	g0 := b.Metrics().Generation
	// Allow/Done calls read the clock in Allow and in Done, and Done
	// reports nothing: they hold mu shared, the driver moves the clock
	// holding it exclusively, so they take no time and the test knows
	// their kind. Execute calls do not take it and race the clock.
	var mu sync.RWMutex
	ctx := context.Background()
	done, cancel := context.WithCancel(ctx)
	cancel()

	gaps := []int64{1, 1, 1, 2, 1, 1, 3, 1, 1, 1, 6, 1, 1, 1, 1, 2, 40, 1, 1, 1, 1, 1, 4, 1}
	var phases []*stressPhase
	var totalCalls, totalIgnored uint64
	slot := int64(0)
	for n, gap := range gaps {
		slot += gap
		start := time.Duration(slot) * slotWidth
		end := start + slotWidth - 1
		clk.Set(start)
		p := &stressPhase{slot: slot}
		phases = append(phases, p)
		prevCalls, _, _ := stressWindowWant(phases[:len(phases)-1], slot-1, slotsPerWindow-1)

		var finished atomic.Int32
		var wg sync.WaitGroup
		for g := range workers {
			wg.Go(func() {
				defer finished.Add(1)
				for i := range perG {
					fail := (g+i+n)%3 == 0
					var err error
					if fail {
						err = errBoom
					}
					switch (g + i) % 8 {
					case 0, 1, 2, 3:
						_, r := b.Execute(func() (int, error) {
							if i%4 == 0 {
								runtime.Gosched() // let the clock move: a slow call
							}
							return 1, err
						})
						if !assert.False(t, r.Stale) || !assert.NotEqual(t, cb.Rejected, r.Outcome) {
							return
						}
						p.add(r.Outcome == cb.Failure, r.Slow)
					case 4:
						_, r := b.ExecuteContext(ctx, func(context.Context) (int, error) { return 1, context.Canceled })
						assert.Equal(t, cb.Ignored, r.Outcome)
						p.ignored.Add(1)
					case 5:
						_, r := b.ExecuteContext(done, func(context.Context) (int, error) { return 1, nil })
						assert.Equal(t, cb.Ignored, r.Outcome)
						p.ignored.Add(1)
					default:
						mu.RLock()
						pm, aerr := b.Allow()
						if assert.NoError(t, aerr) {
							pm.Done(1, err)
							p.add(fail, false)
						}
						mu.RUnlock()
					}
				}
			})
		}
		// The driver moves the clock through the slot while the calls run,
		// never past it, and checks the window meanwhile: it holds at
		// least the previous phases still in it and the outcomes of this
		// phase already returned.
		for i := 0; finished.Load() < workers; i++ {
			if clk.Now()+step <= end {
				mu.Lock()
				clk.Advance(step)
				mu.Unlock()
			}
			if i%4 == 0 {
				returned := p.calls()
				m := b.Metrics()
				assert.GreaterOrEqual(t, m.Calls, prevCalls+returned, "phase %d: the window lost outcomes", n)
				assert.LessOrEqual(t, m.Calls, m.TotalCalls)
			}
			runtime.Gosched()
		}
		wg.Wait()

		clk.Set(end)
		totalCalls += p.calls()
		totalIgnored += p.ignored.Load()
		calls, failures, slow := stressWindowWant(phases, slot, slotsPerWindow)
		m := b.Metrics()
		ok := assert.Equal(t, calls, m.Calls, "phase %d: window calls", n) &&
			assert.Equal(t, failures, m.Failures, "phase %d: window failures", n) &&
			assert.Equal(t, calls-failures, m.Successes, "phase %d: window successes", n) &&
			assert.Equal(t, slow, m.SlowCalls, "phase %d: window slow calls", n) &&
			assert.Equal(t, totalCalls, m.TotalCalls, "phase %d: lifetime calls", n) &&
			assert.Equal(t, totalIgnored, m.TotalIgnored, "phase %d: lifetime ignored", n) &&
			assert.Zero(t, m.TotalStale) && assert.Zero(t, m.TotalRejected) &&
			assert.Equal(t, cb.Closed, m.State) && assert.Equal(t, g0, m.Generation, "no transition")
		if !ok {
			return
		}
	}
	// Both kinds the test relies on must have happened for it to prove
	// anything: calls that raced the clock (slow) and calls that did not.
	var slowSeen, fastSeen bool
	for _, p := range phases {
		slowSeen = slowSeen || p.kinds[2].Load()+p.kinds[3].Load() > 0
		fastSeen = fastSeen || p.kinds[0].Load()+p.kinds[1].Load() > 0
	}
	require.True(t, slowSeen && fastSeen, "slow and fast outcomes both recorded")

	// No more calls: each slot the clock moves on takes the oldest phase
	// out, until the window is empty.
	for j := int64(1); j <= slotsPerWindow; j++ {
		clk.Set(time.Duration(slot+j)*slotWidth + slotWidth - 1)
		calls, failures, slow := stressWindowWant(phases, slot+j, slotsPerWindow)
		m := b.Metrics()
		assert.Equal(t, calls, m.Calls, "%d slots on: window calls", j)
		assert.Equal(t, failures, m.Failures, "%d slots on: window failures", j)
		assert.Equal(t, slow, m.SlowCalls, "%d slots on: window slow calls", j)
		assert.Equal(t, totalCalls, m.TotalCalls, "lifetime calls stay")
	}
	assert.Zero(t, b.Metrics().Calls, "every phase has aged out")
}

// stressEnd is how a half-open episode of TestStressExactlyNProbesPerEpisode
// ends.
type stressEnd int

const (
	endProbesFail    stressEnd = iota // every probe fails: the first reopens, the others are stale
	endProbesSucceed                  // every probe succeeds: SuccessThreshold close, the others are stale
	endTimeout                        // HalfOpenTimeout passes with the probes out: it reopens, every probe stale
	endForce                          // ForceHalfOpen: a new episode, every probe stale
	numEnds
)

// result is what the held probes of an episode ending so return.
func (e stressEnd) result() (int, error) {
	if e == endProbesFail {
		return 0, errBoom
	}
	return 1, nil
}

// stressEpisode is one half-open episode: workers race for its probe
// permits, some give theirs back (an ignored outcome), the others hold
// theirs until the driver ends the episode.
type stressEpisode struct {
	end     stressEnd
	open    chan struct{} // closed: the workers start asking
	release chan struct{} // closed: the holders finish their probes
	stop    atomic.Bool   // the workers stop asking
	// Probes admitted and not given back. It rises after an admission and
	// falls before the permit goes back, so it never exceeds the
	// breaker's own count.
	inFlight atomic.Int64
	held     atomic.Int64 // probes kept until release
	left     atomic.Int64 // workers done with the episode
	// Refusals of calls made when held already showed a full pool.
	rejectedWhenFull atomic.Int64
	rejected         atomic.Uint64
	ignored          atomic.Uint64
	// What the breaker told the holders that used Execute.
	execCounted, execStale atomic.Int64
}

// takePermit notes an admitted probe, checking the episode's pool.
func (ep *stressEpisode) takePermit(t *testing.T, maxCalls int64) {
	n := ep.inFlight.Add(1)
	assert.LessOrEqual(t, n, maxCalls, "more probes out than HalfOpenMaxCalls")
}

// stressProbe makes one probe attempt, the k-th of its worker: through
// Execute or Allow, giving the permit back (ignored) or holding it until
// the episode's release.
func stressProbe(t *testing.T, b *cb.Breaker[int], ep *stressEpisode, k int, maxCalls int64) (admitted, holding bool) {
	ignore := k%3 == 0
	checkRefusal := func(err error) {
		var oe *cb.OpenError
		if assert.ErrorAs(t, err, &oe) {
			assert.Equal(t, cb.HalfOpen, oe.State, "refused for want of a probe permit")
		}
		ep.rejected.Add(1)
	}
	if k%2 == 0 {
		_, r := b.Execute(func() (int, error) {
			ep.takePermit(t, maxCalls)
			if ignore {
				ep.inFlight.Add(-1)
				return 0, context.Canceled
			}
			ep.held.Add(1)
			<-ep.release
			return ep.end.result()
		})
		switch {
		case r.Outcome == cb.Rejected:
			assert.Equal(t, cb.HalfOpen, r.State)
			assert.Zero(t, r.RetryAfter, "half-open rejections carry no retry time")
			checkRefusal(r.Err)
			return false, false
		case ignore:
			assert.Equal(t, cb.Ignored, r.Outcome)
			assert.False(t, r.Stale)
			ep.ignored.Add(1)
			return true, false
		}
		assert.Equal(t, cb.HalfOpen, r.State, "admitted as a probe")
		if r.Stale {
			ep.execStale.Add(1)
		} else {
			ep.execCounted.Add(1)
		}
		return true, true
	}
	p, err := b.Allow()
	if err != nil {
		checkRefusal(err)
		return false, false
	}
	ep.takePermit(t, maxCalls)
	if ignore {
		ep.inFlight.Add(-1)
		p.Done(0, context.Canceled)
		ep.ignored.Add(1)
		return true, false
	}
	ep.held.Add(1)
	<-ep.release
	p.Done(ep.end.result())
	return true, true
}

// stressProbeWorker takes part in every episode in turn: it asks for
// probes until it holds one or the driver stops the episode.
func stressProbeWorker(t *testing.T, b *cb.Breaker[int], episodes []*stressEpisode, g int, maxCalls int64) {
	k := g
	for _, ep := range episodes {
		<-ep.open
		for !ep.stop.Load() {
			k++
			full := ep.held.Load() >= maxCalls
			admitted, holding := stressProbe(t, b, ep, k, maxCalls)
			if holding {
				break
			}
			if !admitted {
				if full {
					ep.rejectedWhenFull.Add(1)
				}
				runtime.Gosched()
			}
		}
		ep.left.Add(1)
	}
}

// Episode after episode, 32 goroutines race for the probe permits of a
// half-open breaker with HalfOpenMaxCalls 6, some handing theirs back (an
// ignored outcome returns the permit) and asking again, the others holding
// theirs. The pool never has more than 6 out, the 6 held are the only
// admissions once it is full, and every later attempt is refused. Each
// episode then ends in one of the four ways an episode can end, and the
// driver checks the generation, the totals (counted, stale, ignored,
// rejected) and, at the end, that the events are exactly those of the
// state changes, one per state-changing generation step: the restart by
// ForceHalfOpen is a generation step with no event.
func TestStressExactlyNProbesPerEpisode(t *testing.T) {
	const (
		workers         = 32
		maxCalls        = 6
		successes       = 3
		openTimeout     = 10 * time.Millisecond
		halfOpenTimeout = 50 * time.Millisecond
	)
	episodes := soak(120, 6*int(numEnds)) // every way to end, over and over
	clk := cbtest.NewClock()
	var ev eventLog
	b := cb.MustNew[int]("stress", cb.Config{
		ConsecutiveFailures: 1,
		OpenTimeout:         openTimeout, MaxOpenTimeout: 4 * openTimeout, HalfOpenTimeout: halfOpenTimeout,
		SuccessThreshold: successes, HalfOpenMaxCalls: maxCalls,
		Clock: clk, OnStateChange: ev.on,
	})
	eps := make([]*stressEpisode, episodes)
	for i := range eps {
		eps[i] = &stressEpisode{end: stressEnd(i % int(numEnds)), open: make(chan struct{}), release: make(chan struct{})}
	}
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() { stressProbeWorker(t, b, eps, g, maxCalls) })
	}
	// If the driver stops early (a failed require), the workers must not
	// wait for it forever: open and stop every episode left.
	defer func() {
		for _, ep := range eps {
			ep.stop.Store(true)
			select {
			case <-ep.open:
			default:
				close(ep.open)
			}
			select {
			case <-ep.release:
			default:
				close(ep.release)
			}
		}
		wg.Wait()
	}()

	gen := b.Metrics().Generation
	var want []cb.Transition
	event := func(from, to cb.State, reason cb.Reason) {
		gen++
		want = append(want, cb.Transition{Name: "stress", From: from, To: to, Generation: gen, Reason: reason})
	}
	var wantCalls, wantFailures, wantStale, wantIgnored, wantRejected uint64
	trip := func() {
		_, r := b.Execute(fnFail)
		require.Equal(t, cb.Failure, r.Outcome)
		event(cb.Closed, cb.Open, cb.ReasonConsecutiveFailures)
		wantCalls++
		wantFailures++
	}
	trip()
	open := true
	for i, ep := range eps {
		if open {
			m := b.Metrics()
			require.Equal(t, cb.Open, m.State, "episode %d", i)
			require.Positive(t, m.RetryAfter)
			clk.Advance(m.RetryAfter)
			event(cb.Open, cb.HalfOpen, cb.ReasonOpenTimeout) // made by the first worker to ask
		}
		close(ep.open)
		// The clock drifts a little (less than HalfOpenTimeout in all)
		// while the workers race, until the pool is full and the workers
		// have been refused many times since.
		drift := 0
		waitFor(t, "a full pool", func() bool {
			if drift < 10 {
				clk.Advance(time.Millisecond)
				drift++
			}
			return ep.held.Load() >= maxCalls && ep.rejectedWhenFull.Load() >= 4*workers
		})
		ep.stop.Store(true)
		waitFor(t, "the workers not holding a probe", func() bool { return ep.left.Load() == workers-ep.held.Load() })

		m := b.Metrics()
		require.Equal(t, cb.HalfOpen, m.State, "episode %d", i)
		require.Equal(t, gen, m.Generation, "episode %d: an unexpected transition", i)
		require.Equal(t, maxCalls, m.HalfOpenInFlight, "episode %d", i)
		require.Equal(t, int64(maxCalls), ep.inFlight.Load(), "episode %d: probes held", i)

		var counted uint64
		switch ep.end {
		case endProbesFail:
			close(ep.release)
			event(cb.HalfOpen, cb.Open, cb.ReasonProbeFailed)
			counted = 1
			wantFailures++
			wantStale += maxCalls - 1
			open = true
		case endProbesSucceed:
			close(ep.release)
			event(cb.HalfOpen, cb.Closed, cb.ReasonProbesSucceeded)
			counted = successes
			wantStale += maxCalls - successes
		case endTimeout:
			clk.Advance(halfOpenTimeout)
			close(ep.release)
			event(cb.HalfOpen, cb.Open, cb.ReasonHalfOpenTimeout) // made by the first holder to finish
			wantStale += maxCalls
			open = true
		case endForce:
			b.ForceHalfOpen()
			close(ep.release)
			gen++ // HalfOpen to HalfOpen, no event
			wantStale += maxCalls
			open = false
		}
		waitFor(t, "the holders", func() bool { return ep.left.Load() == workers })
		wantCalls += counted
		if ep.end == endProbesSucceed {
			require.Equal(t, cb.Closed, b.State(), "episode %d", i)
			trip()
			open = true
		}
		wantIgnored += ep.ignored.Load()
		wantRejected += ep.rejected.Load()

		m = b.Metrics()
		ok := assert.Equal(t, gen, m.Generation, "episode %d: generation", i) &&
			assert.Equal(t, wantCalls, m.TotalCalls, "episode %d: counted", i) &&
			assert.Equal(t, wantFailures, m.TotalFailures, "episode %d: failures", i) &&
			assert.Equal(t, wantStale, m.TotalStale, "episode %d: stale", i) &&
			assert.Equal(t, wantIgnored, m.TotalIgnored, "episode %d: ignored", i) &&
			assert.Equal(t, wantRejected, m.TotalRejected, "episode %d: rejected", i) &&
			assert.LessOrEqual(t, uint64(ep.execCounted.Load()), counted, "episode %d: Execute probes counted", i) &&
			assert.LessOrEqual(t, uint64(ep.execStale.Load()), maxCalls-counted, "episode %d: Execute probes stale", i)
		if !ok {
			return
		}
	}
	assert.Equal(t, want, ev.sorted(), "exactly one event per state change")
}

// Goroutines keep calling, with every kind of call and outcome, while the
// driver moves the clock and, cycle after cycle, forces the breaker open,
// lets hours pass, and releases it with Reset, ForceClosed or
// ForceHalfOpen. Every call made wholly inside a hold is rejected (with no
// retry time), and nothing makes a transition during a hold: the
// generation stays, and the next event is the release's. After Reset or
// ForceClosed the load trips the breaker again by itself: ForceClosed does
// not hold it closed. A call whose fn ran across a whole Force or Reset is
// stale. Every call is accounted for at the end.
func TestStressForcedStates(t *testing.T) {
	const (
		workers = 16
		slowBy  = 3 * time.Millisecond
	)
	cycles := soak(48, 12)
	clk := cbtest.NewClock()
	var ev eventLog
	b := cb.MustNew[int]("stress", cb.Config{
		Window: 100 * time.Millisecond, Buckets: 10,
		ConsecutiveFailures: 3, SlowCallDuration: 2 * time.Millisecond,
		OpenTimeout: 5 * time.Millisecond, HalfOpenTimeout: 5 * time.Millisecond,
		SuccessThreshold: 1, HalfOpenMaxCalls: 2,
		Clock: clk, OnStateChange: ev.on,
	})

	// epoch is odd while the breaker is held open: it turns odd after
	// ForceOpen has returned and even before the release is called.
	var epoch atomic.Uint64
	var tally callTally
	var forces atomic.Uint64
	caller := &stressCaller{t: t, b: b, clk: clk, slowBy: slowBy, tally: &tally, forces: &forces}
	// force calls a Force method or Reset, marking it for the calls that
	// run meanwhile (see stressCaller.forces).
	force := func(do func()) {
		forces.Add(1)
		do()
		forces.Add(1)
	}
	var checkedInHold atomic.Uint64 // calls made wholly inside a hold
	var spanned atomic.Uint64       // calls that ran across a force
	var stop atomic.Bool
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				// Calls refused while held open take no time: without
				// yielding, the workers would keep the driver off the
				// processors for whole scheduler time slices.
				runtime.Gosched()
				e := epoch.Load()
				out := caller.call(g, i)
				if out.spannedForce {
					spanned.Add(1)
				}
				if e%2 == 0 || epoch.Load() != e || out.doneCtx {
					continue
				}
				checkedInHold.Add(1)
				ok := assert.True(t, out.rejected, "a call during a forced-open hold was admitted") &&
					assert.ErrorIs(t, out.err, cb.ErrOpen)
				if ok && out.hasR {
					ok = assert.Equal(t, cb.Open, out.r.State) && assert.Zero(t, out.r.RetryAfter, "forced open: no retry time")
				}
				if !ok {
					return
				}
			}
		})
	}
	defer func() {
		stop.Store(true)
		wg.Wait()
	}()

	// waitCalls lets n more calls end, moving the clock by tick meanwhile.
	waitCalls := func(n uint64, tick time.Duration, each func()) {
		target := tally.calls.Load() + n
		waitFor(t, "calls", func() bool {
			clk.Advance(tick)
			if each != nil {
				each()
			}
			return tally.calls.Load() >= target
		})
	}
	type hold struct {
		gen     uint64 // the generation ForceOpen began
		release cb.Reason
	}
	var holds []hold
	releases := []struct {
		reason cb.Reason
		do     func()
		closes bool
	}{
		{cb.ReasonReset, b.Reset, true},
		{cb.ReasonForcedClosed, b.ForceClosed, true},
		{cb.ReasonForcedHalfOpen, b.ForceHalfOpen, false},
	}
	for c := range cycles {
		waitCalls(200, time.Millisecond, nil)

		force(b.ForceOpen)
		m := b.Metrics()
		require.Equal(t, cb.Open, m.State)
		require.True(t, m.Forced)
		gen := m.Generation
		epoch.Add(1)
		waitCalls(200, time.Hour, func() {
			m := b.Metrics()
			require.Equal(t, cb.Open, m.State, "cycle %d: forced open holds", c)
			require.True(t, m.Forced)
			require.Equal(t, gen, m.Generation, "cycle %d: no transition while forced open", c)
			require.Zero(t, m.RetryAfter)
			require.Zero(t, m.HalfOpenInFlight)
		})
		epoch.Add(1)
		rel := releases[c%len(releases)]
		force(rel.do)
		holds = append(holds, hold{gen, rel.reason})

		if rel.closes {
			// Not held closed: the load trips it again by itself, an
			// event of a later generation leaving Closed.
			waitFor(t, "a trip after the release", func() bool {
				clk.Advance(time.Millisecond)
				for _, e := range ev.all() {
					if e.Generation > gen+1 && e.From == cb.Closed {
						return true
					}
				}
				return false
			})
		}
	}
	stop.Store(true)
	wg.Wait()
	tally.check(t, b.Metrics())
	require.Greater(t, checkedInHold.Load(), uint64(cycles)*100, "too few calls inside the holds to prove anything")
	// About 20 calls per run straddle a force; none would leave the
	// staleness of such calls unchecked.
	require.Positive(t, spanned.Load(), "no call ran across a force")

	events := ev.sorted()
	byGen := make(map[uint64]cb.Transition, len(events))
	for i, e := range events {
		byGen[e.Generation] = e
		if i > 0 {
			// Steps with no event keep the state (a restart, a force into
			// the same state), so each event leaves the state the one
			// before entered.
			assert.Less(t, events[i-1].Generation, e.Generation)
			assert.Equal(t, events[i-1].To, e.From, "event %d: %v after %v", i, e, events[i-1])
		}
	}
	for c, h := range holds {
		e, ok := byGen[h.gen+1]
		if assert.True(t, ok, "cycle %d: the release made an event", c) {
			assert.Equal(t, h.release, e.Reason, "cycle %d: the step after the hold is the release", c)
			assert.Equal(t, cb.Open, e.From, "cycle %d", c)
		}
	}
}

// Once the open time is over, the breaker is half-open for every caller:
// however many goroutines race the transition, none may be told it is
// still open. Observers call Metrics and Allow without pause
// while the driver, round after round, trips the breaker and moves the
// clock to the end of the open time; any observation made wholly after
// that move must see the breaker half-open (or later), never Open.
//
// A caller that loads the state word just before another goroutine makes
// the open->half-open transition, and reads the generation's start time
// just after that goroutine has published it, holds a word older than the
// published generation. The race lasts nanoseconds, so it is only hit a
// few times per second, but a correct breaker is never caught in it: the
// test fails at the first observation of a stale Open. It races for a
// time budget, whatever the speed of the machine: 1.5s, a tenth of it
// with -short.
func TestStressNoCallerSeesOpenAfterTheOpenTime(t *testing.T) {
	const (
		observers   = 3 // more than the two processors of the CI machines, fewer than would starve the driver
		openTimeout = time.Second
	)
	budget := soak(1500*time.Millisecond, 150*time.Millisecond)
	clk := cbtest.NewClock()
	b := cb.MustNew[int]("race", cb.Config{ConsecutiveFailures: 1, OpenTimeout: openTimeout, Clock: clk})
	// round is set, once the clock has passed a round's open time, to that
	// open time; nil while the driver starts the next round.
	var round atomic.Pointer[time.Duration]
	var stop atomic.Bool
	var first atomic.Pointer[string]
	var bad, checked atomic.Int64
	report := func(what string) {
		bad.Add(1)
		first.CompareAndSwap(nil, &what)
	}
	var wg sync.WaitGroup
	for o := range observers {
		wg.Go(func() {
			for i := 0; !stop.Load() && bad.Load() == 0; i++ {
				runtime.Gosched()
				r := round.Load()
				now := clk.Now()
				var what string
				if (o+i)%2 == 0 {
					if m := b.Metrics(); m.State == cb.Open {
						what = fmt.Sprintf("Metrics at %v: %+v", now, m)
					}
				} else {
					p, err := b.Allow()
					var oe *cb.OpenError
					if errors.As(err, &oe) && oe.State == cb.Open {
						what = fmt.Sprintf("Allow at %v refused as open: %v", now, err)
					}
					p.Done(0, context.Canceled) // a permit goes back; a zero Permit does nothing
				}
				// Only an observation made wholly inside one round, after
				// its open time, counts.
				if r == nil || round.Load() != r || now < *r {
					continue
				}
				checked.Add(1)
				if what != "" {
					report(what)
				}
			}
		})
	}
	start := time.Now()
	rounds := 0
	for time.Since(start) < budget && bad.Load() == 0 {
		rounds++
		round.Store(nil)
		b.Reset()
		_, r := b.Execute(fnFail)
		require.Equal(t, cb.Failure, r.Outcome)
		deadline := clk.Now() + openTimeout
		clk.Set(deadline)
		round.Store(&deadline)
		for range 2 {
			runtime.Gosched() // let the observers race the transition
		}
	}
	stop.Store(true)
	wg.Wait()
	require.Positive(t, checked.Load(), "no observation was made after an open time")
	if w := first.Load(); w != nil {
		assert.Fail(t, "a caller saw the breaker open after its open time",
			"%d time(s) in %d rounds; the first: %s", bad.Load(), rounds, *w)
	}
}

// A close empties the window and the failure streak all at once: a call
// of the new closed generation is never judged on the old ones. Trial
// after trial, a goroutine waits for State to report Closed and then makes
// exactly one failing call, while the main goroutine closes a tripped
// breaker in each of the three ways. One failure must never trip it
// again: not by a streak of 3, and not by a rate over a window that must
// be empty, with a time window of many buckets (a slow clear) or a count
// window.
func TestStressOneFailureAfterACloseNeverTrips(t *testing.T) {
	configs := map[string]cb.Config{
		"streak": {ConsecutiveFailures: 3, FailureRateThreshold: cb.Off, SlowCallDuration: cb.Off},
		"rate, time window": {
			ConsecutiveFailures: cb.Off, FailureRateThreshold: 0.5, MinimumCalls: 2,
			Window: 1024 * time.Millisecond, Buckets: 1024, SlowCallDuration: cb.Off,
		},
		"rate, count window": {
			ConsecutiveFailures: cb.Off, FailureRateThreshold: 0.7, MinimumCalls: 3, WindowCalls: 30,
			SlowCallDuration: cb.Off,
		},
	}
	closes := map[string]func(b *cb.Breaker[int], clk *cbtest.Clock){
		"ForceClosed": func(b *cb.Breaker[int], _ *cbtest.Clock) { b.ForceClosed() },
		"Reset":       func(b *cb.Breaker[int], _ *cbtest.Clock) { b.Reset() },
		"probe": func(b *cb.Breaker[int], clk *cbtest.Clock) {
			clk.Advance(time.Second)
			_, r := b.Execute(fnOK)
			require.Equal(t, cb.Success, r.Outcome)
			require.Equal(t, cb.HalfOpen, r.State)
		},
	}
	// The streak is where a call in the gap shows most often (a few times
	// in a thousand trials on two cores on a breaker whose close is not
	// atomic): it gets the most trials, enough for the full run to fail
	// such a breaker reliably; -short runs a twentieth.
	trials := map[string]int{"streak": 30000, "rate, time window": 200, "rate, count window": 3000}
	for cname, cfg := range configs {
		for how, close := range closes {
			t.Run(cname+"/"+how, func(t *testing.T) {
				clk := cbtest.NewClock()
				cfg.Clock, cfg.OpenTimeout, cfg.SuccessThreshold = clk, time.Second, 1
				b := cb.MustNew[int]("gap", cfg)
				retrips, n := 0, soak(trials[cname], trials[cname]/20)
				for range n {
					for b.State() == cb.Closed {
						b.Execute(fnFail)
					}
					var wg sync.WaitGroup
					wg.Go(func() {
						for b.State() != cb.Closed { //nolint:revive // a busy wait: the gap lasts nanoseconds
						}
						b.Execute(fnFail)
					})
					close(b, clk)
					wg.Wait()
					if b.State() != cb.Closed {
						retrips++
					}
				}
				assert.Zero(t, retrips, "one failure right after a close tripped the breaker again in %d of %d trials", retrips, n)
			})
		}
	}
}

// Listeners hear the events of concurrent transitions in any order, but a
// listener that keeps the highest Generation always ends on the state the
// breaker is in, however the goroutines raced.
func TestStressListenerMirroringByGenerationEndsOnTheState(t *testing.T) {
	clk := cbtest.NewClock()
	var mu sync.Mutex
	var newest cb.Transition
	b := cb.MustNew[int]("mirror", cb.Config{
		ConsecutiveFailures: 2, OpenTimeout: time.Millisecond, SuccessThreshold: 1, Clock: clk,
		OnStateChange: func(tr cb.Transition) {
			mu.Lock()
			if tr.Generation > newest.Generation {
				newest = tr
			}
			mu.Unlock()
		},
	})
	rounds := soak(300, 50)
	for range rounds {
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := range 20 {
					switch (g + i) % 4 {
					case 0:
						b.Execute(fnFail)
					case 1:
						b.Execute(fnOK)
					case 2:
						clk.Advance(time.Millisecond / 2)
						b.State()
					default:
						if i%7 == 0 {
							b.Reset()
						}
					}
				}
			})
		}
		wg.Wait()
		state := b.State() // makes any transition that time has made due
		mu.Lock()
		got := newest.To
		mu.Unlock()
		if newest.Generation != 0 {
			require.Equal(t, state, got, "the newest event's state is the breaker's")
		}
	}
}

// When probes succeed together and one of them closes the breaker, the
// success streak restarts at the close with the closing probe counted once
// and the losers (stale) not at all: two closed successes later it reads
// exactly 2, however the probes raced the close.
func TestStressSuccessStreakAfterRacingProbesClose(t *testing.T) {
	const probes = 16
	rounds := 20000
	if testing.Short() {
		rounds = 1000
	}
	b := cb.MustNew[int]("streak", cb.Config{SuccessThreshold: 1, HalfOpenMaxCalls: probes, ConsecutiveFailures: 1})
	bad := 0
	for range rounds {
		b.ForceHalfOpen()
		permits := make([]cb.Permit[int], probes)
		for i := range permits {
			p, err := b.Allow()
			require.NoError(t, err)
			permits[i] = p
		}
		var wg sync.WaitGroup
		for i := range permits {
			wg.Go(func() { permits[i].Done(1, nil) })
		}
		wg.Wait()
		require.Equal(t, cb.Closed, b.State())
		b.Execute(fnOK)
		b.Execute(fnOK)
		if b.Metrics().ConsecutiveSuccesses != 2 {
			bad++
		}
	}
	assert.Zero(t, bad, "the success streak was off in %d of %d rounds", bad, rounds)
}
