package cbgrpc_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/cbgrpc"
)

// rejection trips a breaker on clk and returns its rejection, as Call
// gives it.
func rejection(t *testing.T, clk *cbtest.Clock) (*cb.Breaker[int], *cb.OpenError) {
	t.Helper()
	b := cb.MustNew[int]("dep", cb.Config{ConsecutiveFailures: 1, OpenTimeout: time.Minute, Clock: clk})
	_, _ = b.Call(func() (int, error) { return 0, errors.New("down") })
	_, err := b.Call(func() (int, error) { return 1, nil })
	var oe *cb.OpenError
	require.ErrorAs(t, err, &oe)
	return b, oe
}

func TestOpenErrorIsAStatusMatchingErrOpen(t *testing.T) {
	clk := cbtest.NewClock()
	b, oe := rejection(t, clk)
	var err error = cbgrpc.OpenError{Err: oe}

	require.ErrorIs(t, err, cb.ErrOpen)
	var got *cb.OpenError
	require.ErrorAs(t, err, &got)
	assert.Same(t, oe, got)
	var ge cbgrpc.OpenError
	require.ErrorAs(t, fmt.Errorf("wrapped: %w", err), &ge)
	assert.Equal(t, oe.Error(), err.Error())

	st := status.Convert(err)
	assert.Equal(t, codes.Unavailable, st.Code())
	assert.Equal(t, `tripswitch: circuit "dep" is open`, st.Message())
	require.Len(t, st.Details(), 1)
	ri, ok := st.Details()[0].(*errdetails.RetryInfo)
	require.True(t, ok)
	assert.Equal(t, time.Minute, ri.GetRetryDelay().AsDuration())

	// The hint is read when asked: as time passes, and once forced open
	// (no time to give), the floor.
	clk.Advance(45 * time.Second)
	d, ok := cbgrpc.RetryAfter(err)
	require.True(t, ok)
	assert.Equal(t, 15*time.Second, d)
	b.ForceOpen()
	assert.Equal(t, cbgrpc.MinRetryDelay, cbgrpc.OpenError{Err: oe}.RetryAfter())
	ri, ok = status.Convert(err).Details()[0].(*errdetails.RetryInfo)
	require.True(t, ok)
	assert.Equal(t, cbgrpc.MinRetryDelay, ri.GetRetryDelay().AsDuration())
}

func TestOpenErrorMadeByHand(t *testing.T) {
	var err error = cbgrpc.OpenError{}
	require.ErrorIs(t, err, cb.ErrOpen)
	assert.Equal(t, cb.ErrOpen.Error(), err.Error())
	assert.Equal(t, codes.Unavailable, status.Code(err))
	d, ok := cbgrpc.RetryAfter(err)
	require.True(t, ok)
	assert.Equal(t, cbgrpc.MinRetryDelay, d)
}

func TestRetryAfter(t *testing.T) {
	_, oe := rejection(t, cbtest.NewClock())

	d, ok := cbgrpc.RetryAfter(oe)
	require.True(t, ok, "a breaker's own rejection")
	assert.Equal(t, time.Minute, d)
	d, ok = cbgrpc.RetryAfter(fmt.Errorf("call: %w", oe))
	require.True(t, ok)
	assert.Equal(t, time.Minute, d)

	st, err := status.New(codes.ResourceExhausted, "quota").WithDetails(
		&errdetails.ErrorInfo{Reason: "QUOTA"},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(3 * time.Second)})
	require.NoError(t, err)
	d, ok = cbgrpc.RetryAfter(st.Err())
	require.True(t, ok, "any status with RetryInfo")
	assert.Equal(t, 3*time.Second, d)

	for _, err := range []error{nil, errors.New("plain"), status.Error(codes.Unavailable, "no hint")} {
		_, ok := cbgrpc.RetryAfter(err)
		assert.False(t, ok, "%v", err)
	}
}

func TestOpenErrorAllocatesNothingUntilItsStatusIsAsked(t *testing.T) {
	_, oe := rejection(t, cbtest.NewClock())
	var sink error
	allocs := testing.AllocsPerRun(100, func() { sink = cbgrpc.OpenError{Err: oe} })
	assert.Zero(t, allocs)
	require.ErrorIs(t, sink, cb.ErrOpen)
}
