package cbhttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/registry"
)

// The bounds of the registry a Transport makes for itself when its
// Registry is nil.
//
// A breaker takes from about 3 KiB on a small machine to about 10 KiB on
// one with 16 cores or more (its counters are striped by core), so
// DefaultMaxHosts keeps the private registry to about 10 MiB at most,
// while allowing far more hosts than most clients talk to at once; a
// proxy that talks to more should pass a Registry of its own.
// DefaultIdleTimeout is ten times cb's default open timeout and sixty
// times its default window: a host still in use, however rarely, is seen
// in use long before it could be evicted, and a host no longer used
// leaves within minutes.
const (
	DefaultMaxHosts    = 1024
	DefaultIdleTimeout = 10 * time.Minute
)

// Transport is an http.RoundTripper that guards another with one circuit
// breaker per host (or per key of Key's choosing). Use it as an
// http.Client's Transport:
//
//	client := &http.Client{Transport: &cbhttp.Transport{Config: presets.API()}}
//
// Every field may be left zero. The fields must not change once the
// Transport has carried a request, and a Transport must not be copied
// after first use.
type Transport struct {
	// Base carries the requests the breakers admit. nil means
	// http.DefaultTransport.
	Base http.RoundTripper

	// Registry keeps the breakers, named by their keys, so that its
	// reports (Handler, Health...) show them. nil means a registry private
	// to this Transport (see Breakers), bounded to DefaultMaxHosts
	// breakers, of which those idle for DefaultIdleTimeout and healthy may
	// be evicted, idleness timed by Config.Clock. For other bounds pass a
	// registry made with them:
	//
	//	Registry: registry.New(registry.WithMaxBreakers(10000), registry.WithIdleTimeout(time.Hour)),
	//
	// An unbounded registry (registry.New(), registry.Default()) lets
	// every host a caller names make a breaker that stays: do not use one
	// where the hosts come from requests. Transports that share a
	// registry share the breaker of a key, which they must then configure
	// alike (registry.Get compares the value fields of Configs).
	Registry *registry.Registry

	// Config is the policy of every breaker the Transport makes. The zero
	// Config means cb's defaults; a preset (presets.API()...) is a good
	// start. IsIgnored and IsFailure, if set, are asked about errors of
	// Base when Classify is nil (see DefaultClassify).
	Config cb.Config

	// Key names the breaker a request goes through. nil means HostKey:
	// the request's host, normalised ("api.example.com",
	// "127.0.0.1:8080"). A key of "" sends the request to Base with no
	// breaker at all, which exempts it.
	Key func(*http.Request) string

	// Classify decides the outcome of a request Base carried, from its
	// response and error: cb.Success, cb.Failure or cb.Ignored (cb.Rejected
	// counts as cb.Failure). nil means DefaultClassify, with Config's
	// IsIgnored and IsFailure for errors when they are set. It must be
	// safe for concurrent use and must not consume the response body,
	// which goes to the caller.
	Classify func(*http.Response, error) cb.Outcome

	// own is the private registry used when Registry is nil, made by the
	// first call to Breakers.
	ownOnce sync.Once
	own     *registry.Registry
}

// DefaultClassify is the classification a Transport uses when its Classify
// is nil:
//
//   - an error from the base transport is a failure, unless it matches
//     context.Canceled: the caller gave up, which says nothing about the
//     host (context.DeadlineExceeded is a failure, as in package cb);
//   - a response with a status of 500 or more (the server failed) or 429
//     Too Many Requests (the server is shedding load, and a breaker that
//     backs off is what it asks for) is a failure;
//   - any other response is a success, 4xx included: a server that judges
//     a request is up.
//
// A Transport whose Config sets IsIgnored or IsFailure asks them about
// errors instead, in cb's order: IsIgnored first (unset: matches
// context.Canceled), then IsFailure (unset: any error).
func DefaultClassify(resp *http.Response, err error) cb.Outcome {
	if err != nil {
		if isCanceled(err) {
			return cb.Ignored
		}
		return cb.Failure
	}
	if resp == nil || failureStatus(resp.StatusCode) {
		return cb.Failure // a nil response with a nil error is a broken transport
	}
	return cb.Success
}

// failureStatus reports whether a client should hold a status against the
// server.
func failureStatus(code int) bool {
	return code >= http.StatusInternalServerError || code == http.StatusTooManyRequests
}

// RoundTrip sends req through the breaker of its key. When the breaker
// admits it, Base carries it and the breaker counts the outcome Classify
// gives; Base's response and error are returned as they are, so the body
// of a failed response (a 503, say) is the caller's to read and close.
//
// Otherwise RoundTrip closes req.Body, does not call Base, and returns a
// nil response with:
//   - when the breaker rejects the request, an error matching cb.ErrOpen
//     (a *cb.OpenError naming the breaker, whose RetryAfter tells when to
//     try again);
//   - when req's context is already done, its error (counted as ignored);
//   - when the breaker cannot be had from the registry, registry.Get's
//     error (matching cb.ErrInvalidConfig, registry.ErrConfigConflict or
//     registry.ErrTypeMismatch).
//
// The exception is a registry too full to make the key's breaker
// (registry.ErrFull): then Base carries the request with no breaker, as
// for a key of "", and the registry's Health counts it in Refused. A full
// registry holds breakers that are failing or in use; refusing new hosts
// until one of them recovers would turn a client's trouble with some
// hosts (or a flood of made-up ones) into an outage for every other host,
// while sending unguarded costs only the protection of those requests.
//
// A panic in Base or Classify counts as a failure and goes on unchanged
// (a response Base returned before Classify panicked is closed first).
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	key := t.key(req)
	if key == "" {
		return t.base().RoundTrip(req)
	}
	b, err := registry.Get(t.Breakers(), key, t.Config, verdictOpts...)
	if err != nil {
		if errors.Is(err, registry.ErrFull) {
			return t.base().RoundTrip(req)
		}
		closeBody(req)
		return nil, err
	}
	// The breaker sees a verdict (see verdictOpts) in place of Base's
	// error; the caller gets Base's own.
	var (
		ran     bool
		baseErr error
	)
	resp, res := b.ExecuteContext(req.Context(), func(context.Context) (*http.Response, error) {
		ran = true
		resp, err := t.base().RoundTrip(req)
		baseErr = err
		return resp, t.verdict(resp, err)
	})
	if !ran {
		// Rejected, or refused because the context was done: Base never
		// saw the request, so its body is still ours to close.
		closeBody(req)
		return nil, res.Err
	}
	return resp, baseErr
}

// CloseIdleConnections closes the idle connections of Base, when it can,
// so that http.Client.CloseIdleConnections reaches them.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.base().(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// Breakers returns the registry holding t's breakers: Registry, or the
// private one when Registry is nil. Its Handler shows them:
//
//	http.Handle("/debug/breakers", t.Breakers().Handler())
func (t *Transport) Breakers() *registry.Registry {
	if t.Registry != nil {
		return t.Registry
	}
	t.ownOnce.Do(func() {
		t.own = registry.New(
			registry.WithMaxBreakers(DefaultMaxHosts),
			registry.WithIdleTimeout(DefaultIdleTimeout),
			registry.WithClock(t.Config.Clock),
		)
	})
	return t.own
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

func (t *Transport) key(req *http.Request) string {
	if t.Key != nil {
		return t.Key(req)
	}
	return HostKey(req)
}

// HostKey is the key a Transport gives a request when its Key is nil: the
// host of its URL, normalised so that one host written several ways has
// one breaker. Letters are lower-cased, a trailing dot is dropped
// ("example.com." is the fully qualified "example.com"), and so is the
// scheme's default port, 80 for http and 443 for https, or an empty one.
// Other ports stay: "example.com:8443" and "example.com" are different
// servers. A request without a URL gets "", so Base reports it. Custom
// Key functions can build on it:
//
//	Key: func(r *http.Request) string {
//		if r.URL.Path == "/healthz" {
//			return "" // exempt
//		}
//		return cbhttp.HostKey(r)
//	},
//
// It allocates only when it has something to change.
func HostKey(req *http.Request) string {
	if req.URL == nil {
		return ""
	}
	return normalizeHost(req.URL.Scheme, req.URL.Host)
}

func normalizeHost(scheme, hostport string) string {
	host, port, hasPort := splitHostPort(hostport)
	dropPort := hasPort && (port == "" || port == defaultPort(scheme))
	trimDot := len(host) > 1 && host[len(host)-1] == '.'
	lower := mayHaveUpper(host)
	if !dropPort && !trimDot && !lower {
		return hostport
	}
	if trimDot {
		host = host[:len(host)-1]
	}
	if lower {
		host = strings.ToLower(host)
	}
	if hasPort && !dropPort {
		return host + ":" + port
	}
	return host
}

// splitHostPort splits "host:port", "[v6]:port" and "host:" (whose port is
// empty); a host without a port, "[v6]" or a bare v6 address included,
// has none.
func splitHostPort(s string) (host, port string, ok bool) {
	i := strings.LastIndexByte(s, ':')
	switch {
	case i < 0:
		return s, "", false
	case s[0] == '[' && s[i-1] != ']': // the colon is inside the brackets
		return s, "", false
	case s[0] != '[' && strings.IndexByte(s[:i], ':') >= 0: // bare v6
		return s, "", false
	}
	return s[:i], s[i+1:], true
}

func defaultPort(scheme string) string {
	switch {
	case strings.EqualFold(scheme, "http"):
		return "80"
	case strings.EqualFold(scheme, "https"):
		return "443"
	}
	return "-" // no port is spelled so: nothing is dropped
}

// mayHaveUpper reports whether s has an upper-case ASCII letter, or any
// non-ASCII byte, for strings.ToLower to judge.
func mayHaveUpper(s string) bool {
	for i := range len(s) {
		if c := s[i]; c >= 'A' && c <= 'Z' || c >= 0x80 {
			return true
		}
	}
	return false
}

// The breaker learns the Transport's verdict through the error of the call
// it runs, and decides with verdictOpts' classifier, readVerdict, which
// reads it back: nil is a success, errIgnored (which matches
// context.Canceled) is ignored, errFailed a failure. Classifying in the
// Transport rather than in the breaker keeps each Transport's Classify its
// own even when Transports share a registry (an option such as
// cb.WithClassifier applies only in the Get that makes the breaker), and a
// breaker of the key made elsewhere with cb's default classification reads
// the verdicts the same way.
var (
	errIgnored = fmt.Errorf("cbhttp: ignored: %w", context.Canceled)
	errFailed  = errors.New("cbhttp: failed")

	verdictOpts = []cb.Option[*http.Response]{cb.WithClassifier(readVerdict)}
)

// verdict classifies a call Base carried and encodes the outcome for the
// breaker. If classifying panics, the response is closed: no one else
// will see it.
func (t *Transport) verdict(resp *http.Response, err error) error {
	classified := false
	defer func() {
		if !classified && resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
	}()
	o := t.classify(resp, err)
	classified = true
	switch o {
	case cb.Success:
		return nil
	case cb.Ignored:
		return errIgnored
	default:
		return errFailed
	}
}

func (t *Transport) classify(resp *http.Response, err error) cb.Outcome {
	if t.Classify != nil {
		return t.Classify(resp, err)
	}
	if err == nil {
		return DefaultClassify(resp, nil)
	}
	// An error of Base, classified as cb classifies errors.
	isIgnored, isFailure := t.Config.IsIgnored, t.Config.IsFailure
	if isIgnored == nil {
		isIgnored = isCanceled
	}
	switch {
	case isIgnored(err):
		return cb.Ignored
	case isFailure == nil || isFailure(err):
		return cb.Failure
	}
	return cb.Success
}

// readVerdict is the breakers' classifier (see verdictOpts).
func readVerdict(_ *http.Response, err error) cb.Outcome {
	switch {
	case err == nil:
		return cb.Success
	case isCanceled(err):
		return cb.Ignored
	}
	return cb.Failure
}

// isCanceled is cb's default IsIgnored.
func isCanceled(err error) bool { return errors.Is(err, context.Canceled) }

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}
