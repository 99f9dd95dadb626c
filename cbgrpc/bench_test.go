package cbgrpc_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cbgrpc"
)

// BenchmarkUnary is the cost of the interceptors on a unary call: a Check
// of grpc-go's health service over loopback TCP, one call at a time, all
// in one run so that the differences are the interceptors':
//
//   - none: no interceptor at all;
//   - noop: a client and a server interceptor that only pass the call on,
//     which is what grpc-go charges for having interceptors (the server's
//     generated code allocates a UnaryServerInfo and a handler closure
//     for any interceptor);
//   - client: a Client's interceptor;
//   - client+server: a Client's and a Server's.
//
// Breakers have the zero Config (cb's defaults, real clock) and stay
// closed.
//
//	cd cbgrpc && go test -run '^$' -bench . -benchmem -count 6 . | tee bench.txt
//	benchstat -col /guard -filter .name:Unary bench.txt
func BenchmarkUnary(b *testing.B) {
	noopClient := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	noopServer := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		return handler(ctx, req)
	}
	for _, bc := range []struct {
		name   string
		client grpc.UnaryClientInterceptor
		server grpc.UnaryServerInterceptor
	}{
		{"guard=none", nil, nil},
		{"guard=noop", noopClient, noopServer},
		{"guard=client", (&cbgrpc.Client{}).UnaryInterceptor, nil},
		{"guard=client+server", (&cbgrpc.Client{}).UnaryInterceptor, (&cbgrpc.Server{}).UnaryInterceptor},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var sopts []grpc.ServerOption
			if bc.server != nil {
				sopts = append(sopts, grpc.ChainUnaryInterceptor(bc.server))
			}
			addr, stop := serveHealth(sopts...)
			defer stop()
			copts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
			if bc.client != nil {
				copts = append(copts, grpc.WithChainUnaryInterceptor(bc.client))
			}
			conn, err := grpc.NewClient(addr, copts...)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			client := healthpb.NewHealthClient(conn)
			ctx := context.Background()
			req := &healthpb.HealthCheckRequest{}
			if _, err := client.Check(ctx, req); err != nil { // connect outside the timing
				b.Fatal(err)
			}

			b.ReportAllocs()
			for b.Loop() {
				if _, err := client.Check(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkInterceptor is the interceptors' own cost, without gRPC: a
// unary call through a closed breaker to an invoker (a handler) that
// answers at once, against calling it directly. The difference is what
// each call pays for its breaker, which BenchmarkUnary cannot resolve in
// the noise of a call over loopback.
func BenchmarkInterceptor(b *testing.B) {
	ctx := context.Background()
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	handler := func(context.Context, any) (any, error) { return nil, nil }
	info := &grpc.UnaryServerInfo{FullMethod: "/grpc.health.v1.Health/Check"}
	for _, bc := range []struct {
		name string
		cfg  cb.Config
	}{
		{"config=zero", cb.Config{}},
		{"config=hot", hotConfig(b)},
	} {
		b.Run("side=none/"+bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = invoker(ctx, info.FullMethod, nil, nil, nil)
			}
		})
		b.Run("side=client/"+bc.name, func(b *testing.B) {
			guard := &cbgrpc.Client{Config: bc.cfg}
			b.ReportAllocs()
			for b.Loop() {
				if err := guard.UnaryInterceptor(ctx, info.FullMethod, nil, nil, nil, invoker); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("side=server/"+bc.name, func(b *testing.B) {
			guard := &cbgrpc.Server{Config: bc.cfg}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := guard.UnaryInterceptor(ctx, nil, info, handler); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// hotConfig is the configuration the root module's benchmarks call hot: a
// CoarseClock and no slow-call tracking.
func hotConfig(b *testing.B) cb.Config {
	clock, err := cb.NewCoarseClock(time.Millisecond)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(clock.Stop)
	return cb.Config{Clock: clock, SlowCallDuration: cb.Off}
}
