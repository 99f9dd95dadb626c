// Package cbhttp puts tripswitch circuit breakers around net/http clients
// and servers.
//
// On the client side, Transport is an http.RoundTripper with one breaker
// per host: a host that keeps failing is left alone for a while, and its
// requests fail fast with an error matching cb.ErrOpen instead of waiting
// on it.
//
//	reg := registry.New()
//	client := &http.Client{Transport: &cbhttp.Transport{Registry: reg, Config: presets.API()}}
//	resp, err := client.Get("https://api.example.com/v1/items")
//	if errors.Is(err, cb.ErrOpen) { /* the host is resting: fail fast */ }
//
// On the server side, Middleware guards a handler with a breaker: while the
// handler keeps failing, clients get 503 Service Unavailable with a
// Retry-After header at once, and the handler gets a rest.
//
//	b, err := registry.Get[int](reg, "search", presets.API())
//	mux.Handle("/search", cbhttp.Middleware(b)(search))
//	mux.Handle("/debug/breakers", reg.Handler()) // both sides' breakers
//
// # Model
//
// A Transport makes its breakers itself, one per key (by default HostKey,
// the request's host, normalised), on the first request for the key, with
// registry.Get, its Config and its Registry (if nil, a private one bounded
// to DefaultMaxHosts breakers, which Breakers returns). Each request goes through the breaker of its key with
// cb's ExecuteContext: a request the breaker rejects, or whose context is
// already done, never reaches the base transport. An admitted request's
// outcome is decided by Classify (DefaultClassify if nil): an error of the
// base transport or a status of 5xx or 429 is a failure, a cancelled
// request is ignored, anything else is a success. Whatever the outcome,
// the base transport's response and error go back to the caller as they
// are.
//
// Middleware is given its breaker, a *cb.Breaker[int], and runs each
// request's handler through it with Execute. The breaker's value is the
// status the handler answered with, and its error says what failed (see
// Middleware), so that the breaker's own classification decides:
// cb.WithClassifier[int] sees the status.
//
// Both report through registries like any other breaker: the Transport's
// in its Registry, the Middleware's in the registry the caller got it from
// with registry.Get (a breaker made with cb.New is in none).
//
// # Decisions
//
//   - A request's outcome is decided when the base transport returns, that
//     is when the response headers have arrived. Reading the body is the
//     caller's business and is not counted: a failed read is not a
//     failure, and Duration (hence slow calls) is the time to the headers.
//   - Caller cancellation is not the host's fault: a request whose context
//     is cancelled before or during the call is ignored (counted in
//     TotalIgnored only). A deadline that passes during the call is a
//     failure, as in package cb: a host too slow to answer in time is what
//     breakers are for. A context whose deadline had passed before the
//     request was made is refused before admission and ignored.
//   - 429 Too Many Requests is a failure for a client (the server asks it
//     to back off), and a success for a server (a handler that sheds load
//     is working as meant). Other 4xx are successes on both sides.
//   - A host written several ways is one host: HostKey lower-cases it,
//     drops a trailing dot and the scheme's default port, so
//     "https://API.example.com.:443/" and "https://api.example.com/" share
//     a breaker. Other ports stay apart, and so do the IP addresses a name
//     resolves to, which HostKey cannot know.
//   - Hosts come from whoever makes the requests, so the private registry
//     is bounded: DefaultMaxHosts breakers, of which those idle for
//     DefaultIdleTimeout and healthy may be evicted to make room (see
//     package registry). When none can go, the request is sent without a
//     breaker and counted in the registry's Health as Refused (see
//     RoundTrip): a client keeps reaching new hosts, unprotected, rather
//     than failing them all because some hosts are failing.
//   - The Transport classifies and its breakers only record: each call's
//     verdict reaches the breaker through the error it sees, decoded by a
//     classifier the Transport installs. So each Transport's Classify
//     applies to its own requests even when Transports share a registry,
//     where options such as cb.WithClassifier would apply only for the
//     Transport that happened to make a breaker. A breaker of a key made
//     elsewhere with cb's default classification reads the verdicts
//     alike. Transports that share a registry must use the same Config
//     values for the keys they share, or RoundTrip fails with
//     registry.ErrConfigConflict. The Config's funcs and Clock are not
//     compared (see package registry), so a Transport never conflicts with
//     its own Config, whatever its Clock.
//   - A rejection returns the breaker's preallocated *cb.OpenError, which
//     names the breaker and allocates nothing; http.Client wraps it in a
//     *url.Error, through which errors.Is and errors.As still find it. Its
//     RetryAfter method says, when called, how long until the host's
//     breaker may let a probe through (read from the breaker, so it too
//     allocates nothing).
//   - An error getting a key's breaker (an invalid Config, a conflict or a
//     type mismatch in a shared registry) fails the request rather than
//     sending it unguarded: it is a programming error, and the first
//     request shows it. A full registry is not: see above.
//   - Middleware rejects with 503 and Retry-After: the breaker's time left
//     in whole seconds, rounded up (a client that waits that long finds
//     the breaker ready to probe), and at least 1, since a half-open
//     breaker whose probes are taken and a forced-open one have no time
//     left to give, and 0 would invite an immediate retry.
//   - Anyone who can make a guarded handler fail can open its breaker for
//     every client: five requests that make it panic or answer 5xx do it
//     with cb's defaults. Middleware cannot tell a client's fault from the
//     handler's, so ClassifyServed lets the program judge each request,
//     seeing the request, the status and any panic; DefaultClassifyServed
//     is what Middleware does without it.
//   - Middleware runs the handler for a request whose client has already
//     gone, as net/http would without it (the handler may have work to
//     finish), so it uses Execute, not ExecuteContext. A 5xx the handler
//     answers after the client went away is ignored, as is an
//     http.ErrAbortHandler panic then: a handler that gives up because its
//     client left says nothing about its health. Any other panic is a
//     failure and goes on with its stack intact.
//   - Middleware's ResponseWriter wrapper records the status and passes
//     the rest through: Flush, Hijack and ReadFrom for handlers that
//     assert them, and Unwrap for http.ResponseController.
//
// # Concurrency
//
// Transport and the handlers Middleware returns are safe for concurrent
// use, as the breakers are. Neither starts a goroutine or takes a lock of
// its own; a Transport's first request for a new key takes the registry's
// lock to make the breaker, and later ones find it without one. Beyond
// the breaker's own work, a Transport's request costs a registry lookup (a
// sync.Map load and a Config comparison) and allocates nothing (HostKey
// allocates only for a host it has to rewrite); a
// Middleware's request allocates its ResponseWriter wrapper, and a
// StatusError when the handler fails.
package cbhttp
