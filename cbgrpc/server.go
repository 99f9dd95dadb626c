package cbgrpc

import (
	"context"
	"errors"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/registry"
)

// Server guards the handlers of a gRPC server with one circuit breaker
// per key, by default the full method name: while a method's handler
// keeps failing, its callers get Unavailable with a retry hint at once,
// and the handler gets a rest. Install both of its interceptors on the
// server:
//
//	guard := &cbgrpc.Server{Config: presets.API()}
//	srv := grpc.NewServer(
//		grpc.ChainUnaryInterceptor(guard.UnaryInterceptor),
//		grpc.ChainStreamInterceptor(guard.StreamInterceptor))
//
// Every field may be left zero. The fields must not change once the
// Server has guarded a call, and a Server must not be copied after first
// use.
//
// Beware: a breaker counts every call it guards, so anyone who can make a
// handler fail can open it for everyone. With cb's defaults, five crafted
// calls in a row that make the handler panic or answer Internal (a
// request a decoder chokes on, a query that asks for too much) trip the
// breaker, and every other client gets Unavailable for the open timeout.
// Count only what says the handler's dependencies are failing: validate
// input before anything that can panic on it and answer InvalidArgument
// (a success), pass a Classify that leaves out failures the client
// caused, and guard the calls to a dependency (with a Client) rather than
// the whole handler where you can.
type Server struct {
	// Registry keeps the breakers, named by their keys; nil means a
	// registry private to this Server, bounded as a Client's (see
	// Client.Registry and Breakers).
	Registry *registry.Registry

	// Config is the policy of every breaker the Server makes. The zero
	// Config means cb's defaults. IsIgnored and IsFailure, if set, decide
	// about every handler error when Classify is nil (see
	// DefaultClassifyServed).
	Config cb.Config

	// Key names the breaker a call goes through, from its full method
	// name. nil means a breaker per method; return a constant for one
	// breaker for the whole server, or "" to exempt a method (a health
	// check, say, which must answer while the rest sheds).
	Key func(fullMethod string) string

	// Classify decides the outcome of a call the handler served, from the
	// call's context (whose Err tells whether the client went away), its
	// full method name and the handler's error (nil for OK; for a stream,
	// the error the handler returned): cb.Success, cb.Failure or
	// cb.Ignored (cb.Rejected counts as cb.Failure). nil means
	// DefaultClassifyServed. It runs on the handler's goroutine after the
	// handler returns, and must be safe for concurrent use; a Classify
	// that panics counts the call as a failure, and the panic goes on. A
	// handler's panic is not put to it: a panic is always a failure.
	Classify func(ctx context.Context, fullMethod string, err error) cb.Outcome

	ownOnce sync.Once
	own     *registry.Registry
}

// The interceptors have the signatures grpc-go takes.
var (
	_ grpc.UnaryServerInterceptor  = (*Server)(nil).UnaryInterceptor
	_ grpc.StreamServerInterceptor = (*Server)(nil).StreamInterceptor
)

// Breakers returns the registry that keeps the Server's breakers: its
// Registry, or the private one it makes on first use when Registry is
// nil.
func (s *Server) Breakers() *registry.Registry {
	if s.Registry != nil {
		return s.Registry
	}
	s.ownOnce.Do(func() { s.own = privateRegistry(s.Config.Clock) })
	return s.own
}

// DefaultClassifyServed is the classification a Server uses when its
// Classify is nil. It reads the handler's status code as DefaultClassify
// does, with two differences:
//
//   - ResourceExhausted is a success: a handler that sheds load or
//     enforces a quota is working as meant, and a breaker that counted it
//     would shed on top of the handler's own limits (cbhttp's Middleware
//     counts 429 alike).
//   - A failure is ignored when the client went away (ctx is cancelled):
//     a handler that gives up, or whose own calls fail, because its
//     client left says nothing about its health. A context whose deadline
//     passed is not the client leaving: a handler too slow for the time it
//     was given is failing.
//
// A Server whose Config sets IsIgnored or IsFailure asks them about every
// non-nil error instead, in cb's order (IsIgnored unset: ignores code
// Canceled; IsFailure unset: every error is a failure).
func DefaultClassifyServed(ctx context.Context, err error) cb.Outcome {
	o := outcomeOf(codeOf(err), true)
	if o == cb.Failure && ctx != nil && errors.Is(ctx.Err(), context.Canceled) {
		return cb.Ignored
	}
	return o
}

// UnaryInterceptor is a grpc.UnaryServerInterceptor that runs each call's
// handler through the breaker of its key.
//
// While the breaker is open (or half-open with every probe out) the
// handler is not called, and the client gets an OpenError: status
// Unavailable with a google.rpc.RetryInfo detail, the breaker's time left
// or MinRetryDelay (RetryAfter reads it on the client's side). Otherwise
// the handler runs, even if the client has already gone, as grpc-go would
// run it, and the breaker counts the outcome Classify gives its error.
// The handler's answer is returned as it is.
//
// A handler that panics counts as a failure, and the panic goes on,
// unrecovered, with its stack: grpc-go recovers nothing, so a panic ends
// the process unless a recovery interceptor (such as go-grpc-middleware's
// recovery) turns it into an error, and that choice is the program's. The
// breaker counts the panic once whatever the order: chained outside this
// interceptor, the recovery interceptor sees the panic after the breaker
// counted it; chained inside, it answers Internal, which is a failure.
//
// When the breaker cannot be had from the registry (an invalid Config, or
// a conflict in a shared registry), the call fails with code Internal: a
// programming error, which the first call shows. A registry too full to
// make the key's breaker lets the call through unguarded, counted in its
// Health's Refused, as Client does.
func (s *Server) UnaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	b, err := s.breaker(info.FullMethod)
	if b == nil {
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
	var (
		resp       any
		handlerErr error
	)
	_, res := b.Execute(func() (codes.Code, error) {
		resp, handlerErr = handler(ctx, req)
		return s.verdict(ctx, info.FullMethod, handlerErr)
	})
	if res.Outcome == cb.Rejected {
		return nil, openError(res.Err)
	}
	return resp, handlerErr
}

// StreamInterceptor is a grpc.StreamServerInterceptor that runs each
// stream's handler through the breaker of its key, as UnaryInterceptor
// does for unary calls: the stream's outcome is the error its handler
// returns (its final status), read with the stream's context.
func (s *Server) StreamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	b, err := s.breaker(info.FullMethod)
	if b == nil {
		if err != nil {
			return err
		}
		return handler(srv, ss)
	}
	var handlerErr error
	_, res := b.Execute(func() (codes.Code, error) {
		handlerErr = handler(srv, ss)
		return s.verdict(ss.Context(), info.FullMethod, handlerErr)
	})
	if res.Outcome == cb.Rejected {
		return openError(res.Err)
	}
	return handlerErr
}

// breaker returns the breaker of a call's key; nil and no error when the
// call goes unguarded, nil and a status error with code Internal when the
// registry cannot give one.
func (s *Server) breaker(fullMethod string) (*cb.Breaker[codes.Code], error) {
	key := fullMethod
	if s.Key != nil {
		key = s.Key(fullMethod)
	}
	b, err := getBreaker(s.Breakers(), key, &s.Config)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "cbgrpc: no breaker for %s: %v", fullMethod, err)
	}
	return b, nil
}

// verdict classifies a handler's error for the breaker (see verdictOpts).
func (s *Server) verdict(ctx context.Context, fullMethod string, err error) (codes.Code, error) {
	return codeOf(err), encode(s.classify(ctx, fullMethod, err))
}

func (s *Server) classify(ctx context.Context, fullMethod string, err error) cb.Outcome {
	if s.Classify != nil {
		return s.Classify(ctx, fullMethod, err)
	}
	if err != nil {
		if o, ok := classifyByConfig(&s.Config, err); ok {
			return o
		}
	}
	return DefaultClassifyServed(ctx, err)
}
