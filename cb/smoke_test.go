package cb_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
)

func TestSmokeCycle(t *testing.T) {
	clk := cbtest.NewClock()
	var events []cb.Transition
	b, err := cb.New[int]("s", cb.Config{Clock: clk, OpenTimeout: time.Second, OnStateChange: func(tr cb.Transition) { events = append(events, tr) }})
	require.NoError(t, err)
	boom := errors.New("boom")
	for i := range 5 {
		_, r := b.Execute(func() (int, error) { return 0, boom })
		require.Equal(t, cb.Failure, r.Outcome, i)
	}
	require.Equal(t, cb.Open, b.State())
	_, r := b.Execute(func() (int, error) { return 1, nil })
	require.Equal(t, cb.Rejected, r.Outcome)
	require.ErrorIs(t, r.Err, cb.ErrOpen)
	require.Equal(t, time.Second, r.RetryAfter)
	clk.Advance(time.Second)
	require.Equal(t, cb.HalfOpen, b.State())
	for range 3 {
		v, r := b.Execute(func() (int, error) { return 7, nil })
		require.Equal(t, 7, v)
		require.Equal(t, cb.Success, r.Outcome)
		require.Equal(t, cb.HalfOpen, r.State)
	}
	require.Equal(t, cb.Closed, b.State())
	require.Len(t, events, 3)
	m := b.Metrics()
	require.Equal(t, uint64(8), m.TotalCalls)
	require.Equal(t, uint64(5), m.TotalFailures)
	require.Equal(t, uint64(1), m.TotalRejected)
	require.Equal(t, uint64(0), m.Calls)
	t.Logf("%+v %+v", m, events)
}
