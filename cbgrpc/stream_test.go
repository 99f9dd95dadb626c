package cbgrpc_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/cbgrpc"
)

// recvStatus reads w until it ends and returns its final status, nil for
// OK, with the number of messages read.
func recvStatus(w healthpb.Health_WatchClient) (int, error) {
	for n := 0; ; n++ {
		if _, err := w.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return n, nil
			}
			return n, err
		}
	}
}

func TestStreamFinalStatusIsClassified(t *testing.T) {
	be := newBackend(t, nil)
	guard := &cbgrpc.Client{Config: tripConfig(cbtest.NewClock())}
	conn := dial(t, be.addr, guard)
	ctx := context.Background()

	// A message, then Unavailable: nothing is counted until the status.
	be.fail(watchMethod, fault{code: codes.Unavailable, sendFirst: true})
	w, err := watch(ctx, conn)
	require.NoError(t, err)
	_, err = w.Recv()
	require.NoError(t, err)
	m := metrics(t, guard.Breakers(), watchMethod)
	assert.Zero(t, m.TotalCalls+m.TotalIgnored, "the stream is still open")
	_, err = w.Recv()
	require.Equal(t, codes.Unavailable, status.Code(err))
	assert.Equal(t, uint64(1), metrics(t, guard.Breakers(), watchMethod).TotalFailures)
	_, err = w.Recv()
	require.Error(t, err, "read again after the end")

	// A message, then OK: io.EOF is a success.
	be.fail(watchMethod, fault{endOK: true})
	w, err = watch(ctx, conn)
	require.NoError(t, err)
	n, err := recvStatus(w)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	m = metrics(t, guard.Breakers(), watchMethod)
	assert.Equal(t, uint64(2), m.TotalCalls, "counted once each, reads after the end included")
	assert.Equal(t, uint64(1), m.TotalFailures)

	// The caller's own error: a success.
	be.failWith(watchMethod, codes.InvalidArgument)
	w, err = watch(ctx, conn)
	require.NoError(t, err)
	_, err = recvStatus(w)
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	m = metrics(t, guard.Breakers(), watchMethod)
	assert.Equal(t, uint64(3), m.TotalCalls)
	assert.Equal(t, uint64(1), m.TotalFailures)

	// Three failures in a row trip it: the next stream is rejected
	// without reaching the server.
	be.failWith(watchMethod, codes.Internal)
	for range 3 {
		w, err = watch(ctx, conn)
		require.NoError(t, err)
		_, err = recvStatus(w)
		require.Equal(t, codes.Internal, status.Code(err))
	}
	reached := be.reached(watchMethod)
	_, err = watch(ctx, conn)
	requireRejected(t, err, watchMethod, cb.Open)
	assert.Equal(t, reached, be.reached(watchMethod))
}

// A stream whose server answers with one message (here the unary Check,
// opened as a stream) has ended with OK when that message arrives.
func TestStreamWithOneResponseSettlesOnIt(t *testing.T) {
	be := newBackend(t, nil)
	guard := &cbgrpc.Client{Config: tripConfig(cbtest.NewClock())}
	conn := dial(t, be.addr, guard)

	s, err := conn.NewStream(context.Background(), &grpc.StreamDesc{StreamName: "Check"}, checkMethod)
	require.NoError(t, err)
	require.NoError(t, s.SendMsg(&healthpb.HealthCheckRequest{}))
	require.NoError(t, s.CloseSend())
	var resp healthpb.HealthCheckResponse
	require.NoError(t, s.RecvMsg(&resp))
	assert.Equal(t, healthpb.HealthCheckResponse_SERVING, resp.GetStatus())
	requireOutcome(t, metrics(t, guard.Breakers(), checkMethod), cb.Success)
}

// halfOpenWatch returns a client whose Watch breaker is half-open with a
// single probe to give, and its connection.
func halfOpenWatch(t *testing.T, be *backend) (*cbgrpc.Client, *grpc.ClientConn) {
	t.Helper()
	clk := cbtest.NewClock()
	cfg := tripConfig(clk)
	cfg.SuccessThreshold, cfg.HalfOpenMaxCalls = 1, 1
	guard := &cbgrpc.Client{Config: cfg}
	conn := dial(t, be.addr, guard)
	be.failWith(watchMethod, codes.Unavailable)
	for range 3 {
		w, err := watch(context.Background(), conn)
		require.NoError(t, err)
		_, err = recvStatus(w)
		require.Equal(t, codes.Unavailable, status.Code(err))
	}
	be.heal(watchMethod)
	clk.Advance(cfg.OpenTimeout)
	require.Equal(t, cb.HalfOpen, metrics(t, guard.Breakers(), watchMethod).State)
	return guard, conn
}

func TestStreamAbandonedReleasesItsPermit(t *testing.T) {
	be := newBackend(t, nil)
	guard, conn := halfOpenWatch(t, be)

	// The probe: a watch that the caller reads once, then abandons.
	ctx, cancel := context.WithCancel(context.Background())
	w, err := watch(ctx, conn)
	require.NoError(t, err)
	_, err = w.Recv()
	require.NoError(t, err)
	_, err = watch(context.Background(), conn)
	requireRejected(t, err, watchMethod, cb.HalfOpen)
	assert.Equal(t, 1, metrics(t, guard.Breakers(), watchMethod).HalfOpenInFlight)

	cancel() // and never read again
	eventually(t, func() bool { return metrics(t, guard.Breakers(), watchMethod).HalfOpenInFlight == 0 },
		"the abandoned stream's permit is released")
	m := metrics(t, guard.Breakers(), watchMethod)
	assert.Equal(t, uint64(1), m.TotalIgnored, "abandoned: ignored")
	assert.Equal(t, uint64(3), m.TotalFailures, "the failures that tripped it, no more")
	assert.Equal(t, cb.HalfOpen, m.State)

	// The permit is free: the next stream is the probe, and its OK end
	// closes the breaker.
	be.fail(watchMethod, fault{endOK: true})
	w, err = watch(context.Background(), conn)
	require.NoError(t, err)
	_, err = recvStatus(w)
	require.NoError(t, err)
	assert.Equal(t, cb.Closed, metrics(t, guard.Breakers(), watchMethod).State)
}

func TestStreamAbandonedPastItsDeadlineIsAFailure(t *testing.T) {
	be := newBackend(t, nil)
	guard := &cbgrpc.Client{Config: tripConfig(cbtest.NewClock())}
	conn := dial(t, be.addr, guard)

	ctx := newExpiring()
	w, err := watch(ctx, conn)
	require.NoError(t, err)
	_, err = w.Recv()
	require.NoError(t, err)
	ctx.expire()
	eventually(t, func() bool { return metrics(t, guard.Breakers(), watchMethod).TotalCalls == 1 },
		"the stream is settled when its deadline passes")
	assert.Equal(t, uint64(1), metrics(t, guard.Breakers(), watchMethod).TotalFailures,
		"DeadlineExceeded, as RecvMsg would have said")
	_, err = w.Recv()
	require.Equal(t, codes.DeadlineExceeded, status.Code(err))
	assert.Equal(t, uint64(1), metrics(t, guard.Breakers(), watchMethod).TotalCalls, "counted once")
}

// A stream whose context never ends and which is never read to its end
// cannot hold the breaker half-open: the core fails the episode after
// HalfOpenTimeout, and the probe's late end is stale.
func TestStreamForgottenProbeCannotHoldHalfOpen(t *testing.T) {
	be := newBackend(t, nil)
	clk := cbtest.NewClock()
	cfg := tripConfig(clk)
	cfg.SuccessThreshold, cfg.HalfOpenMaxCalls, cfg.HalfOpenTimeout = 1, 1, 10*time.Second
	guard := &cbgrpc.Client{Config: cfg}
	conn := dial(t, be.addr, guard)
	be.failWith(checkMethod, codes.Unavailable)
	for range 3 {
		require.Equal(t, codes.Unavailable, status.Code(check(conn)))
	}
	clk.Advance(cfg.OpenTimeout)

	// The probe: a Check opened as a stream and forgotten, its context
	// never done.
	be.heal(checkMethod)
	s, err := conn.NewStream(context.Background(), &grpc.StreamDesc{StreamName: "Check"}, checkMethod)
	require.NoError(t, err)
	require.NoError(t, s.SendMsg(&healthpb.HealthCheckRequest{}))
	requireRejected(t, check(conn), checkMethod, cb.HalfOpen)

	clk.Advance(cfg.HalfOpenTimeout)
	m := metrics(t, guard.Breakers(), checkMethod)
	assert.Equal(t, cb.Open, m.State, "the episode failed")
	assert.Zero(t, m.HalfOpenInFlight)

	// Read at last, the probe's success is stale and decides nothing.
	var resp healthpb.HealthCheckResponse
	require.NoError(t, s.RecvMsg(&resp))
	m = metrics(t, guard.Breakers(), checkMethod)
	assert.Equal(t, uint64(1), m.TotalStale)
	assert.Equal(t, cb.Open, m.State)
}

func TestStreamThatFailsToOpenIsClassified(t *testing.T) {
	be := newBackend(t, nil)
	guard := &cbgrpc.Client{Config: tripConfig(cbtest.NewClock())}
	conn := dial(t, be.addr, guard)
	require.NoError(t, check(conn)) // connected
	require.NoError(t, conn.Close())

	_, err := watch(context.Background(), conn)
	require.Equal(t, codes.Canceled, status.Code(err), "the connection is closing")
	requireOutcome(t, metrics(t, guard.Breakers(), watchMethod), cb.Ignored)
}

// Cancellation racing the reads: each stream is settled exactly once,
// whoever comes first.
func TestStreamCancelRacingRecvSettlesOnce(t *testing.T) {
	be := newBackend(t, nil)
	guard := &cbgrpc.Client{Config: tripConfig(cbtest.NewClock())}
	conn := dial(t, be.addr, guard)
	const streams = 50
	for i := range streams {
		if i%2 == 0 {
			be.fail(watchMethod, fault{endOK: true})
		} else {
			be.heal(watchMethod)
		}
		ctx, cancel := context.WithCancel(context.Background())
		w, err := watch(ctx, conn)
		require.NoError(t, err)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = recvStatus(w)
		}()
		cancel()
		<-done
	}
	eventually(t, func() bool {
		m := metrics(t, guard.Breakers(), watchMethod)
		return m.TotalCalls+m.TotalIgnored == streams
	}, "every stream settled")
	m := metrics(t, guard.Breakers(), watchMethod)
	assert.Zero(t, m.TotalFailures)
	assert.Equal(t, uint64(streams), m.TotalCalls+m.TotalIgnored, "once each")
}
