package cb_test

// Concurrency invariants of design.md §4, each under -race on a fake clock:
// no lost update, exactly N probes admitted with ≫N goroutines racing, one
// winner and one event per transition, exact counts for a burst after an
// idle gap, forced states that hold, and stale outcomes never counted.

import (
	"context"
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

// 8+ goroutines make many calls, through Execute, ExecuteContext and
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
					switch i % 3 {
					case 0:
						_, r = b.Execute(fn)
					case 1:
						_, r = b.ExecuteContext(ctx, func(context.Context) (int, error) { return fn() })
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
	var stop atomic.Bool
	var driver sync.WaitGroup
	driver.Go(func() {
		for !stop.Load() {
			clk.Advance(3 * time.Millisecond)
			m := b.Metrics()
			if !assert.LessOrEqual(t, m.Calls, m.TotalCalls) || !assert.LessOrEqual(t, m.Failures, m.TotalFailures) {
				return
			}
			runtime.Gosched()
		}
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
	stop.Store(true)
	driver.Wait()
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
	var stop atomic.Bool
	var driver sync.WaitGroup
	driver.Go(func() {
		for !stop.Load() {
			clk.Advance(time.Hour)
			runtime.Gosched()
		}
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
	stop.Store(true)
	driver.Wait()
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
	var counted, failed, rejected, ignored, stale atomic.Uint64
	var stop atomic.Bool
	var driver sync.WaitGroup
	driver.Go(func() {
		forces := []func(){b.Reset, b.ForceClosed, b.ForceOpen, b.ForceHalfOpen}
		for i := 0; !stop.Load(); i++ {
			forces[i%len(forces)]()
			if i%5 == 0 {
				clk.Advance(300 * time.Millisecond)
			}
			runtime.Gosched()
		}
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
			switch {
			case r.Stale:
				stale.Add(1)
			case r.Outcome == cb.Rejected:
				rejected.Add(1)
			case r.Outcome == cb.Ignored:
				ignored.Add(1)
			case r.Outcome == cb.Failure:
				failed.Add(1)
				counted.Add(1)
			default:
				counted.Add(1)
			}
		}
	})
	stop.Store(true)
	driver.Wait()
	m := b.Metrics()
	assert.Equal(t, uint64(goroutines*perG), counted.Load()+rejected.Load()+ignored.Load()+stale.Load())
	assert.Equal(t, counted.Load(), m.TotalCalls, "counted")
	assert.Equal(t, failed.Load(), m.TotalFailures, "failed")
	assert.Equal(t, rejected.Load(), m.TotalRejected, "rejected")
	assert.Equal(t, ignored.Load(), m.TotalIgnored, "ignored")
	assert.Equal(t, stale.Load(), m.TotalStale, "stale")
}
