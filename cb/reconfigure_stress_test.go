package cb_test

// Reconfigure under traffic, for -race: callers of every entry point
// while a driver switches between configs of the same window shape and of
// others, shadow mode on and off, and moves the fake clock. Every call
// must end exactly one of counted, rejected, ignored or stale, and what
// the callers saw must agree with the totals.

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
)

// reconfigureTally accounts for calls by what their callers saw.
type reconfigureTally struct {
	calls, counted, rejected, ignored, stale atomic.Uint64
	// unseen are the calls whose fate the caller cannot see: those of
	// Call that it ran (in shadow mode perhaps only as a call the breaker
	// would have rejected) and those of Permit.Done.
	unseen atomic.Uint64
}

func TestReconfigureUnderTraffic(t *testing.T) {
	clk := cbtest.NewClock()
	rule := func(c cb.TripCounts) bool { return c.SlowFailures >= 3 }
	cfgs := []cb.Config{
		{Clock: clk, Window: 100 * time.Millisecond, Buckets: 10, MinimumCalls: 10, ConsecutiveFailures: 4, OpenTimeout: 5 * time.Millisecond, SuccessThreshold: 2},
		// The same shape, other thresholds, in shadow.
		{Clock: clk, Window: 100 * time.Millisecond, Buckets: 10, ConsecutiveFailures: 8, FailureRateThreshold: 0.8, OpenTimeout: 5 * time.Millisecond, SuccessThreshold: 3, HalfOpenMaxCalls: 5, Shadow: true},
		// Another shape, with a rule of its own and slow calls.
		{Clock: clk, WindowCalls: 20, ConsecutiveFailures: 3, SlowCallDuration: time.Millisecond, OpenTimeout: 2 * time.Millisecond, SuccessThreshold: 1, TripRule: rule},
		// That shape again (the window stays), in shadow, the Clock left nil.
		{WindowCalls: 20, ConsecutiveFailures: 2, OpenTimeout: 3 * time.Millisecond, MaxOpenTimeout: 12 * time.Millisecond, SuccessThreshold: 2, Shadow: true},
	}
	b, err := cb.New[int]("stress", cfgs[0])
	require.NoError(t, err)
	var shadowOn, shadowOff atomic.Uint64
	b.Subscribe(func(tr cb.Transition) {
		switch tr.Reason {
		case cb.ReasonShadowOn:
			shadowOn.Add(1)
		case cb.ReasonShadowOff:
			shadowOff.Add(1)
		}
		if tr.From == tr.To && tr.Reason.ChangesState() {
			t.Errorf("a state change that changes nothing: %+v", tr)
		}
	})

	var tally reconfigureTally
	var stop atomic.Bool
	var driver sync.WaitGroup
	reconfigures := 0
	driver.Go(func() {
		for i := 1; !stop.Load(); i++ {
			if err := b.Reconfigure(cfgs[i%len(cfgs)]); err != nil {
				t.Error(err)
				return
			}
			reconfigures = i
			clk.Advance(time.Millisecond)
		}
	})

	const callers, perCaller = 8, 3000
	errDown := errors.New("down")
	var workers sync.WaitGroup
	for g := range callers {
		workers.Go(func() {
			for i := range perCaller {
				tally.calls.Add(1)
				// An outage a third of the time, scattered failures and
				// cancellations otherwise.
				var fnErr error
				switch {
				case clk.Now()/(8*time.Millisecond)%3 == 0 && (g+i)%5 != 0:
					fnErr = errDown
				case (g+i)%7 == 1:
					fnErr = errDown
				case (g+i)%7 == 5:
					fnErr = context.Canceled
				}
				fn := func() (int, error) {
					if (g+i)%11 == 0 {
						clk.Advance(2 * time.Millisecond) // slow
					}
					return i, fnErr
				}
				switch i % 4 {
				case 0, 1:
					_, r := b.Execute(fn)
					tallyResult(t, &tally, r, fnErr)
				case 2:
					if _, err := b.Call(fn); errors.Is(err, cb.ErrOpen) {
						tally.rejected.Add(1)
					} else {
						tally.unseen.Add(1)
					}
				case 3:
					p, err := b.Allow()
					switch {
					case err != nil:
						require.ErrorIs(t, err, cb.ErrOpen)
						tally.rejected.Add(1)
					case p.WouldReject():
						tally.rejected.Add(1)
						p.Done(fn())
					default:
						tally.unseen.Add(1)
						p.Done(fn())
					}
				}
			}
		})
	}
	workers.Wait()
	stop.Store(true)
	driver.Wait()

	m := b.Metrics()
	calls := tally.calls.Load()
	require.Equal(t, uint64(callers*perCaller), calls)
	assert.Equal(t, calls, m.TotalCalls+m.TotalRejected+m.TotalIgnored+m.TotalStale, "each call is exactly one of counted, rejected, ignored or stale")
	assert.GreaterOrEqual(t, m.TotalCalls, tally.counted.Load())
	assert.GreaterOrEqual(t, m.TotalRejected, tally.rejected.Load())
	assert.GreaterOrEqual(t, m.TotalIgnored, tally.ignored.Load())
	assert.GreaterOrEqual(t, m.TotalStale, tally.stale.Load())
	unseen := (m.TotalCalls - tally.counted.Load()) + (m.TotalRejected - tally.rejected.Load()) +
		(m.TotalIgnored - tally.ignored.Load()) + (m.TotalStale - tally.stale.Load())
	assert.Equal(t, tally.unseen.Load(), unseen, "the calls callers could not see are the rest")

	last := cfgs[reconfigures%len(cfgs)]
	assert.Equal(t, last.Shadow, m.Shadow)
	assert.Equal(t, last.ConsecutiveFailures, b.Config().ConsecutiveFailures)
	assert.Equal(t, m.Transitions.By(cb.ReasonShadowOn), shadowOn.Load())
	assert.Equal(t, m.Transitions.By(cb.ReasonShadowOff), shadowOff.Load())
	assert.Equal(t, uint64(reconfigures), shadowOn.Load()+shadowOff.Load(), "every Reconfigure flips Shadow")
	t.Logf("%d reconfigures, %d transitions, %+v", reconfigures, m.Transitions.Total(), m)
}

// tallyResult accounts for an Execute result, checking it is well formed.
func tallyResult(t *testing.T, tally *reconfigureTally, r cb.CallResult[int], fnErr error) {
	switch {
	case r.WouldReject:
		tally.rejected.Add(1)
		assert.Equal(t, fnErr, r.Err, "a call run in shadow returns fn's error")
		assert.NotEqual(t, cb.Rejected, r.Outcome)
		assert.NotEqual(t, cb.Closed, r.State)
	case r.Outcome == cb.Rejected:
		tally.rejected.Add(1)
		assert.ErrorIs(t, r.Err, cb.ErrOpen)
	case r.Stale:
		tally.stale.Add(1)
	case r.Outcome == cb.Ignored:
		tally.ignored.Add(1)
	default:
		tally.counted.Add(1)
	}
}
