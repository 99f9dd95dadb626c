package cbgrpc_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
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
	"github.com/tripswitch/tripswitch/registry"
)

func TestClientTripsOnFailingBackendAndRejectsWithoutReachingIt(t *testing.T) {
	be := newBackend(t, nil)
	be.failWith(checkMethod, codes.Unavailable)
	guard := &cbgrpc.Client{Config: tripConfig(cbtest.NewClock())}
	conn := dial(t, be.addr, guard)

	for range 3 {
		err := check(conn)
		require.Equal(t, codes.Unavailable, status.Code(err))
		require.NotErrorIs(t, err, cb.ErrOpen, "the server's own Unavailable")
	}
	require.Equal(t, cb.Open, metrics(t, guard.Breakers(), checkMethod).State)

	for range 5 {
		err := check(conn)
		requireRejected(t, err, checkMethod, cb.Open)
		d, ok := cbgrpc.RetryAfter(err)
		require.True(t, ok)
		assert.Equal(t, 30*time.Second, d, "the open time left, on the fake clock")
	}
	assert.Equal(t, 3, be.reached(checkMethod), "rejected calls never reach the server")
	m := metrics(t, guard.Breakers(), checkMethod)
	assert.Equal(t, uint64(3), m.TotalFailures)
	assert.Equal(t, uint64(5), m.TotalRejected)
}

func TestClientProbesCloseAndAFailedProbeReopens(t *testing.T) {
	clk := cbtest.NewClock()
	be := newBackend(t, nil)
	be.failWith(checkMethod, codes.Internal)
	guard := &cbgrpc.Client{Config: tripConfig(clk)}
	conn := dial(t, be.addr, guard)
	for range 3 {
		require.Equal(t, codes.Internal, status.Code(check(conn)))
	}
	requireRejected(t, check(conn), checkMethod, cb.Open)

	// A failed probe reopens it.
	clk.Advance(30 * time.Second)
	require.Equal(t, codes.Internal, status.Code(check(conn)))
	require.Equal(t, cb.Open, metrics(t, guard.Breakers(), checkMethod).State)
	requireRejected(t, check(conn), checkMethod, cb.Open)

	// Two successful probes close it.
	be.heal(checkMethod)
	clk.Advance(30 * time.Second)
	require.NoError(t, check(conn))
	assert.Equal(t, cb.HalfOpen, metrics(t, guard.Breakers(), checkMethod).State)
	require.NoError(t, check(conn))
	assert.Equal(t, cb.Closed, metrics(t, guard.Breakers(), checkMethod).State)
	assert.Equal(t, 6, be.reached(checkMethod), "3 failures and 3 probes")
}

func TestClientHalfOpenRejectsWhenProbesAreOut(t *testing.T) {
	clk := cbtest.NewClock()
	cfg := tripConfig(clk)
	cfg.SuccessThreshold, cfg.HalfOpenMaxCalls = 1, 1
	be := newBackend(t, nil)
	be.failWith(checkMethod, codes.Unavailable)
	guard := &cbgrpc.Client{Config: cfg}
	conn := dial(t, be.addr, guard)
	for range 3 {
		require.Equal(t, codes.Unavailable, status.Code(check(conn)))
	}
	clk.Advance(30 * time.Second)

	// The probe blocks on the server while another call arrives.
	be.fail(checkMethod, fault{block: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		done <- err
	}()
	select {
	case m := <-be.entered:
		require.Equal(t, checkMethod, m)
	case err := <-done:
		t.Fatalf("probe ended: %v", err)
	}

	err := check(conn)
	requireRejected(t, err, checkMethod, cb.HalfOpen)
	d, _ := cbgrpc.RetryAfter(err)
	assert.Equal(t, cbgrpc.MinRetryDelay, d, "no time to give: the floor")

	cancel()
	require.Equal(t, codes.Canceled, status.Code(<-done))
	assert.Zero(t, metrics(t, guard.Breakers(), checkMethod).HalfOpenInFlight, "a cancelled probe gives its permit back")
}

func TestClientPerMethodBreakersAreIndependent(t *testing.T) {
	be := newBackend(t, nil)
	be.failWith(checkMethod, codes.Unavailable)
	guard := &cbgrpc.Client{Config: tripConfig(cbtest.NewClock())}
	conn := dial(t, be.addr, guard)
	for range 3 {
		require.Equal(t, codes.Unavailable, status.Code(check(conn)))
	}
	requireRejected(t, check(conn), checkMethod, cb.Open)

	// List and Watch have breakers of their own, closed.
	for range 5 {
		require.NoError(t, list(conn))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := watch(ctx, conn)
	require.NoError(t, err)
	resp, err := w.Recv()
	require.NoError(t, err)
	assert.Equal(t, healthpb.HealthCheckResponse_SERVING, resp.GetStatus())

	assert.Equal(t, 5, be.reached(listMethod))
	assert.Equal(t, cb.Closed, metrics(t, guard.Breakers(), listMethod).State)
	assert.Equal(t, cb.Closed, metrics(t, guard.Breakers(), watchMethod).State)
	assert.ElementsMatch(t, []string{checkMethod, listMethod, watchMethod}, guard.Breakers().Names())
}

func TestClientServiceKeySharesABreakerAmongMethods(t *testing.T) {
	be := newBackend(t, nil)
	be.failWith(checkMethod, codes.Unavailable)
	guard := &cbgrpc.Client{Config: tripConfig(cbtest.NewClock()), Key: cbgrpc.ServiceKey}
	conn := dial(t, be.addr, guard)
	for range 3 {
		require.Equal(t, codes.Unavailable, status.Code(check(conn)))
	}
	requireRejected(t, list(conn), "grpc.health.v1.Health", cb.Open)
	_, err := watch(context.Background(), conn)
	requireRejected(t, err, "grpc.health.v1.Health", cb.Open)
	assert.Zero(t, be.reached(listMethod))
	assert.Zero(t, be.reached(watchMethod))
	assert.Equal(t, []string{"grpc.health.v1.Health"}, guard.Breakers().Names())
}

func TestClientTargetKeySeparatesBackends(t *testing.T) {
	down, up := newBackend(t, nil), newBackend(t, nil)
	down.failWith(checkMethod, codes.Unavailable)
	guard := &cbgrpc.Client{Config: tripConfig(cbtest.NewClock()), Key: cbgrpc.TargetKey}
	toDown, toUp := dial(t, down.addr, guard), dial(t, up.addr, guard)
	for range 3 {
		require.Equal(t, codes.Unavailable, status.Code(check(toDown)))
	}
	requireRejected(t, list(toDown), down.addr, cb.Open)
	require.NoError(t, check(toUp))
	require.NoError(t, list(toUp))
	assert.Equal(t, cb.Closed, metrics(t, guard.Breakers(), up.addr).State)
}

func TestKeys(t *testing.T) {
	assert.Equal(t, checkMethod, cbgrpc.MethodKey(checkMethod, nil))
	assert.Equal(t, "grpc.health.v1.Health", cbgrpc.ServiceKey(checkMethod, nil))
	assert.Equal(t, "pkg.Svc", cbgrpc.ServiceKey("pkg.Svc/M", nil))
	assert.Equal(t, "nomethod", cbgrpc.ServiceKey("nomethod", nil), "a name that cannot be split is its own key")
	assert.Equal(t, "/", cbgrpc.ServiceKey("/", nil))
	assert.Empty(t, cbgrpc.ServiceKey("", nil))
	assert.Empty(t, cbgrpc.TargetKey(checkMethod, nil))
}

func TestClientEmptyKeyExempts(t *testing.T) {
	be := newBackend(t, nil)
	be.failWith(checkMethod, codes.Unavailable)
	guard := &cbgrpc.Client{
		Config: tripConfig(cbtest.NewClock()),
		Key: func(method string, _ *grpc.ClientConn) string {
			if method == checkMethod {
				return ""
			}
			return method
		},
	}
	conn := dial(t, be.addr, guard)
	for range 5 {
		require.Equal(t, codes.Unavailable, status.Code(check(conn)))
	}
	assert.Equal(t, 5, be.reached(checkMethod))
	assert.Empty(t, guard.Breakers().Names())
}

func TestClientCancellationDoesNotCount(t *testing.T) {
	be := newBackend(t, nil)
	guard := &cbgrpc.Client{Config: tripConfig(cbtest.NewClock())}
	conn := dial(t, be.addr, guard)
	hc := healthpb.NewHealthClient(conn)

	// A context already done: refused before the network, ignored.
	done, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := hc.Check(done, &healthpb.HealthCheckRequest{})
	require.Equal(t, codes.Canceled, status.Code(err))
	_, err = hc.Watch(done, &healthpb.HealthCheckRequest{})
	require.Equal(t, codes.Canceled, status.Code(err))
	assert.Zero(t, be.reached(checkMethod)+be.reached(watchMethod))

	// Cancelled while the server works on it, over and over: more than
	// enough to trip on failures, and none counts.
	be.fail(checkMethod, fault{block: true})
	for range 5 {
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
			errc <- err
		}()
		<-be.entered
		cancel()
		require.Equal(t, codes.Canceled, status.Code(<-errc))
	}
	m := metrics(t, guard.Breakers(), checkMethod)
	assert.Equal(t, cb.Closed, m.State)
	assert.Equal(t, uint64(6), m.TotalIgnored, "one refused, five cancelled")
	assert.Zero(t, m.TotalFailures)
	assert.Equal(t, uint64(1), metrics(t, guard.Breakers(), watchMethod).TotalIgnored)
}

func TestClientDeadlineDuringTheCallIsAFailure(t *testing.T) {
	be := newBackend(t, nil)
	be.fail(checkMethod, fault{block: true})
	guard := &cbgrpc.Client{Config: tripConfig(cbtest.NewClock())}
	conn := dial(t, be.addr, guard)

	// The deadline passes while the server holds the call.
	ctx := newExpiring()
	errc := make(chan error, 1)
	go func() {
		_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		errc <- err
	}()
	<-be.entered
	ctx.expire()
	require.Equal(t, codes.DeadlineExceeded, status.Code(<-errc))
	assert.Equal(t, uint64(1), metrics(t, guard.Breakers(), checkMethod).TotalFailures)
}

// TestClientClassifiesByCode sends a call ending with every code through a
// real server, each through a breaker of its own, and reads the outcome
// from the breaker.
func TestClientClassifiesByCode(t *testing.T) {
	want := map[codes.Code]cb.Outcome{
		codes.OK:                 cb.Success,
		codes.Canceled:           cb.Ignored,
		codes.Unknown:            cb.Failure,
		codes.InvalidArgument:    cb.Success,
		codes.DeadlineExceeded:   cb.Failure,
		codes.NotFound:           cb.Success,
		codes.AlreadyExists:      cb.Success,
		codes.PermissionDenied:   cb.Ignored,
		codes.ResourceExhausted:  cb.Failure,
		codes.FailedPrecondition: cb.Success,
		codes.Aborted:            cb.Ignored,
		codes.OutOfRange:         cb.Success,
		codes.Unimplemented:      cb.Ignored,
		codes.Internal:           cb.Failure,
		codes.Unavailable:        cb.Failure,
		codes.DataLoss:           cb.Failure,
		codes.Unauthenticated:    cb.Ignored,
	}
	be := newBackend(t, nil)
	for code, outcome := range want {
		t.Run(code.String(), func(t *testing.T) {
			be.failWith(checkMethod, code)
			guard := &cbgrpc.Client{Config: tripConfig(cbtest.NewClock())}
			conn := dial(t, be.addr, guard)
			require.Equal(t, code, status.Code(check(conn)))
			requireOutcome(t, metrics(t, guard.Breakers(), checkMethod), outcome)
			assert.Equal(t, outcome, cbgrpc.DefaultClassify(statusErr(code)))
		})
	}
	assert.Equal(t, cb.Failure, cbgrpc.DefaultClassify(assert.AnError), "not a status: Unknown")
	assert.Equal(t, cb.Ignored, cbgrpc.DefaultClassify(context.Canceled), "a context error as gRPC reports it")
	assert.Equal(t, cb.Failure, cbgrpc.DefaultClassify(context.DeadlineExceeded))
	assert.Equal(t, cb.Failure, cbgrpc.DefaultClassify(status.Error(codes.Code(99), "from the future")))
}

// statusErr is a status error with code, nil for OK.
func statusErr(code codes.Code) error { return status.Error(code, "test") }

// requireOutcome requires the breaker of m to have counted exactly one
// call, with outcome o.
func requireOutcome(t testing.TB, m cb.Metrics, o cb.Outcome) {
	t.Helper()
	switch o {
	case cb.Success:
		assert.Equal(t, uint64(1), m.TotalCalls, "counted")
		assert.Zero(t, m.TotalFailures)
		assert.Zero(t, m.TotalIgnored)
	case cb.Failure:
		assert.Equal(t, uint64(1), m.TotalCalls, "counted")
		assert.Equal(t, uint64(1), m.TotalFailures)
		assert.Zero(t, m.TotalIgnored)
	case cb.Ignored:
		assert.Zero(t, m.TotalCalls, "not counted")
		assert.Equal(t, uint64(1), m.TotalIgnored)
	default:
		t.Fatalf("outcome %v", o)
	}
}

func TestClientClassifyOverrides(t *testing.T) {
	be := newBackend(t, nil)
	be.failWith(checkMethod, codes.NotFound)
	be.failWith(listMethod, codes.Unavailable)
	var seen []string
	guard := &cbgrpc.Client{
		Config: tripConfig(cbtest.NewClock()),
		// NotFound fails on Check, whose service always exists; List's
		// Unavailable is announced maintenance.
		Classify: func(method string, err error) cb.Outcome {
			seen = append(seen, method)
			switch {
			case method == checkMethod && status.Code(err) == codes.NotFound:
				return cb.Failure
			case method == listMethod:
				return cb.Ignored
			}
			return cbgrpc.DefaultClassify(err)
		},
	}
	conn := dial(t, be.addr, guard)
	require.Equal(t, codes.NotFound, status.Code(check(conn)))
	require.Equal(t, codes.Unavailable, status.Code(list(conn)))
	requireOutcome(t, metrics(t, guard.Breakers(), checkMethod), cb.Failure)
	requireOutcome(t, metrics(t, guard.Breakers(), listMethod), cb.Ignored)
	assert.Equal(t, []string{checkMethod, listMethod}, seen)
}

func TestClientConfigIsFailureDecidesWithoutClassify(t *testing.T) {
	be := newBackend(t, nil)
	be.failWith(checkMethod, codes.NotFound)
	be.failWith(listMethod, codes.Unavailable)
	cfg := tripConfig(cbtest.NewClock())
	cfg.IsFailure = func(err error) bool { return status.Code(err) == codes.NotFound }
	guard := &cbgrpc.Client{Config: cfg}
	conn := dial(t, be.addr, guard)
	require.Equal(t, codes.NotFound, status.Code(check(conn)))
	require.Equal(t, codes.Unavailable, status.Code(list(conn)))
	requireOutcome(t, metrics(t, guard.Breakers(), checkMethod), cb.Failure)
	requireOutcome(t, metrics(t, guard.Breakers(), listMethod), cb.Success)

	// IsIgnored unset: a cancelled call is still ignored.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	be.heal(checkMethod)
	_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	require.Equal(t, codes.Canceled, status.Code(err))
	assert.Equal(t, uint64(1), metrics(t, guard.Breakers(), checkMethod).TotalIgnored)
}

func TestClientClassifyPanicCountsAFailureAndGoesOn(t *testing.T) {
	be := newBackend(t, nil)
	guard := &cbgrpc.Client{
		Config:   tripConfig(cbtest.NewClock()),
		Classify: func(string, error) cb.Outcome { panic("classifier bug") },
	}
	conn := dial(t, be.addr, guard)
	require.PanicsWithValue(t, "classifier bug", func() { _ = check(conn) })
	assert.Equal(t, uint64(1), metrics(t, guard.Breakers(), checkMethod).TotalFailures)

	be.fail(watchMethod, fault{endOK: true})
	w, err := watch(context.Background(), conn)
	require.NoError(t, err)
	_, err = w.Recv()
	require.NoError(t, err)
	require.PanicsWithValue(t, "classifier bug", func() { _, _ = w.Recv() }, "the end of the stream is classified")
	m := metrics(t, guard.Breakers(), watchMethod)
	assert.Equal(t, uint64(1), m.TotalFailures)
	assert.Zero(t, m.HalfOpenInFlight)
}

func TestClientFullRegistrySendsUnguarded(t *testing.T) {
	be := newBackend(t, nil)
	be.failWith(listMethod, codes.Unavailable)
	reg := registry.New(registry.WithMaxBreakers(1))
	guard := &cbgrpc.Client{Registry: reg, Config: tripConfig(cbtest.NewClock())}
	conn := dial(t, be.addr, guard)
	require.NoError(t, check(conn))
	for range 5 {
		require.Equal(t, codes.Unavailable, status.Code(list(conn)), "sent, not rejected")
	}
	assert.Equal(t, 5, be.reached(listMethod))
	assert.Equal(t, []string{checkMethod}, reg.Names())
	assert.Equal(t, uint64(5), reg.Health().Refused)
}

func TestClientRegistryErrorFailsTheCall(t *testing.T) {
	be := newBackend(t, nil)
	reg := registry.New()
	_, err := registry.Get[codes.Code](reg, checkMethod, cb.Config{ConsecutiveFailures: 7})
	require.NoError(t, err)
	_, err = registry.Get[string](reg, watchMethod, cb.Config{})
	require.NoError(t, err)
	guard := &cbgrpc.Client{Registry: reg, Config: tripConfig(cbtest.NewClock())}
	conn := dial(t, be.addr, guard)

	require.ErrorIs(t, check(conn), registry.ErrConfigConflict)
	_, err = watch(context.Background(), conn)
	require.ErrorIs(t, err, registry.ErrTypeMismatch)
	assert.Zero(t, be.reached(checkMethod)+be.reached(watchMethod))
}

func TestClientBreakersReportThroughTheRegistry(t *testing.T) {
	be := newBackend(t, nil)
	be.failWith(checkMethod, codes.Unavailable)
	reg := registry.New()
	guard := &cbgrpc.Client{Registry: reg, Config: tripConfig(cbtest.NewClock())}
	conn := dial(t, be.addr, guard)
	for range 3 {
		require.Equal(t, codes.Unavailable, status.Code(check(conn)))
	}
	require.NoError(t, list(conn))
	require.Same(t, reg, guard.Breakers())

	h := reg.Health()
	assert.Equal(t, 2, h.Total)
	assert.Equal(t, 1, h.Open)
	assert.Equal(t, []string{checkMethod}, reg.OpenCircuits())

	rec := httptest.NewRecorder()
	reg.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/breakers", http.NoBody))
	require.Equal(t, http.StatusOK, rec.Code)
	var report struct {
		Health   registry.Health       `json:"health"`
		Circuits map[string]cb.Metrics `json:"circuits"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &report))
	assert.Equal(t, cb.Open, report.Circuits[checkMethod].State)
	assert.Equal(t, uint64(3), report.Circuits[checkMethod].TotalFailures)
	assert.Equal(t, cb.Closed, report.Circuits[listMethod].State)
	assert.Equal(t, 1, report.Health.Open)
	assert.Len(t, reg.AllMetrics(), 2)
}

func TestClientPrivateRegistryIsBounded(t *testing.T) {
	clk := cbtest.NewClock()
	be := newBackend(t, nil)
	n := 0
	guard := &cbgrpc.Client{
		Config: tripConfig(clk),
		// A key per call: what a caller minting keys would do.
		Key: func(string, *grpc.ClientConn) string { n++; return "key-" + strconv.Itoa(n) },
	}
	conn := dial(t, be.addr, guard)
	for range cbgrpc.DefaultMaxBreakers + 1 {
		require.NoError(t, check(conn))
	}
	h := guard.Breakers().Health()
	assert.Equal(t, cbgrpc.DefaultMaxBreakers, h.Total)
	assert.Equal(t, uint64(1), h.Refused, "the last call went unguarded")
	assert.Equal(t, cbgrpc.DefaultMaxBreakers+1, be.reached(checkMethod))

	// Idleness is timed by Config.Clock: past DefaultIdleTimeout, healthy
	// idle breakers make room.
	clk.Advance(cbgrpc.DefaultIdleTimeout)
	require.NoError(t, check(conn))
	h = guard.Breakers().Health()
	assert.Equal(t, uint64(cbgrpc.DefaultMaxBreakers), h.Evicted)
	assert.Equal(t, 1, h.Total)
	reg := guard.Breakers()
	assert.Same(t, reg, guard.Breakers(), "made once")
}
