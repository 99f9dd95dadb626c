package cbgrpc_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/cbgrpc"
)

// The examples run on a fake clock so that their output is exact; in
// production leave Config.Clock nil, and start from a preset such as
// presets.API().

// serveHealth serves grpc-go's health service on a loopback port, behind
// opts' interceptors, until stop is called.
func serveHealth(opts ...grpc.ServerOption) (addr string, stop func()) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis)
	}()
	return lis.Addr().String(), func() {
		srv.Stop()
		<-served
	}
}

// A client with a breaker per method: once Check has failed twice, Check
// calls fail at once without reaching the server, with a status that
// matches cb.ErrOpen and says when to retry. List, another method, goes on.
func ExampleClient() {
	// A server whose Check fails.
	var reached atomic.Int64
	addr, stop := serveHealth(grpc.UnaryInterceptor(
		func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			reached.Add(1)
			if info.FullMethod == "/grpc.health.v1.Health/Check" {
				return nil, status.Error(codes.Unavailable, "database down")
			}
			return handler(ctx, req)
		}))
	defer stop()

	guard := &cbgrpc.Client{Config: cb.Config{ConsecutiveFailures: 2, OpenTimeout: 30 * time.Second, Clock: cbtest.NewClock()}}
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(guard.UnaryInterceptor),
		grpc.WithChainStreamInterceptor(guard.StreamInterceptor))
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)

	ctx := context.Background()
	for range 3 {
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
		retry, _ := cbgrpc.RetryAfter(err)
		fmt.Println(status.Code(err), errors.Is(err, cb.ErrOpen), retry)
	}
	_, err = client.List(ctx, &healthpb.HealthListRequest{})
	fmt.Println("List:", status.Code(err))
	fmt.Println("calls that reached the server:", reached.Load())

	// The breakers are in guard.Breakers(), a registry: its Handler
	// serves them as JSON.
	c, _ := guard.Breakers().Lookup("/grpc.health.v1.Health/Check")
	m := c.Metrics()
	fmt.Println(m.State, m.TotalFailures, m.TotalRejected)
	// Output:
	// Unavailable false 0s
	// Unavailable false 0s
	// Unavailable true 30s
	// List: OK
	// calls that reached the server: 3
	// open 2 1
}

// Classify decides what counts against a dependency. Here NotFound is a
// failure for a service that always has the record asked for.
func ExampleClient_classify() {
	addr, stop := serveHealth() // NotFound: no such service is registered
	defer stop()

	guard := &cbgrpc.Client{
		Config: cb.Config{ConsecutiveFailures: 2, Clock: cbtest.NewClock()},
		Classify: func(method string, err error) cb.Outcome {
			if method == "/grpc.health.v1.Health/Check" && status.Code(err) == codes.NotFound {
				return cb.Failure
			}
			return cbgrpc.DefaultClassify(err) // NotFound would be a success
		},
	}
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(guard.UnaryInterceptor))
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)

	for range 3 {
		_, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{Service: "billing"})
		fmt.Println(status.Code(err), errors.Is(err, cb.ErrOpen))
	}
	// Output:
	// NotFound false
	// NotFound false
	// Unavailable true
}

// A server that sheds load: once the handler has failed twice, callers get
// Unavailable with a RetryInfo detail before the handler is called.
func ExampleServer() {
	guard := &cbgrpc.Server{Config: cb.Config{ConsecutiveFailures: 2, OpenTimeout: 30 * time.Second, Clock: cbtest.NewClock()}}
	var handled atomic.Int64
	failing := func(context.Context, any, *grpc.UnaryServerInfo, grpc.UnaryHandler) (any, error) {
		handled.Add(1)
		return nil, status.Error(codes.Internal, "disk full")
	}
	addr, stop := serveHealth(
		grpc.ChainUnaryInterceptor(guard.UnaryInterceptor, failing),
		grpc.ChainStreamInterceptor(guard.StreamInterceptor))
	defer stop()

	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)

	for range 3 {
		_, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{})
		retry, hinted := cbgrpc.RetryAfter(err)
		fmt.Println(status.Code(err), hinted, retry)
	}
	fmt.Println("calls the handler served:", handled.Load())
	fmt.Println(guard.Breakers().OpenCircuits())
	// Output:
	// Internal false 0s
	// Internal false 0s
	// Unavailable true 30s
	// calls the handler served: 2
	// [/grpc.health.v1.Health/Check]
}

// RetryAfter reads the retry hint of a rejection, a client's own or one a
// server sent.
func ExampleRetryAfter() {
	b := cb.MustNew[int]("payments", cb.Config{ConsecutiveFailures: 1, OpenTimeout: time.Minute, Clock: cbtest.NewClock()})
	_, _ = b.Call(func() (int, error) { return 0, errors.New("down") })
	_, err := b.Call(func() (int, error) { return 1, nil })

	// What a rejection looks like to a Client's caller, or on the wire.
	rejection := cbgrpc.OpenError{Err: nil}
	if errors.As(err, &rejection.Err) {
		fmt.Println(status.Convert(rejection).Message())
	}
	retry, ok := cbgrpc.RetryAfter(rejection)
	fmt.Println(retry, ok)

	_, ok = cbgrpc.RetryAfter(status.Error(codes.Unavailable, "no hint"))
	fmt.Println(ok)
	// Output:
	// tripswitch: circuit "payments" is open
	// 1m0s true
	// false
}
