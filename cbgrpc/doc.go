// Package cbgrpc puts tripswitch circuit breakers around gRPC clients and
// servers, as interceptors.
//
// On the client side, a Client has one breaker per method (or per service,
// or per target): a method that keeps failing is left alone for a while,
// and its calls fail at once with a status error (code Unavailable, with a
// retry hint) that matches cb.ErrOpen, without touching the network.
//
//	guard := &cbgrpc.Client{Config: presets.API()}
//	conn, err := grpc.NewClient(target, creds,
//		grpc.WithChainUnaryInterceptor(guard.UnaryInterceptor),
//		grpc.WithChainStreamInterceptor(guard.StreamInterceptor))
//	...
//	_, err = client.Check(ctx, req)
//	if errors.Is(err, cb.ErrOpen) { d, _ := cbgrpc.RetryAfter(err); /* fail fast, try again in d */ }
//
// On the server side, a Server sheds load while a method's handler keeps
// failing: callers get Unavailable with the same retry hint before the
// handler is called, and the handler gets a rest.
//
//	guard := &cbgrpc.Server{Config: presets.API()}
//	srv := grpc.NewServer(
//		grpc.ChainUnaryInterceptor(guard.UnaryInterceptor),
//		grpc.ChainStreamInterceptor(guard.StreamInterceptor))
//	http.Handle("/debug/breakers", guard.Breakers().Handler())
//
// # Model
//
// Client and Server make their breakers themselves, one per key, on the
// first call for the key, with registry.Get, their Config and their
// Registry (if nil, a private one bounded to DefaultMaxBreakers breakers,
// which Breakers returns). Each breaker is a *cb.Breaker[codes.Code],
// whose value is the call's status code. A unary call goes through its
// breaker with ExecuteContext on the client and Execute on the server; a
// client stream takes a cb.Permit when it opens and settles it once its
// final status is known; a server stream is one Execute around its
// handler. The outcome of a call is decided by Classify (DefaultClassify
// on the client, DefaultClassifyServed on the server) from the call's
// error, that is its status. The caller always gets the call's own
// answer; only a rejection is the interceptor's.
//
// The breakers report through their registry like any other: its Health,
// its JSON Handler and expvar Var, and whatever reads registry metrics
// (AllMetrics).
//
// # Classification
//
// By status code, client side (DefaultClassify):
//
//	code                                                   outcome   why
//	OK                                                     success
//	Unavailable, DeadlineExceeded, ResourceExhausted,      failure   the server is down, overloaded,
//	Internal, Unknown, DataLoss (and any non-status error)           too slow, or broken
//	Canceled                                               ignored   the caller gave up
//	InvalidArgument, NotFound, AlreadyExists,              success   the server judged the request:
//	FailedPrecondition, OutOfRange                                   it works; the caller erred
//	Unauthenticated, PermissionDenied, Unimplemented       ignored   answered before any work (auth,
//	                                                                 proxy, grpc-go): shows only that
//	                                                                 the front door answers
//	Aborted                                                ignored   a conflict with other callers
//
// Server side (DefaultClassifyServed), the same but for ResourceExhausted,
// a success (a handler that sheds load or enforces a quota works as
// meant), and for failures after the client went away (the call's context
// cancelled), which are ignored. A handler's panic is a failure. Classify
// overrides either table; so do Config.IsIgnored and IsFailure when set.
//
// # Decisions where the design leaves room
//
//   - The retry hint is a google.rpc.RetryInfo detail in the rejection's
//     status, not metadata. A detail travels with the status itself, so
//     a client's own rejection (which has no trailer to carry metadata)
//     and a server's look alike, proxies pass it on, and it is the
//     standard form Google APIs use. The one metadata key gRPC defines,
//     grpc-retry-pushback-ms, drives grpc-go's automatic retries: every
//     client with a retry policy would come back at the instant the
//     breaker starts probing (or wait inside the call), which is for the
//     program to choose, not this package. RetryAfter reads the hint from
//     either side's error. Its delay is the breaker's time left when the
//     status is built, or MinRetryDelay when there is none to give (a
//     half-open breaker whose probes are out, a forced-open one).
//   - A rejection is an OpenError, a status error with code Unavailable
//     (the code for "not now, maybe later", which retry policies and
//     balancers already understand) that wraps the breaker's
//     *cb.OpenError, so errors.Is(err, cb.ErrOpen) holds. It is one
//     pointer: rejecting allocates nothing until someone asks for its
//     status.
//   - A registry too full to make a key's breaker lets the call through
//     unguarded, counted in the registry's Health as Refused, as
//     cbhttp.Transport does: refusing every new key because some
//     backends are failing would turn their trouble into everyone's.
//     Other errors getting a breaker (an invalid Config, a conflict in a
//     shared registry) are programming errors and fail the call.
//   - A client stream's outcome is its final status: io.EOF from RecvMsg
//     (or the one response of a stream whose server sends one) is a
//     success, an error from RecvMsg or SendMsg (but io.EOF from SendMsg,
//     which defers to RecvMsg) is classified. A stream whose context ends
//     before its status is seen is settled with the context's status:
//     Canceled, so ignored, for a stream the caller abandons or cancels;
//     DeadlineExceeded, so a failure, for one the server did not finish in
//     time, whether or not the caller read that status. A stream
//     whose long life is ended by a deadline on purpose (a watch) should
//     be exempted (Key returning "") or classified by Classify.
//   - A stream holds its admission for its whole life, so a long-lived
//     stream (a watch, a subscription) admitted as a half-open probe and
//     still open after HalfOpenTimeout fails its episode, as any probe
//     out that long does, however healthy it is. Exempt such streams, or
//     give them keys of their own, with a HalfOpenTimeout to match.
//   - A forgotten stream (never read to its end) gives its permit back
//     when its context ends, watched with context.AfterFunc: no goroutine
//     per stream while it lives. One whose context never ends holds it in
//     closed state for nothing (nothing is counted), and in half-open the
//     breaker fails the episode after HalfOpenTimeout and ignores the
//     probe's late outcome (see package cb), so no stream can hold a
//     breaker half-open for ever.
//   - A call whose context is done before it starts never reaches the
//     network and is counted as ignored (TotalIgnored), on both kinds of
//     call.
//   - Handler panics are counted as failures and go on, unrecovered,
//     stack intact. grpc-go itself recovers nothing; turning a panic into
//     an Internal status is a recovery interceptor's job, and this one
//     must not hide a panic from it or from the program's crash policy.
//     Either way round the two are chained, the panic counts once.
//   - The server runs the handler of a call whose client has gone, as
//     grpc-go would (with Execute, not ExecuteContext), and ignores its
//     failure (see DefaultClassifyServed).
//   - The interceptors classify and the breakers only record: each call's
//     verdict reaches its breaker through the error the breaker sees,
//     decoded by a classifier installed when the breaker is made. So each
//     Client's and Server's Classify applies to its own calls even when
//     they share a registry, and a breaker of the key made elsewhere with
//     cb's default classification reads the verdicts alike. Clients and
//     Servers sharing a registry must use the same Config values for the
//     keys they share, or registry.Get fails with ErrConfigConflict. A
//     client's and a server's default keys are both method names, so a
//     process that calls methods it also serves (a proxy) must not give
//     its Client and Server one registry: each keeps its own when
//     Registry is nil.
//   - Statuses that grpc-go makes on the client's side count as the table
//     says: a request too large to send is ResourceExhausted, a message
//     that cannot be marshalled is Internal, both failures, though the
//     server never saw them: a status does not say who made it. A Classify
//     that knows the program's limits can leave them out.
//
// # Concurrency
//
// Client and Server are safe for concurrent use, as the breakers are. An
// interceptor takes no lock of its own and starts no goroutine (but for
// the release of a stream whose context ends before its status is seen,
// which context.AfterFunc runs on a goroutine of its own): a call costs a
// registry lookup (a sync.Map load and a Config comparison) and the
// breaker's own work. The first call of a new key takes the registry's
// lock to make its breaker. A client stream's permit is settled exactly
// once, by an atomic flag, whichever of RecvMsg, SendMsg and the end of
// its context comes first; RecvMsg and SendMsg may run on different
// goroutines, as grpc-go allows. A unary call through a Client allocates
// nothing beyond what grpc-go does (the benchmark in bench_test.go
// measures it); a stream allocates its wrapper and its context watch.
package cbgrpc
