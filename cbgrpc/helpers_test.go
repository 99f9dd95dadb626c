package cbgrpc_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/cbgrpc"
	"github.com/tripswitch/tripswitch/registry"
)

// The methods of the health service that ships with grpc-go: two unary,
// one server-streaming.
const (
	checkMethod = "/grpc.health.v1.Health/Check"
	listMethod  = "/grpc.health.v1.Health/List"
	watchMethod = "/grpc.health.v1.Health/Watch"
)

// fault is how the backend answers a method instead of its health
// handler.
type fault struct {
	// code, if not OK, is the status the backend answers with, after
	// sending one message on a stream when sendFirst is set.
	code      codes.Code
	sendFirst bool
	// block makes the backend signal entered and wait for the call's
	// context to end; it then answers code if set, else the context's
	// status.
	block bool
	// panics makes the handler panic with errHandlerBug.
	panics bool
	// endOK makes a stream send one message and end with OK.
	endOK bool
}

// errHandlerBug is what a panicking handler panics with.
var errHandlerBug = errors.New("handler bug")

// backend is a real gRPC server on a loopback port serving grpc-go's
// health service, whose methods fail on demand. Its interceptors, from the
// outside in: recovery (turns a panic into Internal and records it),
// counting of the calls that reach the server (hits), the Server guard
// under test if any, counting of the calls that reach the handler
// (handled), then the faults.
type backend struct {
	addr   string
	health *health.Server

	mu      sync.Mutex
	faults  map[string]fault
	hits    map[string]int
	handled map[string]int

	// entered receives the method of every call that blocks.
	entered chan string
	// recovered receives every panic the recovery interceptor stops.
	recovered chan any
}

// newBackend starts a backend on 127.0.0.1, with guard's interceptors if
// guard is not nil, and stops it when the test ends.
func newBackend(t testing.TB, guard *cbgrpc.Server) *backend {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	b := &backend{
		addr:      lis.Addr().String(),
		health:    health.NewServer(),
		faults:    map[string]fault{},
		hits:      map[string]int{},
		handled:   map[string]int{},
		entered:   make(chan string, 64),
		recovered: make(chan any, 64),
	}
	unary := []grpc.UnaryServerInterceptor{b.recoverUnary, b.countUnary(b.hits)}
	stream := []grpc.StreamServerInterceptor{b.recoverStream, b.countStream(b.hits)}
	if guard != nil {
		unary = append(unary, guard.UnaryInterceptor)
		stream = append(stream, guard.StreamInterceptor)
	}
	unary = append(unary, b.countUnary(b.handled), b.injectUnary)
	stream = append(stream, b.countStream(b.handled), b.injectStream)
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(unary...), grpc.ChainStreamInterceptor(stream...))
	healthpb.RegisterHealthServer(srv, b.health)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-served
	})
	return b
}

// fail makes method answer as f says; the zero fault restores the health
// handler.
func (b *backend) fail(method string, f fault) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.faults[method] = f
}

// failWith makes method answer code.
func (b *backend) failWith(method string, code codes.Code) { b.fail(method, fault{code: code}) }

// heal makes method answer from the health handler again.
func (b *backend) heal(method string) { b.fail(method, fault{}) }

// reached returns how many calls of method reached the server.
func (b *backend) reached(method string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.hits[method]
}

// served returns how many calls of method reached the handler, past the
// Server guard.
func (b *backend) served(method string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.handled[method]
}

func (b *backend) faultOf(method string) fault {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.faults[method]
}

func (b *backend) count(m map[string]int, method string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	m[method]++
}

func (b *backend) countUnary(m map[string]int) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		b.count(m, info.FullMethod)
		return handler(ctx, req)
	}
}

func (b *backend) countStream(m map[string]int) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		b.count(m, info.FullMethod)
		return handler(srv, ss)
	}
}

// recoverUnary turns a panic into Internal, as a recovery interceptor
// would, and records it.
func (b *backend) recoverUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			b.recovered <- p
			resp, err = nil, status.Errorf(codes.Internal, "panic: %v", p)
		}
	}()
	return handler(ctx, req)
}

func (b *backend) recoverStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			b.recovered <- p
			err = status.Errorf(codes.Internal, "panic: %v", p)
		}
	}()
	return handler(srv, ss)
}

// answer is what a fault makes of a call: done is false when the health
// handler should answer.
func (b *backend) answer(ctx context.Context, method string) (done bool, err error) {
	f := b.faultOf(method)
	switch {
	case f.panics:
		panic(errHandlerBug)
	case f.block:
		b.entered <- method
		<-ctx.Done()
		if f.code != codes.OK {
			return true, status.Error(f.code, "injected after the client left")
		}
		return true, status.FromContextError(ctx.Err()).Err()
	case f.code != codes.OK:
		return true, status.Error(f.code, "injected")
	}
	return false, nil
}

func (b *backend) injectUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if done, err := b.answer(ctx, info.FullMethod); done {
		return nil, err
	}
	return handler(ctx, req)
}

func (b *backend) injectStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	f := b.faultOf(info.FullMethod)
	if f.endOK || f.sendFirst {
		if err := ss.SendMsg(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}); err != nil {
			return err
		}
		if f.endOK {
			return nil
		}
	}
	if done, err := b.answer(ss.Context(), info.FullMethod); done {
		return err
	}
	return handler(srv, ss)
}

// dial connects to addr through guard's interceptors (none if guard is
// nil), and closes the connection when the test ends.
func dial(t testing.TB, addr string, guard *cbgrpc.Client) *grpc.ClientConn {
	t.Helper()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if guard != nil {
		opts = append(opts,
			grpc.WithChainUnaryInterceptor(guard.UnaryInterceptor),
			grpc.WithChainStreamInterceptor(guard.StreamInterceptor))
	}
	conn, err := grpc.NewClient(addr, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// check makes a Check call with a background context.
func check(conn *grpc.ClientConn) error {
	_, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	return err
}

// list makes a List call with a background context.
func list(conn *grpc.ClientConn) error {
	_, err := healthpb.NewHealthClient(conn).List(context.Background(), &healthpb.HealthListRequest{})
	return err
}

// watch opens a Watch stream with ctx.
func watch(ctx context.Context, conn *grpc.ClientConn) (healthpb.Health_WatchClient, error) {
	return healthpb.NewHealthClient(conn).Watch(ctx, &healthpb.HealthCheckRequest{})
}

// tripConfig trips after three failures in a row and probes after 30s on
// clk; two probe successes close it.
func tripConfig(clk *cbtest.Clock) cb.Config {
	return cb.Config{
		Clock:               clk,
		ConsecutiveFailures: 3,
		OpenTimeout:         30 * time.Second,
		SuccessThreshold:    2,
	}
}

// metrics returns the metrics of the breaker named key in reg.
func metrics(t testing.TB, reg *registry.Registry, key string) cb.Metrics {
	t.Helper()
	c, ok := reg.Lookup(key)
	require.True(t, ok, "no breaker %q; have %v", key, reg.Names())
	return c.Metrics()
}

// requireRejected requires err to be a rejection by the breaker named
// name in state, as a caller sees it: status Unavailable, matching
// cb.ErrOpen, with a retry hint.
func requireRejected(t testing.TB, err error, name string, state cb.State) {
	t.Helper()
	require.ErrorIs(t, err, cb.ErrOpen)
	require.Equal(t, codes.Unavailable, status.Code(err), "status of %v", err)
	var oe *cb.OpenError
	require.ErrorAs(t, err, &oe)
	require.Equal(t, name, oe.Name)
	require.Equal(t, state, oe.State)
	_, ok := cbgrpc.RetryAfter(err)
	require.True(t, ok, "a rejection carries a retry hint")
}

// eventually polls cond until it holds, for at most ten seconds: for
// what another goroutine settles (a context's watch, a server's count
// after the client has its answer), never to time anything.
func eventually(t testing.TB, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// expiring is a context whose deadline passes when the test says, not on
// a clock: Done and Err are those of a context whose deadline has passed.
// It tells no deadline (Deadline), so the server does not end the call
// on its own timer.
type expiring struct {
	context.Context
	done chan struct{}
}

func newExpiring() *expiring {
	return &expiring{Context: context.Background(), done: make(chan struct{})}
}

func (e *expiring) Done() <-chan struct{} { return e.done }

func (e *expiring) Err() error {
	select {
	case <-e.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// expire passes the deadline.
func (e *expiring) expire() { close(e.done) }
