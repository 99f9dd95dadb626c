package cbgrpc_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/cbgrpc"
	"github.com/tripswitch/tripswitch/registry"
)

// requireShed requires err to be a Server's rejection as a client
// receives it: Unavailable with a RetryInfo detail of retry, and not
// cb.ErrOpen (the client's breaker did not reject it).
func requireShed(t testing.TB, err error, retry time.Duration) {
	t.Helper()
	st, ok := status.FromError(err)
	require.True(t, ok, "a status: %v", err)
	require.Equal(t, codes.Unavailable, st.Code())
	require.NotErrorIs(t, err, cb.ErrOpen, "a status from the wire")
	var info *errdetails.RetryInfo
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			info = ri
		}
	}
	require.NotNil(t, info, "RetryInfo in %v", st.Details())
	assert.Equal(t, retry, info.GetRetryDelay().AsDuration())
	d, ok := cbgrpc.RetryAfter(err)
	require.True(t, ok)
	assert.Equal(t, retry, d)
}

func TestServerShedsWhileOpenWithRetryHint(t *testing.T) {
	clk := cbtest.NewClock()
	guard := &cbgrpc.Server{Config: tripConfig(clk)}
	be := newBackend(t, guard)
	be.failWith(checkMethod, codes.Unavailable)
	conn := dial(t, be.addr, nil)

	for range 3 {
		err := check(conn)
		require.Equal(t, codes.Unavailable, status.Code(err))
		_, hinted := cbgrpc.RetryAfter(err)
		require.False(t, hinted, "the handler's own Unavailable has no hint")
	}
	require.Equal(t, cb.Open, metrics(t, guard.Breakers(), checkMethod).State)

	requireShed(t, check(conn), 30*time.Second)
	clk.Advance(10 * time.Second)
	requireShed(t, check(conn), 20*time.Second)
	assert.Equal(t, 5, be.reached(checkMethod))
	assert.Equal(t, 3, be.served(checkMethod), "the handler is not called while open")

	// Other methods are served.
	require.NoError(t, list(conn))

	// Probes close it.
	be.heal(checkMethod)
	clk.Advance(20 * time.Second)
	require.NoError(t, check(conn))
	require.NoError(t, check(conn))
	assert.Equal(t, cb.Closed, metrics(t, guard.Breakers(), checkMethod).State)
	assert.Equal(t, 5, be.served(checkMethod))
}

func TestServerStreamShedsWhileOpen(t *testing.T) {
	clk := cbtest.NewClock()
	guard := &cbgrpc.Server{Config: tripConfig(clk)}
	be := newBackend(t, guard)
	be.fail(watchMethod, fault{code: codes.DataLoss, sendFirst: true})
	conn := dial(t, be.addr, nil)

	for range 3 {
		w, err := watch(context.Background(), conn)
		require.NoError(t, err)
		n, err := recvStatus(w)
		require.Equal(t, codes.DataLoss, status.Code(err))
		assert.Equal(t, 1, n)
	}
	w, err := watch(context.Background(), conn)
	require.NoError(t, err)
	n, err := recvStatus(w)
	assert.Zero(t, n)
	requireShed(t, err, 30*time.Second)
	assert.Equal(t, 3, be.served(watchMethod))

	// A watch the client ends is ignored (the health handler answers
	// Canceled), and does not keep the breaker from closing.
	be.heal(watchMethod)
	clk.Advance(30 * time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	w, err = watch(ctx, conn)
	require.NoError(t, err)
	_, err = w.Recv()
	require.NoError(t, err)
	cancel()
	eventually(t, func() bool { return metrics(t, guard.Breakers(), watchMethod).TotalIgnored == 1 },
		"the server sees the stream end")
	assert.Equal(t, cb.HalfOpen, metrics(t, guard.Breakers(), watchMethod).State)
}

func TestServerCountsHandlerPanicsAndLetsThemGoOn(t *testing.T) {
	guard := &cbgrpc.Server{Config: tripConfig(cbtest.NewClock())}
	be := newBackend(t, guard)
	be.fail(checkMethod, fault{panics: true})
	be.fail(watchMethod, fault{panics: true})
	conn := dial(t, be.addr, nil)

	for i := range 3 {
		require.Equal(t, codes.Internal, status.Code(check(conn)), "the recovery interceptor's answer")
		require.Equal(t, errHandlerBug, <-be.recovered, "the panic went on, unchanged")
		assert.Equal(t, uint64(i+1), metrics(t, guard.Breakers(), checkMethod).TotalFailures)
	}
	requireShed(t, check(conn), 30*time.Second)
	assert.Equal(t, 3, be.served(checkMethod))

	w, err := watch(context.Background(), conn)
	require.NoError(t, err)
	_, err = recvStatus(w)
	require.Equal(t, codes.Internal, status.Code(err))
	require.Equal(t, errHandlerBug, <-be.recovered)
	assert.Equal(t, uint64(1), metrics(t, guard.Breakers(), watchMethod).TotalFailures)
}

// With the recovery inside (between the guard and the handler), a panic
// reaches the guard as Internal: one failure all the same.
func TestServerCountsAPanicRecoveredInsideOnce(t *testing.T) {
	guard := &cbgrpc.Server{Config: tripConfig(cbtest.NewClock())}
	info := &grpc.UnaryServerInfo{FullMethod: checkMethod}
	recovering := func(context.Context, any) (resp any, err error) {
		defer func() {
			if p := recover(); p != nil {
				err = status.Errorf(codes.Internal, "panic: %v", p)
			}
		}()
		panic(errHandlerBug)
	}
	_, err := guard.UnaryInterceptor(context.Background(), nil, info, recovering)
	require.Equal(t, codes.Internal, status.Code(err))
	requireOutcome(t, metrics(t, guard.Breakers(), checkMethod), cb.Failure)
}

func TestServerIgnoresFailuresAfterTheClientLeft(t *testing.T) {
	guard := &cbgrpc.Server{Config: tripConfig(cbtest.NewClock())}
	be := newBackend(t, guard)
	// The handler waits for the client to leave, then fails.
	be.fail(checkMethod, fault{block: true, code: codes.Unavailable})
	conn := dial(t, be.addr, nil)

	for i := range 5 {
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
			errc <- err
		}()
		<-be.entered
		cancel()
		require.Equal(t, codes.Canceled, status.Code(<-errc))
		eventually(t, func() bool { return metrics(t, guard.Breakers(), checkMethod).TotalIgnored == uint64(i+1) },
			"the server counts the call once its handler returns")
	}
	m := metrics(t, guard.Breakers(), checkMethod)
	assert.Zero(t, m.TotalFailures)
	assert.Equal(t, cb.Closed, m.State)
}

func TestServerClassifiesByCode(t *testing.T) {
	want := map[codes.Code]cb.Outcome{
		codes.OK:                 cb.Success,
		codes.Canceled:           cb.Ignored,
		codes.Unknown:            cb.Failure,
		codes.InvalidArgument:    cb.Success,
		codes.DeadlineExceeded:   cb.Failure,
		codes.NotFound:           cb.Success,
		codes.AlreadyExists:      cb.Success,
		codes.PermissionDenied:   cb.Ignored,
		codes.ResourceExhausted:  cb.Success, // unlike a client's
		codes.FailedPrecondition: cb.Success,
		codes.Aborted:            cb.Ignored,
		codes.OutOfRange:         cb.Success,
		codes.Unimplemented:      cb.Ignored,
		codes.Internal:           cb.Failure,
		codes.Unavailable:        cb.Failure,
		codes.DataLoss:           cb.Failure,
		codes.Unauthenticated:    cb.Ignored,
	}
	for code, outcome := range want {
		t.Run(code.String(), func(t *testing.T) {
			guard := &cbgrpc.Server{Config: tripConfig(cbtest.NewClock())}
			be := newBackend(t, guard)
			be.failWith(checkMethod, code)
			conn := dial(t, be.addr, nil)
			require.Equal(t, code, status.Code(check(conn)))
			requireOutcome(t, metrics(t, guard.Breakers(), checkMethod), outcome)

			ctx := context.Background()
			assert.Equal(t, outcome, cbgrpc.DefaultClassifyServed(ctx, statusErr(code)))
			gone, cancel := context.WithCancel(ctx)
			cancel()
			if outcome == cb.Failure {
				outcome = cb.Ignored
			}
			assert.Equal(t, outcome, cbgrpc.DefaultClassifyServed(gone, statusErr(code)), "after the client left")
		})
	}
	expired, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	assert.Equal(t, cb.Failure, cbgrpc.DefaultClassifyServed(expired, statusErr(codes.DeadlineExceeded)),
		"a handler too slow for its deadline fails")
	assert.Equal(t, cb.Success, cbgrpc.DefaultClassifyServed(nil, nil)) //nolint:staticcheck // a nil context is tolerated
}

func TestServerClassifyAndKey(t *testing.T) {
	guard := &cbgrpc.Server{
		Config: tripConfig(cbtest.NewClock()),
		// One breaker for the service, the health of List exempt.
		Key: func(method string) string {
			if method == listMethod {
				return ""
			}
			return "health"
		},
		// A NotFound on Check means the handler lost its data.
		Classify: func(ctx context.Context, method string, err error) cb.Outcome {
			if method == checkMethod && status.Code(err) == codes.NotFound {
				return cb.Failure
			}
			return cbgrpc.DefaultClassifyServed(ctx, err)
		},
	}
	be := newBackend(t, guard)
	be.failWith(checkMethod, codes.NotFound)
	be.failWith(listMethod, codes.Unavailable)
	conn := dial(t, be.addr, nil)
	for range 3 {
		require.Equal(t, codes.NotFound, status.Code(check(conn)))
	}
	w, err := watch(context.Background(), conn)
	require.NoError(t, err, "a stream's status comes with its first read")
	_, err = w.Recv()
	requireShed(t, err, 30*time.Second)
	for range 5 {
		require.Equal(t, codes.Unavailable, status.Code(list(conn)), "exempt: served")
	}
	assert.Equal(t, []string{"health"}, guard.Breakers().Names())
}

func TestServerConfigIsFailureDecidesWithoutClassify(t *testing.T) {
	cfg := tripConfig(cbtest.NewClock())
	cfg.IsFailure = func(err error) bool { return status.Code(err) == codes.ResourceExhausted }
	guard := &cbgrpc.Server{Config: cfg}
	be := newBackend(t, guard)
	be.failWith(checkMethod, codes.ResourceExhausted)
	be.failWith(listMethod, codes.Internal)
	conn := dial(t, be.addr, nil)
	require.Equal(t, codes.ResourceExhausted, status.Code(check(conn)))
	require.Equal(t, codes.Internal, status.Code(list(conn)))
	requireOutcome(t, metrics(t, guard.Breakers(), checkMethod), cb.Failure)
	requireOutcome(t, metrics(t, guard.Breakers(), listMethod), cb.Success)
}

func TestServerRegistryErrorIsInternal(t *testing.T) {
	reg := registry.New()
	_, err := registry.Get[codes.Code](reg, checkMethod, cb.Config{ConsecutiveFailures: 7})
	require.NoError(t, err)
	guard := &cbgrpc.Server{Registry: reg, Config: tripConfig(cbtest.NewClock())}
	be := newBackend(t, guard)
	conn := dial(t, be.addr, nil)
	err = check(conn)
	require.Equal(t, codes.Internal, status.Code(err))
	assert.Contains(t, err.Error(), "another config")
	assert.Zero(t, be.served(checkMethod))
	require.Same(t, reg, guard.Breakers())
}

func TestServerFullRegistryServesUnguarded(t *testing.T) {
	reg := registry.New(registry.WithMaxBreakers(1))
	guard := &cbgrpc.Server{Registry: reg, Config: tripConfig(cbtest.NewClock())}
	be := newBackend(t, guard)
	be.failWith(listMethod, codes.Internal)
	conn := dial(t, be.addr, nil)
	require.NoError(t, check(conn))
	for range 5 {
		require.Equal(t, codes.Internal, status.Code(list(conn)))
	}
	assert.Equal(t, 5, be.served(listMethod))
	assert.Equal(t, uint64(5), reg.Health().Refused)
}

// A Client calling a Server that sheds: the client's breaker counts the
// shedding as the failure it is, and the caller reads the server's hint.
func TestClientAndServerTogether(t *testing.T) {
	sclk, cclk := cbtest.NewClock(), cbtest.NewClock()
	sguard := &cbgrpc.Server{Config: tripConfig(sclk)}
	be := newBackend(t, sguard)
	be.failWith(checkMethod, codes.Internal)
	ccfg := tripConfig(cclk)
	ccfg.ConsecutiveFailures = 5
	cguard := &cbgrpc.Client{Config: ccfg}
	conn := dial(t, be.addr, cguard)

	for range 3 {
		require.Equal(t, codes.Internal, status.Code(check(conn)))
	}
	sclk.Advance(5 * time.Second)
	for range 2 {
		requireShed(t, check(conn), 25*time.Second)
	}
	err := check(conn)
	requireRejected(t, err, checkMethod, cb.Open)
	d, _ := cbgrpc.RetryAfter(err)
	assert.Equal(t, 30*time.Second, d, "the client's own breaker's time left")
	assert.Equal(t, 5, be.reached(checkMethod))
	assert.Equal(t, 3, be.served(checkMethod))
}
