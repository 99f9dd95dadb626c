package cbhttp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/tripswitch/tripswitch/cb"
)

// minRetryAfter is the Retry-After, in seconds, of a rejection whose
// breaker gives no time to wait: a half-open breaker whose probes are
// taken, or one forced open. Zero would invite clients to retry at once,
// which is what the breaker is there to stop; one second is the least the
// header can say otherwise.
const minRetryAfter = 1

// Middleware returns middleware that guards handlers with the breaker b,
// on the server side: a handler that keeps failing is given a rest, and
// its clients a quick answer.
//
//	b, err := registry.Get[int](reg, "checkout", presets.API())
//	...
//	mux.Handle("/checkout", cbhttp.Middleware(b)(checkout))
//
// When b admits a request, the handler serves it as usual, and b counts
// the outcome. When b rejects it, the handler is not called and the
// client gets 503 Service Unavailable with a Retry-After header: the
// breaker's time left, in whole seconds rounded up, and at least 1 (a
// half-open breaker whose probes are taken, or a forced-open one, gives no
// time to wait).
//
// Beware: a breaker counts every request it guards, so anyone who can
// make the handler fail can open it for everyone. With cb's defaults, five
// crafted requests in a row that make the handler panic or answer 5xx (a
// malformed body that a decoder chokes on, a query that asks for too
// much) trip the breaker, and every other client gets 503 for the open
// timeout, a minute; the attacker needs only to do it again once a minute.
// Count only what says the handler's dependencies are failing: pass
// ClassifyServed to leave out failures the client caused, guard the calls
// to a dependency rather than the whole handler where you can, and
// validate input before anything that can panic on it.
//
// Without ClassifyServed, the breaker's value is the status the handler
// answered with (200 if it wrote nothing, as net/http sends), and its
// error, which cb's classification (or the breaker's own, see
// cb.WithClassifier) decides on:
//   - nil below 500: a success;
//   - a *StatusError from 500 up: a failure, unless the request's context
//     was cancelled (the client went away), which StatusError wraps, so
//     that cb's default IsIgnored ignores it;
//   - for a panic with http.ErrAbortHandler, an error matching it (and the
//     request context's error, if done): a failure, or ignored when the
//     client went away. The panic goes on once counted.
//
// Any other panic is a failure and goes on unchanged, stack included.
// Share b among the handlers of one dependency or one route as you see
// fit; every breaker of a registry shows in its Handler. Middleware panics
// if b is nil.
func Middleware(b *cb.Breaker[int], opts ...MiddlewareOption) func(http.Handler) http.Handler {
	if b == nil {
		panic("cbhttp: Middleware with a nil breaker")
	}
	var g guarded
	for _, o := range opts {
		if o != nil {
			o(&g)
		}
	}
	return func(next http.Handler) http.Handler {
		h := g
		h.b, h.next = b, next
		return &h
	}
}

// MiddlewareOption configures Middleware.
type MiddlewareOption func(*guarded)

// Served is what Middleware knows of a request its handler served, for a
// ClassifyServed function to judge.
type Served struct {
	// Request is the request as the handler got it.
	Request *http.Request
	// Status is the status the handler answered with: 200 if it wrote
	// nothing and returned, as net/http sends. After a panic it is the
	// status sent before the panic, or 0 if none was.
	Status int
	// Panic is the value the handler panicked with; nil if it returned.
	Panic any
}

// ClassifyServed makes f judge every request the breaker admitted, in
// place of the breaker's reading of the status: cb.Success, cb.Failure or
// cb.Ignored (cb.Rejected, or any other Outcome, counts as a failure). f
// runs after the handler, on the handler's goroutine, and must not write
// to the response. DefaultClassifyServed is what Middleware decides
// without it, for f to fall back on.
//
// Use it to leave out failures a client caused: a 5xx or a panic that only
// bad input can bring about says nothing about the handler's dependencies,
// and counting it lets a client open the breaker for everyone (see
// Middleware).
//
// The verdict reaches the breaker as its error, read by cb's default
// classification: nil for a success; for a failure, a *StatusError (or,
// for an http.ErrAbortHandler panic, an error matching it); for ignored,
// an error matching context.Canceled. A breaker with a classifier of its
// own (cb.WithClassifier, Config.IsIgnored) must read them alike.
//
// A panic goes on once counted. One judged a failure goes on from where
// it was raised, stack included, as without the option; one judged a
// success or ignored must first get past the breaker, which counts every
// panic going through it as a failure, so it is raised again after the
// breaker has counted it, and the stack net/http prints for it starts at
// Middleware.
func ClassifyServed(f func(Served) cb.Outcome) MiddlewareOption {
	return func(g *guarded) { g.classify = f }
}

// DefaultClassifyServed is how Middleware judges a request without
// ClassifyServed, with cb's default classification:
//   - a panic is a failure, except an http.ErrAbortHandler panic after
//     the client went away (the request's context is cancelled), which is
//     ignored;
//   - a status of 500 or more is a failure, unless the client went away:
//     then it is ignored;
//   - anything else is a success, 4xx included: 429 too, since a handler
//     that sheds load is working as meant.
func DefaultClassifyServed(s Served) cb.Outcome {
	clientGone := s.Request != nil && errors.Is(s.Request.Context().Err(), context.Canceled)
	switch {
	case s.Panic != nil:
		if clientGone && isAbort(s.Panic) {
			return cb.Ignored
		}
		return cb.Failure
	case s.Status >= http.StatusInternalServerError:
		if clientGone {
			return cb.Ignored
		}
		return cb.Failure
	}
	return cb.Success
}

// guarded is a handler behind a breaker.
type guarded struct {
	b        *cb.Breaker[int]
	next     http.Handler
	classify func(Served) cb.Outcome // nil: the breaker reads the status
}

func (g *guarded) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	var held any // a panic to raise again once the breaker has counted it
	_, res := g.b.Execute(func() (int, error) { return g.serve(sw, r, &held) })
	switch {
	case res.Outcome == cb.Rejected:
		reject(w, res.RetryAfter)
	case held != nil:
		panic(held)
	}
}

// errNotCounted is the error the breaker sees for a request ClassifyServed
// ignored: cb's default IsIgnored ignores what matches context.Canceled.
var errNotCounted = fmt.Errorf("cbhttp: not counted: %w", context.Canceled)

// serve runs next and tells the breaker how it went (see Middleware). A
// panic is recovered only when the breaker must not count it as a failure
// (an http.ErrAbortHandler panic, which the error describes instead, or
// one ClassifyServed judged otherwise): it is stored in *held, for
// ServeHTTP to raise again once the breaker has counted the call.
// net/http prints no stack for an http.ErrAbortHandler, so nothing is
// lost there. Any other panic is raised again at once, inside the
// deferred call: the panicking frames are still on the stack then, so the
// trace net/http prints shows them, and the breaker counts a failure as
// it does for every panic.
func (g *guarded) serve(w *statusWriter, r *http.Request, held *any) (code int, err error) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		code = w.status()
		pe, _ := p.(error)
		abort := pe != nil && errors.Is(pe, http.ErrAbortHandler)
		if g.classify == nil {
			if !abort {
				panic(p)
			}
			*held, err = p, abortError(pe, r.Context().Err())
			return
		}
		switch g.classify(Served{Request: r, Status: w.code, Panic: p}) {
		case cb.Success:
			*held, err = p, nil
		case cb.Ignored:
			*held, err = p, errNotCounted
		default:
			if !abort {
				panic(p)
			}
			*held, err = p, abortError(pe, nil)
		}
	}()
	g.next.ServeHTTP(w, r)
	code = w.status()
	if g.classify != nil {
		switch g.classify(Served{Request: r, Status: code}) {
		case cb.Success:
			return code, nil
		case cb.Ignored:
			return code, errNotCounted
		}
		return code, &StatusError{Code: code}
	}
	if code < http.StatusInternalServerError {
		return code, nil
	}
	return code, &StatusError{Code: code, Err: r.Context().Err()}
}

// abortError describes an http.ErrAbortHandler panic to the breaker, with
// the request context's error when there is one to tell.
func abortError(pe, ctxErr error) error {
	if ctxErr != nil {
		return fmt.Errorf("cbhttp: handler aborted: %w (request context: %w)", pe, ctxErr)
	}
	return fmt.Errorf("cbhttp: handler aborted: %w", pe)
}

// isAbort reports whether a panic value is http.ErrAbortHandler, or wraps
// it.
func isAbort(p any) bool {
	pe, ok := p.(error)
	return ok && errors.Is(pe, http.ErrAbortHandler)
}

// reject answers a request the breaker refused.
func reject(w http.ResponseWriter, retryAfter time.Duration) {
	w.Header().Set("Retry-After", strconv.FormatInt(retryAfterSeconds(retryAfter), 10))
	http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
}

// retryAfterSeconds is d in whole seconds, rounded up, and at least
// minRetryAfter.
func retryAfterSeconds(d time.Duration) int64 {
	s := int64(d / time.Second)
	if d%time.Second > 0 {
		s++
	}
	return max(s, minRetryAfter)
}

// StatusError is the error a Middleware's breaker sees for a handler that
// answered with a status of 500 or more, or, under ClassifyServed, with
// any status it judged a failure. With cb's default classification it is
// a failure, unless Err matches context.Canceled.
type StatusError struct {
	// Code is the status the handler answered with.
	Code int
	// Err is the request's context error if the context was done when the
	// handler returned: context.Canceled when the client went away (the
	// handler may well have failed because of it), or
	// context.DeadlineExceeded under a deadline. nil otherwise, and always
	// nil under ClassifyServed, whose verdict is already made.
	Err error
}

// Error names the status, and the context's error if any.
func (e *StatusError) Error() string {
	s := "cbhttp: handler answered " + strconv.Itoa(e.Code) + " " + http.StatusText(e.Code)
	if e.Err != nil {
		s += " (request context: " + e.Err.Error() + ")"
	}
	return s
}

// Unwrap returns Err, so that errors.Is(err, context.Canceled) tells a
// failure the client caused by leaving.
func (e *StatusError) Unwrap() error { return e.Err }

// statusWriter records the status a handler answers with. It passes
// everything else through: Flush, Hijack and ReadFrom for handlers that
// assert those interfaces, and Unwrap for http.ResponseController, which
// reaches the other optional methods (deadlines, full duplex) through it.
type statusWriter struct {
	http.ResponseWriter
	// code is the final status once sent (1xx responses other than 101
	// are informational and do not count), 0 before.
	code int
}

// status is the status the client gets (or got).
func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK // what net/http sends for a handler that wrote nothing
	}
	return w.code
}

// WriteHeader records the first final status and sends code.
func (w *statusWriter) WriteHeader(code int) {
	w.ResponseWriter.WriteHeader(code)
	if w.code == 0 && (code >= http.StatusOK || code == http.StatusSwitchingProtocols) {
		w.code = code
	}
}

// Write records the implicit 200 of a first write and writes p.
func (w *statusWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap returns the wrapped ResponseWriter, for http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush implements http.Flusher; a writer that cannot flush makes it do
// nothing.
func (w *statusWriter) Flush() { _ = w.FlushError() }

// FlushError is the Flush http.ResponseController calls, with its error.
func (w *statusWriter) FlushError() error {
	err := http.NewResponseController(w.ResponseWriter).Flush()
	if err == nil && w.code == 0 {
		w.code = http.StatusOK // flushing sends the header
	}
	return err
}

// Hijack implements http.Hijacker; it fails as http.ResponseController
// does when the wrapped writer cannot hijack.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.code == 0 {
		w.code = http.StatusSwitchingProtocols // the handler took the connection over
	}
	return c, rw, err
}

// ReadFrom implements io.ReaderFrom, so that io.Copy into the writer keeps
// net/http's sendfile path.
func (w *statusWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(w.ResponseWriter, src)
}
