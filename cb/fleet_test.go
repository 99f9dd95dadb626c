package cb_test

// The fleet seam: a sharer's view of the local window, the fleet's window
// judged with it under a quorum, the hold on probing, and transitions
// adopted from other replicas.

import (
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
)

// fleetBreaker is a breaker on a fake clock that judges only rates
// (MinimumCalls 10, failure rate 0.5), with its events recorded.
func fleetBreaker(t *testing.T) (*cb.Breaker[int], *cbtest.Clock, *[]cb.Transition) {
	t.Helper()
	clk := cbtest.NewClock()
	var (
		mu     sync.Mutex
		events []cb.Transition
	)
	b, err := cb.New[int]("fleet", cb.Config{
		Clock: clk, ConsecutiveFailures: cb.Off, SlowCallDuration: cb.Off,
		OpenTimeout: 10 * time.Second, SuccessThreshold: 1,
	})
	require.NoError(t, err)
	b.Subscribe(func(tr cb.Transition) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, tr)
	})
	return b, clk, &events
}

func lastReason(events *[]cb.Transition) cb.Reason {
	if len(*events) == 0 {
		return 0
	}
	return (*events)[len(*events)-1].Reason
}

func TestFleetTotalsCountClosedOutcomesOnly(t *testing.T) {
	b, clk, _ := fleetBreaker(t)
	l := b.FleetLink()
	before := l.Totals()
	b.Execute(fnOK)
	b.Execute(fnFail)
	b.Execute(fnFail)
	assert.Equal(t, cb.WindowCounts{Successes: 1, Failures: 2}, l.Totals().Sub(before))

	b.ForceOpen()
	b.Execute(fnFail) // rejected: not counted
	b.ForceHalfOpen()
	b.Execute(fnOK) // a probe: not a window outcome
	clk.Advance(time.Second)
	assert.Equal(t, cb.WindowCounts{Successes: 1, Failures: 2}, l.Totals().Sub(before))
}

func TestFleetWindowTripsAtOnceWithQuorum(t *testing.T) {
	b, _, events := fleetBreaker(t)
	l := b.FleetLink()
	b.Execute(fnFail) // one local failure: below MinimumCalls alone
	gen := l.Status().Generation
	ok := l.SetWindow(gen, &cb.FleetWindow{Counts: cb.WindowCounts{Successes: 4, Failures: 5}, Replicas: 1, Quorum: 2})
	require.True(t, ok)
	assert.Equal(t, cb.Open, b.State(), "1+5 failures of 10 calls, from two replicas")
	assert.Equal(t, cb.ReasonFleetFailureRate, lastReason(events))
}

func TestFleetWindowWithoutQuorumIsNotJudged(t *testing.T) {
	b, _, events := fleetBreaker(t)
	l := b.FleetLink()
	b.Execute(fnFail)
	// Nine failures from one other replica, but this one's own failure
	// makes two reporters only when Quorum is 2: Quorum 3 is not met.
	l.SetWindow(l.Status().Generation, &cb.FleetWindow{Counts: cb.WindowCounts{Failures: 9}, Replicas: 1, Quorum: 3})
	assert.Equal(t, cb.Closed, b.State())
	// Without a local failure the other replica alone is not a quorum of 2.
	b2, _, _ := fleetBreaker(t)
	l2 := b2.FleetLink()
	b2.Execute(fnOK)
	l2.SetWindow(l2.Status().Generation, &cb.FleetWindow{Counts: cb.WindowCounts{Failures: 20}, Replicas: 1, Quorum: 2})
	b2.Execute(fnOK)
	assert.Equal(t, cb.Closed, b2.State())
	assert.Empty(t, *events)

	// The local rules still open the local breaker, with the local reason.
	for range 9 {
		b.Execute(fnFail)
	}
	assert.Equal(t, cb.Open, b.State())
	assert.Equal(t, cb.ReasonFailureRate, lastReason(events))
}

func TestFleetWindowJudgedAfterALocalFailure(t *testing.T) {
	b, _, events := fleetBreaker(t)
	l := b.FleetLink()
	b.Execute(fnOK)
	l.SetWindow(l.Status().Generation, &cb.FleetWindow{Counts: cb.WindowCounts{Successes: 3, Failures: 4}, Replicas: 2, Quorum: 2})
	assert.Equal(t, cb.Closed, b.State(), "8 calls: below MinimumCalls")
	b.Execute(fnOK)
	assert.Equal(t, cb.Closed, b.State(), "a fast success does not judge")
	b.Execute(fnFail)
	assert.Equal(t, cb.Open, b.State(), "5 failures of 10 calls")
	assert.Equal(t, cb.ReasonFleetFailureRate, lastReason(events))
}

func TestFleetWindowOfAnEndedPeriodIsRefusedAndACloseRemovesIt(t *testing.T) {
	b, _, _ := fleetBreaker(t)
	l := b.FleetLink()
	old := l.Status().Generation
	fw := &cb.FleetWindow{Counts: cb.WindowCounts{Successes: 5, Failures: 4}, Replicas: 1, Quorum: 1}
	require.True(t, l.SetWindow(old, fw))
	b.ForceOpen()
	assert.False(t, l.SetWindow(old, fw), "open: no closed period to judge")
	b.ForceClosed()
	assert.False(t, l.SetWindow(old, fw), "a window read for the period before the close")
	b.Execute(fnFail)
	assert.Equal(t, cb.Closed, b.State(), "the close removed the fleet's window")

	fw = &cb.FleetWindow{Counts: cb.WindowCounts{Successes: 6, Failures: 2}, Replicas: 1, Quorum: 1}
	require.True(t, l.SetWindow(l.Status().Generation, fw), "9 calls with the local failure")
	require.True(t, l.SetWindow(0, nil))
	b.Execute(fnFail)
	assert.Equal(t, cb.Closed, b.State(), "nil removes the fleet's window")
}

func TestFleetWindowSlowCallRate(t *testing.T) {
	clk := cbtest.NewClock()
	b := cb.MustNew[int]("slow", cb.Config{
		Clock: clk, ConsecutiveFailures: cb.Off, FailureRateThreshold: cb.Off,
		SlowCallDuration: 10 * ms,
	})
	l := b.FleetLink()
	b.Execute(func() (int, error) { clk.Advance(20 * ms); return 0, nil })
	var got cb.Reason
	b.Subscribe(func(tr cb.Transition) { got = tr.Reason })
	l.SetWindow(l.Status().Generation, &cb.FleetWindow{Counts: cb.WindowCounts{Successes: 5, SlowSuccesses: 3, SlowFailures: 1}, Replicas: 1, Quorum: 2})
	assert.Equal(t, cb.Open, b.State())
	assert.Equal(t, cb.ReasonFleetSlowCallRate, got)
}

func TestFleetHoldKeepsAnOpenBreakerFromProbingUntilGranted(t *testing.T) {
	b, clk, events := fleetBreaker(t)
	l := b.FleetLink()
	l.HoldProbes(true)
	b.ForceOpen()
	b.ForceClosed()
	for range 10 {
		b.Execute(fnFail)
	}
	require.Equal(t, cb.Open, b.State())
	st := l.Status()
	assert.Equal(t, 10*time.Second, st.Remaining)
	assert.False(t, st.Held)

	clk.Advance(10 * time.Second)
	_, r := b.Execute(fnOK)
	assert.Equal(t, cb.Rejected, r.Outcome, "held: the fleet grants the probes")
	assert.Equal(t, cb.Open, r.State)
	assert.Zero(t, r.RetryAfter)
	st = l.Status()
	assert.True(t, st.Held)
	assert.Equal(t, cb.Open, st.State)

	assert.False(t, l.GrantProbes(st.Generation+7), "another generation")
	require.True(t, l.GrantProbes(st.Generation))
	_, r = b.Execute(fnOK)
	assert.Equal(t, cb.HalfOpen, r.State, "granted: this replica probes")
	assert.Equal(t, cb.Closed, b.State())
	assert.Equal(t, cb.ReasonProbesSucceeded, lastReason(events))

	// A grant is for one generation: the next open time is held again.
	for range 10 {
		b.Execute(fnFail)
	}
	clk.Advance(10 * time.Second)
	assert.True(t, l.Status().Held)
	l.HoldProbes(false)
	assert.Equal(t, cb.HalfOpen, b.State(), "without the hold the breaker is a local breaker")
}

func TestFleetAdoptOpen(t *testing.T) {
	b, clk, events := fleetBreaker(t)
	l := b.FleetLink()
	clk.Advance(time.Second)
	require.True(t, l.AdoptOpen(3*time.Second, 2))
	assert.Equal(t, cb.Open, b.State())
	assert.Equal(t, cb.ReasonFleetOpened, lastReason(events))
	st := l.Status()
	assert.Equal(t, 3*time.Second, st.Remaining, "the time the fleet has left, not the local OpenTimeout")
	assert.Equal(t, 2, st.Level)
	_, r := b.Execute(fnOK)
	assert.Equal(t, 3*time.Second, r.RetryAfter)
	assert.Equal(t, 10*time.Second, l.OpenFor(st.Level), "no MaxOpenTimeout: no backoff")

	// Adopting open while open starts a new generation quietly.
	n := len(*events)
	require.True(t, l.AdoptOpen(time.Second, 2))
	assert.Len(t, *events, n)
	assert.Equal(t, time.Second, l.Status().Remaining)
	clk.Advance(time.Second)
	assert.Equal(t, cb.HalfOpen, b.State())

	// Forced open stays forced.
	b.ForceOpen()
	assert.False(t, l.AdoptOpen(time.Second, 0))
	assert.False(t, l.AdoptClosed())
	assert.True(t, l.Status().Forced)

	// Levels past the word's field are clamped, negative times are 0.
	b.Reset()
	require.True(t, l.AdoptOpen(-time.Second, 1000))
	assert.Equal(t, cb.HalfOpen, b.State())
}

func TestFleetAdoptClosed(t *testing.T) {
	b, _, events := fleetBreaker(t)
	l := b.FleetLink()
	assert.False(t, l.AdoptClosed(), "closed already")
	for range 10 {
		b.Execute(fnFail)
	}
	require.Equal(t, cb.Open, b.State())
	require.True(t, l.AdoptClosed())
	assert.Equal(t, cb.Closed, b.State())
	assert.Equal(t, cb.ReasonFleetClosed, lastReason(events))
	m := b.Metrics()
	assert.Zero(t, m.Calls, "the window is emptied")
	assert.Equal(t, uint64(1), m.Transitions.By(cb.ReasonFleetClosed))
	assert.Equal(t, 0, l.Status().Level)
}

func TestFleetReasonsLeadWhereTheySay(t *testing.T) {
	assert.Equal(t, cb.Open, cb.ReasonFleetFailureRate.To())
	assert.Equal(t, cb.Open, cb.ReasonFleetSlowCallRate.To())
	assert.Equal(t, cb.Open, cb.ReasonFleetOpened.To())
	assert.Equal(t, cb.Closed, cb.ReasonFleetClosed.To())
	assert.Equal(t, "fleet opened", cb.ReasonFleetOpened.String())
}

func TestFleetWindowCountsArithmetic(t *testing.T) {
	a := cb.WindowCounts{Successes: 5, Failures: 1, SlowSuccesses: 2, SlowFailures: 3}
	assert.Equal(t, uint64(11), a.Calls())
	assert.Equal(t, cb.WindowCounts{Successes: 4, SlowFailures: 3}, a.Sub(cb.WindowCounts{Successes: 1, Failures: 9, SlowSuccesses: 2}))
	assert.Equal(t, ^uint64(0), a.Add(cb.WindowCounts{Successes: ^uint64(0)}).Successes)
	assert.Equal(t, ^uint64(0), cb.WindowCounts{Successes: ^uint64(0), Failures: 2}.Calls(), "saturates")
}

func TestConcurrentAccountingWithRacingFleetAdoptions(t *testing.T) {
	const (
		goroutines = 8
		perG       = 2000
	)
	clk := cbtest.NewClock()
	b := cb.MustNew[int]("fleet-conc", cb.Config{
		Clock: clk, OpenTimeout: time.Second, MinimumCalls: 4, ConsecutiveFailures: 3,
	})
	l := b.FleetLink()
	var ev eventLog
	b.Subscribe(ev.on)
	var tally callTally
	stop := drive(func(i int) bool {
		switch i % 6 {
		case 0:
			l.AdoptOpen(time.Duration(i%3)*time.Second, i%4)
		case 1:
			l.AdoptClosed()
		case 2:
			l.SetWindow(l.Status().Generation, &cb.FleetWindow{
				Counts: cb.WindowCounts{Successes: uint64(i % 7), Failures: uint64(i % 5)}, Replicas: i % 3, Quorum: 2,
			})
		case 3:
			l.HoldProbes(i%4 == 3)
		case 4:
			l.GrantProbes(l.Status().Generation)
		default:
			clk.Advance(400 * time.Millisecond)
		}
		return true
	})
	concRun(goroutines, func(g int) {
		for i := range perG {
			var err error
			if (g+i)%3 == 0 {
				err = errBoom
			}
			_, r := b.Execute(func() (int, error) { return 1, err })
			tally.calls.Add(1)
			tally.result(r)
		}
	})
	stop()
	require.Equal(t, uint64(goroutines*perG), tally.calls.Load())
	tally.check(t, b.Metrics())
	l.HoldProbes(false)
	clk.Advance(time.Hour)
	state := b.State() // first: it makes the transition time calls for
	assert.Equal(t, mirror(ev.all()), state, "the listener mirroring by generation ends on the state")
}

func TestConcurrentHeldBreakerProbesOnlyWhenGranted(t *testing.T) {
	const goroutines = 8
	clk := cbtest.NewClock()
	b := cb.MustNew[int]("held", cb.Config{
		Clock: clk, OpenTimeout: time.Second, HalfOpenMaxCalls: 3, SuccessThreshold: 3,
	})
	l := b.FleetLink()
	l.HoldProbes(true)
	require.True(t, l.AdoptOpen(time.Second, 0))
	gen := l.Status().Generation

	var probes, admitted atomic.Int64
	calls := func(n int) {
		concRun(goroutines, func(int) {
			for range n {
				_, r := b.Execute(func() (int, error) { return 1, nil })
				if r.Outcome != cb.Rejected {
					admitted.Add(1)
					if r.State == cb.HalfOpen {
						probes.Add(1)
					}
				}
			}
		})
	}
	clk.Advance(time.Hour)
	calls(500)
	assert.Zero(t, admitted.Load(), "held past the open time: nothing runs")
	assert.True(t, l.Status().Held)

	// The grant lets exactly one episode's permits out, however many
	// callers race for them; its success closes the breaker.
	b.Subscribe(func(tr cb.Transition) {
		if tr.To == cb.Closed {
			l.HoldProbes(false)
		}
	})
	require.True(t, l.GrantProbes(gen))
	calls(500)
	assert.Equal(t, int64(3), probes.Load())
	assert.Equal(t, cb.Closed, b.State())
}

// A sharer's counts come from a store, where a bad value can be as large
// as a uint64 goes: the joined window must still give the rates its counts
// say, and the replicas the quorum they say, rather than wrap around.
func TestFleetWindowTooLargeToAddUpKeepsItsRatesAndQuorum(t *testing.T) {
	const huge = math.MaxUint64
	for _, tc := range []struct {
		name    string
		local   func() (int, error)
		fleet   cb.FleetWindow
		want    cb.State
		wantWhy cb.Reason
	}{
		{
			name:  "almost all successes: 20 failures in 2^64 calls do not trip",
			local: fnOK, fleet: cb.FleetWindow{Counts: cb.WindowCounts{Successes: huge - 10, Failures: 20}},
			want: cb.Closed,
		},
		{
			name:  "almost all failures trip",
			local: fnOK, fleet: cb.FleetWindow{Counts: cb.WindowCounts{Successes: 1, Failures: huge}},
			want: cb.Open, wantWhy: cb.ReasonFleetFailureRate,
		},
		{
			name:  "every kind at its largest: half failures trip",
			local: fnOK, fleet: cb.FleetWindow{Counts: cb.WindowCounts{Successes: huge, Failures: huge, SlowSuccesses: huge, SlowFailures: huge}},
			want: cb.Open, wantWhy: cb.ReasonFleetFailureRate,
		},
		{
			name:  "the largest number of replicas and this one make the largest quorum",
			local: fnFail, fleet: cb.FleetWindow{Counts: cb.WindowCounts{Failures: 9}, Replicas: math.MaxInt, Quorum: math.MaxInt},
			want: cb.Open, wantWhy: cb.ReasonFleetFailureRate,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _, events := fleetBreaker(t)
			l := b.FleetLink()
			b.Execute(tc.local)
			require.True(t, l.SetWindow(l.Status().Generation, &tc.fleet))
			assert.Equal(t, tc.want, b.State())
			assert.Equal(t, tc.wantWhy, lastReason(events))
		})
	}
}

func TestFleetWindowDilutingASickReplicaLeavesItsOwnRatesToOpenIt(t *testing.T) {
	b, _, events := fleetBreaker(t)
	l := b.FleetLink()
	// The quorum holds (one other replica reported a failure), but the
	// fleet's 1,000 successes dilute this replica's failures.
	l.SetWindow(l.Status().Generation, &cb.FleetWindow{Counts: cb.WindowCounts{Successes: 1000, Failures: 1}, Replicas: 1, Quorum: 2})
	for range 9 {
		b.Execute(fnFail)
	}
	require.Equal(t, cb.Closed, b.State(), "9 calls: below MinimumCalls alone, 10 failures of 1,010 with the fleet")
	b.Execute(fnFail)
	assert.Equal(t, cb.Open, b.State(), "its own window: 10 failures of 10")
	assert.Equal(t, cb.ReasonFailureRate, lastReason(events), "a local trip, which a sharer keeps local")
}

func TestFleetShapeResolvesTheDefaults(t *testing.T) {
	l := cb.MustNew[int]("shape", cb.Config{}).FleetLink()
	assert.Equal(t, cb.FleetShape{
		Window: cb.DefaultWindow, BucketWidth: cb.DefaultWindow / cb.DefaultBuckets, Buckets: cb.DefaultBuckets,
		HalfOpenTimeout: cb.DefaultOpenTimeout,
	}, l.Shape())
	l = cb.MustNew[int]("count", cb.Config{WindowCalls: 20, OpenTimeout: time.Second, HalfOpenTimeout: 3 * time.Second}).FleetLink()
	assert.Equal(t, cb.FleetShape{HalfOpenTimeout: 3 * time.Second}, l.Shape())
}
