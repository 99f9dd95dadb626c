package cb_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
)

// Call and Execute count the same: the same calls through two breakers
// leave the same Metrics, in every state the sequence passes through, and
// Call returns exactly what fn returned or, rejected, the breaker's
// *OpenError without running fn.
func TestCallCountsLikeExecute(t *testing.T) {
	cfg := func(clk *cbtest.Clock) cb.Config {
		return cb.Config{
			Clock: clk, ConsecutiveFailures: 3, OpenTimeout: time.Second,
			SuccessThreshold: 2, SlowCallDuration: 10 * time.Millisecond,
		}
	}
	clkE, clkC := cbtest.NewClock(), cbtest.NewClock()
	viaExecute, viaCall := cb.MustNew[int]("same", cfg(clkE)), cb.MustNew[int]("same", cfg(clkC))
	errDown := errors.New("down")
	steps := []struct {
		name    string
		d       time.Duration // fn's run time
		v       int
		err     error
		advance time.Duration // after the call
	}{
		{"success", 0, 1, nil, 0},
		{"slow success", 20 * time.Millisecond, 2, nil, 0},
		{"ignored", 0, 0, fmt.Errorf("gave up: %w", context.Canceled), 0},
		{"failure", 0, 0, errDown, 0},
		{"failure", 0, 0, errDown, 0},
		{"failure trips", 0, 0, errDown, 0},
		{"rejected", 0, 9, nil, time.Second},
		{"probe", 0, 3, nil, 0},
		{"probe closes", 0, 4, nil, 0},
		{"closed again", 0, 5, nil, 0},
	}
	for _, s := range steps {
		ran := false
		fn := func(clk *cbtest.Clock) func() (int, error) {
			return func() (int, error) { ran = true; clk.Advance(s.d); return s.v, s.err }
		}
		_, r := viaExecute.Execute(fn(clkE))
		ran = false
		v, err := viaCall.Call(fn(clkC))
		if r.Outcome == cb.Rejected {
			assert.False(t, ran, "%s: a rejected fn does not run", s.name)
			assert.Zero(t, v, s.name)
			var oe *cb.OpenError
			require.ErrorAs(t, err, &oe, s.name)
			assert.ErrorIs(t, err, cb.ErrOpen, s.name)
			assert.Equal(t, "same", oe.Name)
		} else {
			assert.True(t, ran, s.name)
			assert.Equal(t, s.v, v, s.name)
			assert.Equal(t, s.err, err, "%s: fn's own error, unwrapped", s.name)
		}
		clkE.Advance(s.advance)
		clkC.Advance(s.advance)
		assert.Equal(t, viaExecute.Metrics(), viaCall.Metrics(), s.name)
	}
	assert.Equal(t, cb.Closed, viaCall.State())
	assert.Equal(t, uint64(8), viaCall.Metrics().TotalCalls)
}

// A panic in fn is a failure, and the panic goes on with its value.
func TestCallPanicCountsAsFailure(t *testing.T) {
	b := cb.MustNew[int]("panics", cb.Config{Clock: cbtest.NewClock(), ConsecutiveFailures: 1})
	assert.PanicsWithValue(t, "boom", func() {
		_, _ = b.Call(func() (int, error) { panic("boom") })
	})
	m := b.Metrics()
	assert.Equal(t, cb.Open, m.State)
	assert.Equal(t, uint64(1), m.TotalFailures)
}

// Call allocates nothing, succeeding, failing or rejected.
func TestAllocsCall(t *testing.T) {
	for _, c := range allocConfigs(t) {
		t.Run(c.name, func(t *testing.T) {
			b := cb.MustNew[int]("alloc", c.cfg)
			i := 0
			op := func() {
				if c.tick != nil {
					c.tick()
				}
				if i%4 == 0 {
					_, _ = b.Call(fnFail)
				} else {
					_, _ = b.Call(fnOK)
				}
				i++
			}
			assert.Zero(t, allocsOf(op))
			require.Equal(t, cb.Closed, b.State())

			b.ForceOpen()
			assert.Zero(t, allocsOf(func() { _, _ = b.Call(fnOK) }))
			assert.Equal(t, uint64(allocRuns*2), b.Metrics().TotalRejected)
		})
	}
}

// Call returns what fn returns; rejected, an error matching ErrOpen.
func ExampleBreaker_Call() {
	clk := cbtest.NewClock()
	prices := cb.MustNew[float64]("prices", cb.Config{ConsecutiveFailures: 1, OpenTimeout: time.Minute, Clock: clk})

	price, err := prices.Call(func() (float64, error) { return 9.99, nil })
	fmt.Println(price, err)

	_, err = prices.Call(func() (float64, error) { return 0, errors.New("prices: timeout") })
	fmt.Println(err)

	_, err = prices.Call(func() (float64, error) { return 1, nil })
	fmt.Println(errors.Is(err, cb.ErrOpen), err)
	// Output:
	// 9.99 <nil>
	// prices: timeout
	// true tripswitch: circuit "prices" is open
}
