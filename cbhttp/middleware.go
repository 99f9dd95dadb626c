package cbhttp

import (
	"bufio"
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
// The breaker's value is the status the handler answered with (200 if it
// wrote nothing, as net/http sends), and its error, which cb's
// classification (or the breaker's own, see cb.WithClassifier) decides on:
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
func Middleware(b *cb.Breaker[int]) func(http.Handler) http.Handler {
	if b == nil {
		panic("cbhttp: Middleware with a nil breaker")
	}
	return func(next http.Handler) http.Handler {
		return &guarded{b: b, next: next}
	}
}

// guarded is a handler behind a breaker.
type guarded struct {
	b    *cb.Breaker[int]
	next http.Handler
}

func (g *guarded) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	var abort any // an http.ErrAbortHandler panic, held until counted
	_, res := g.b.Execute(func() (int, error) { return serve(g.next, sw, r, &abort) })
	switch {
	case res.Outcome == cb.Rejected:
		reject(w, res.RetryAfter)
	case abort != nil:
		panic(abort)
	}
}

// serve runs next and tells the breaker how it went (see Middleware). An
// http.ErrAbortHandler panic is recovered and stored in *abort, for
// ServeHTTP to panic with once the breaker has counted it as an error:
// net/http prints no stack for it, so nothing is lost. Any other panic is
// re-raised at once, inside the deferred call: the panicking frames are
// still on the stack then, so the trace net/http prints shows them, and
// the breaker counts a failure as it does for every panic.
func serve(next http.Handler, w *statusWriter, r *http.Request, abort *any) (code int, err error) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		pe, ok := p.(error)
		if !ok || !errors.Is(pe, http.ErrAbortHandler) {
			panic(p)
		}
		*abort = p
		code = w.status()
		if ctxErr := r.Context().Err(); ctxErr != nil {
			err = fmt.Errorf("cbhttp: handler aborted: %w (request context: %w)", pe, ctxErr)
		} else {
			err = fmt.Errorf("cbhttp: handler aborted: %w", pe)
		}
	}()
	next.ServeHTTP(w, r)
	code = w.status()
	if code < http.StatusInternalServerError {
		return code, nil
	}
	return code, &StatusError{Code: code, Err: r.Context().Err()}
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
// answered with a status of 500 or more. With cb's default classification
// it is a failure, unless Err matches context.Canceled.
type StatusError struct {
	// Code is the status the handler answered with.
	Code int
	// Err is the request's context error if the context was done when the
	// handler returned: context.Canceled when the client went away (the
	// handler may well have failed because of it), or
	// context.DeadlineExceeded under a deadline. nil otherwise.
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
