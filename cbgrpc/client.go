package cbgrpc

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/registry"
)

// The bounds of the registry a Client or Server makes for itself when its
// Registry is nil: the same as cbhttp's for hosts. A breaker takes a few
// KiB (more on machines with many cores, as its counters are striped by
// core), so DefaultMaxBreakers keeps a private registry to about 10 MiB
// at most, far more keys than the methods a program calls or serves.
// DefaultIdleTimeout is ten times cb's default open timeout: a key still
// in use, however rarely, is seen in use long before it could be
// evicted, and one no longer used leaves within minutes.
const (
	DefaultMaxBreakers = 1024
	DefaultIdleTimeout = 10 * time.Minute
)

// Client guards the calls of a gRPC client with one circuit breaker per
// key: by default the full method name ("/pkg.Service/Method"), so a
// failing method is left alone while the others go on. Install both of
// its interceptors on the connection:
//
//	guard := &cbgrpc.Client{Config: presets.API()}
//	conn, err := grpc.NewClient(target, creds,
//		grpc.WithChainUnaryInterceptor(guard.UnaryInterceptor),
//		grpc.WithChainStreamInterceptor(guard.StreamInterceptor))
//
// Every field may be left zero. The fields must not change once the
// Client has guarded a call, and a Client must not be copied after first
// use. One Client may guard any number of connections.
type Client struct {
	// Registry keeps the breakers, named by their keys, so that its
	// reports (Health, Handler...) show them. nil means a registry
	// private to this Client (see Breakers), bounded to
	// DefaultMaxBreakers breakers, of which those idle for
	// DefaultIdleTimeout and healthy may be evicted, idleness timed by
	// Config.Clock. For other bounds pass a registry made with them:
	//
	//	Registry: registry.New(registry.WithMaxBreakers(4096), registry.WithIdleTimeout(time.Hour)),
	//
	// Do not pass an unbounded registry when keys come from outside the
	// program (targets read from requests): every new key would make a
	// breaker that stays. Clients and Servers that share a registry share
	// the breaker of a key, which they must then configure alike.
	Registry *registry.Registry

	// Config is the policy of every breaker the Client makes. The zero
	// Config means cb's defaults; a preset (presets.API()...) is a good
	// start. IsIgnored and IsFailure, if set, decide about every failed
	// call when Classify is nil (see DefaultClassify).
	Config cb.Config

	// Key names the breaker a call goes through, from its full method
	// name and its connection. nil means MethodKey, a breaker per method;
	// ServiceKey gives one per service and TargetKey one per target. A
	// key of "" sends the call with no breaker at all, which exempts it.
	Key func(method string, cc *grpc.ClientConn) string

	// Classify decides the outcome of a call that went out, from its
	// method and the error it ended with (nil for OK; for a stream, its
	// final status): cb.Success, cb.Failure or cb.Ignored (cb.Rejected
	// counts as cb.Failure). nil means DefaultClassify. It must be safe
	// for concurrent use; a Classify that panics counts the call as a
	// failure, and the panic goes on.
	Classify func(method string, err error) cb.Outcome

	ownOnce sync.Once
	own     *registry.Registry
}

// The interceptors have the signatures grpc-go takes.
var (
	_ grpc.UnaryClientInterceptor  = (*Client)(nil).UnaryInterceptor
	_ grpc.StreamClientInterceptor = (*Client)(nil).StreamInterceptor
)

// Breakers returns the registry that keeps the Client's breakers: its
// Registry, or the private one it makes on first use when Registry is
// nil. Use it to report on them (Health, Handler) or to act on one
// (Lookup, then ForceOpen...).
func (c *Client) Breakers() *registry.Registry {
	if c.Registry != nil {
		return c.Registry
	}
	c.ownOnce.Do(func() { c.own = privateRegistry(c.Config.Clock) })
	return c.own
}

// privateRegistry is the registry of a Client or Server whose Registry
// is nil.
func privateRegistry(clock cb.Clock) *registry.Registry {
	return registry.New(
		registry.WithMaxBreakers(DefaultMaxBreakers),
		registry.WithIdleTimeout(DefaultIdleTimeout),
		registry.WithClock(clock),
	)
}

// MethodKey is the key a Client gives a call when its Key is nil: the full
// method name, "/grpc.health.v1.Health/Check". It ignores cc, so a
// Server's Key can call it with nil.
func MethodKey(method string, _ *grpc.ClientConn) string { return method }

// ServiceKey keys calls by service, "grpc.health.v1.Health" for
// "/grpc.health.v1.Health/Check", so that the methods of a service share
// a breaker; a name it cannot split is its own key. It ignores cc, so a
// Server's Key can call it with nil.
func ServiceKey(method string, _ *grpc.ClientConn) string {
	s := strings.TrimPrefix(method, "/")
	if i := strings.LastIndexByte(s, '/'); i > 0 {
		return s[:i]
	}
	return method
}

// TargetKey keys calls by the target their connection was made for, as
// passed to grpc.NewClient ("dns:///api.example.com:443"), so that the
// calls to a backend share a breaker whatever their method. Two spellings
// of one target are two keys.
func TargetKey(_ string, cc *grpc.ClientConn) string {
	if cc == nil {
		return ""
	}
	return cc.Target()
}

// DefaultClassify is the classification a Client uses when its Classify
// is nil, by the call's status code (a context error that is not a status
// counts as the code gRPC gives it):
//
//   - OK is a success.
//   - Unavailable, DeadlineExceeded, ResourceExhausted, Internal, Unknown
//     and DataLoss are failures: the server is down, overloaded, too slow
//     for the caller's deadline, or broken. Any error that is not a
//     status, and any code not listed here, is Unknown.
//   - Canceled is ignored: the caller gave up, which says nothing about
//     the server.
//   - InvalidArgument, NotFound, AlreadyExists, FailedPrecondition and
//     OutOfRange are successes: the server read the request, judged it
//     against its data and answered, which is what a working dependency
//     does. The fault is the caller's.
//   - Unauthenticated, PermissionDenied, Unimplemented and Aborted are
//     ignored. The first three are usually answered before any work is
//     done (by an auth interceptor, a proxy, or grpc-go itself for a
//     method the server lacks), so they show only that the front door
//     answers; counted as successes, they would let a caller with a bad
//     token or a stale stub close a breaker by probing. Aborted is a
//     conflict with other callers, to retry at a higher level: the work
//     was not done, and the server was not at fault.
//
// A Client whose Config sets IsIgnored or IsFailure asks them about every
// non-nil error instead, in cb's order: IsIgnored first (unset: ignores
// code Canceled), then IsFailure (unset: every error is a failure).
func DefaultClassify(err error) cb.Outcome {
	return outcomeOf(codeOf(err), false)
}

// outcomeOf is the default table (see DefaultClassify and
// DefaultClassifyServed), for a client or a server.
func outcomeOf(code codes.Code, served bool) cb.Outcome {
	switch code {
	case codes.OK, codes.InvalidArgument, codes.NotFound, codes.AlreadyExists,
		codes.FailedPrecondition, codes.OutOfRange:
		return cb.Success
	case codes.Canceled, codes.Unauthenticated, codes.PermissionDenied,
		codes.Unimplemented, codes.Aborted:
		return cb.Ignored
	case codes.ResourceExhausted:
		if served {
			return cb.Success
		}
	}
	return cb.Failure
}

// UnaryInterceptor is a grpc.UnaryClientInterceptor that sends each call
// through the breaker of its key. When the breaker admits the call, the
// next invoker carries it and the breaker counts the outcome Classify
// gives; the invoker's error is returned as it is.
//
// Otherwise the call never reaches the network, and UnaryInterceptor
// returns:
//   - when the breaker rejects the call, an OpenError: a status with code
//     Unavailable and a RetryInfo detail, matching cb.ErrOpen;
//   - when ctx is already done, its status (Canceled or DeadlineExceeded),
//     counted as ignored;
//   - when the breaker cannot be had from the registry, registry.Get's
//     error (matching cb.ErrInvalidConfig, registry.ErrConfigConflict,
//     registry.ErrTypeMismatch, or registry.ErrInvalidName for a Key that
//     is not valid UTF-8): a programming error, which the first call
//     shows. status.Code reports it as Unknown.
//
// The exception is a registry too full to make the key's breaker
// (registry.ErrFull): the call then goes out with no breaker, and the
// registry's Health counts it in Refused. A full registry holds breakers
// that are failing or in use; refusing new keys until one recovers would
// turn trouble with some backends (or a flood of made-up keys) into an
// outage for every other, while sending unguarded costs only the
// protection of those calls.
//
// A panic in the invoker or in Classify counts as a failure and goes on.
func (c *Client) UnaryInterceptor(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	b, err := c.breaker(method, cc)
	if b == nil {
		if err != nil {
			return err
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	// The breaker sees the verdict (see verdictOpts); the caller gets the
	// invoker's own error.
	var (
		ran     bool
		callErr error
	)
	_, res := b.ExecuteContext(ctx, func(ctx context.Context) (codes.Code, error) {
		ran = true
		callErr = invoker(ctx, method, req, reply, cc, opts...)
		return c.verdict(method, callErr)
	})
	switch {
	case ran:
		return callErr
	case res.Outcome == cb.Rejected:
		return openError(res.Err)
	}
	return status.FromContextError(res.Err).Err()
}

// StreamInterceptor is a grpc.StreamClientInterceptor that sends each
// stream through the breaker of its key. Admission and refusal are as for
// UnaryInterceptor; an admitted stream holds its admission (in half-open,
// a probe permit) until its outcome is known:
//
//   - when RecvMsg returns io.EOF (or, on a stream whose server sends one
//     message, returns it), the stream ended with OK: a success;
//   - when RecvMsg or SendMsg returns another error, the stream ended with
//     that status, and Classify decides (io.EOF from SendMsg only says the
//     stream has ended: its status comes from RecvMsg);
//   - when opening the stream fails, its error is classified at once;
//   - when ctx ends before any of these, the stream's status is ctx's:
//     Canceled, ignored by default (the caller abandoned the stream or
//     cancelled it), or DeadlineExceeded, a failure by default (the
//     server did not finish in the time it was given).
//
// So a stream the caller forgets holds its permit no longer than its
// context lives. The context is watched with context.AfterFunc, which
// starts no goroutine for the contexts of package context (only when ctx
// ends first does the release run, on a goroutine of its own); the watch
// is removed when the stream's status is seen. A stream whose context
// never ends and that is never read to its end is not counted; in
// half-open its probe is failed by the breaker after HalfOpenTimeout (see
// package cb), so a forgotten stream cannot hold a breaker half-open.
func (c *Client) StreamInterceptor(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	b, err := c.breaker(method, cc)
	if b == nil {
		if err != nil {
			return nil, err
		}
		return streamer(ctx, desc, cc, method, opts...)
	}
	if ctx.Err() != nil {
		// Refused before admission and counted as ignored, as a unary
		// call is.
		_, res := b.ExecuteContext(ctx, notCalled)
		return nil, status.FromContextError(res.Err).Err()
	}
	p, err := b.Allow()
	if err != nil {
		return nil, openError(err)
	}
	settled := false
	defer func() {
		if !settled {
			// streamer or Classify panicked: a failure, as a panic in
			// Execute is, and the panic goes on.
			p.Done(codes.Unknown, errFailed)
		}
	}()
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		code, verdict := c.verdict(method, err)
		settled = true
		p.Done(code, verdict)
		return nil, err
	}
	s := &clientStream{ClientStream: cs, c: c, ctx: ctx, method: method, serverStreams: desc.ServerStreams, permit: p}
	settled = true
	s.stop = context.AfterFunc(ctx, s.contextDone)
	return s, nil
}

// notCalled is the function of a call refused because its context is
// done.
func notCalled(context.Context) (codes.Code, error) { return codes.OK, nil }

// breaker returns the breaker of a call's key; nil and no error when the
// call goes unguarded.
func (c *Client) breaker(method string, cc *grpc.ClientConn) (*cb.Breaker[codes.Code], error) {
	key := method
	if c.Key != nil {
		key = c.Key(method, cc)
	}
	return getBreaker(c.Breakers(), key, &c.Config)
}

// getBreaker gets the breaker of key from reg; nil and no error for the
// key "" and for a registry too full to make it.
func getBreaker(reg *registry.Registry, key string, cfg *cb.Config) (*cb.Breaker[codes.Code], error) {
	if key == "" {
		return nil, nil
	}
	b, err := registry.Get(reg, key, *cfg, verdictOpts...)
	if errors.Is(err, registry.ErrFull) {
		return nil, nil
	}
	return b, err
}

// verdict classifies a call's error for the breaker (see verdictOpts).
func (c *Client) verdict(method string, err error) (codes.Code, error) {
	return codeOf(err), encode(c.classify(method, err))
}

func (c *Client) classify(method string, err error) cb.Outcome {
	if c.Classify != nil {
		return c.Classify(method, err)
	}
	if err != nil {
		if o, ok := classifyByConfig(&c.Config, err); ok {
			return o
		}
	}
	return DefaultClassify(err)
}

// clientStream is an admitted stream, which settles its permit once, when
// its status is seen or its context ends.
type clientStream struct {
	grpc.ClientStream
	c             *Client
	ctx           context.Context
	method        string
	serverStreams bool
	permit        cb.Permit[codes.Code]
	settled       atomic.Bool
	// stop removes the watch on ctx. Set before the stream is returned,
	// and read only by the caller's calls, never by contextDone, which
	// may run before it is set.
	stop func() bool
}

// SendMsg sends m; an error other than io.EOF ends the stream (grpc-go
// finishes it) with that status.
func (s *clientStream) SendMsg(m any) error {
	err := s.ClientStream.SendMsg(m)
	if err != nil && !errors.Is(err, io.EOF) {
		s.end(err)
	}
	return err
}

// RecvMsg receives into m, and settles the stream when it ends.
func (s *clientStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	switch {
	case errors.Is(err, io.EOF):
		s.end(nil)
	case err != nil:
		s.end(err)
	case !s.serverStreams:
		s.end(nil) // the one message of the response: grpc-go has seen OK
	}
	return err
}

// end settles the stream with its final status, seen by the caller.
func (s *clientStream) end(err error) {
	s.stop()
	s.settle(err)
}

// contextDone settles a stream whose context ended before its status was
// seen, with the status gRPC gives the context's error.
func (s *clientStream) contextDone() {
	s.settle(status.FromContextError(s.ctx.Err()).Err())
}

// settle counts the stream's outcome, once, whoever comes first.
func (s *clientStream) settle(err error) {
	if !s.settled.CompareAndSwap(false, true) {
		return
	}
	code, verdict := codeOf(err), errFailed
	// Deferred, so that a Classify that panics still returns the permit,
	// counting a failure; the panic goes on.
	defer func() { s.permit.Done(code, verdict) }()
	verdict = encode(s.c.classify(s.method, err))
}
