package cbhttp_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/cbhttp"
)

// pageHandler serves /?page=N from a list of three pages. Given a page out
// of range it panics (a bug any client can trigger), given "export" it
// answers 501, and given "down" it fails as when its store is down.
func pageHandler(w http.ResponseWriter, r *http.Request) {
	pages := []string{"one", "two", "three"}
	switch q := r.URL.Query().Get("page"); q {
	case "export":
		http.Error(w, "export not implemented", http.StatusNotImplemented)
	case "down":
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
	default:
		n, err := strconv.Atoi(q)
		if err != nil {
			http.Error(w, "bad page", http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte(pages[n])) // panics when n is out of range
	}
}

// validPage is the check pageHandler should have made.
func validPage(r *http.Request) bool {
	n, err := strconv.Atoi(r.URL.Query().Get("page"))
	return err == nil && n >= 0 && n < 3
}

// clientCaused is a ClassifyServed function that leaves out what a client
// can bring about at will: a panic on a page out of range, and 501.
func clientCaused(s cbhttp.Served) cb.Outcome {
	if s.Panic != nil && !validPage(s.Request) || s.Status == http.StatusNotImplemented {
		return cb.Ignored
	}
	return cbhttp.DefaultClassifyServed(s)
}

// serveRecovering serves a request through h, turning a panic into the
// 500 a recovering outer middleware would answer.
func serveRecovering(t *testing.T, h http.Handler, target string) (code int) {
	t.Helper()
	rec := httptest.NewRecorder()
	func() {
		defer func() {
			if recover() != nil {
				code = http.StatusInternalServerError
			}
		}()
		h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, target, http.NoBody))
		code = rec.Code
	}()
	return code
}

// Five crafted requests open a breaker with cb's defaults, and every other
// client gets 503; with ClassifyServed they count for nothing, and real
// failures still trip it.
func TestMiddlewareCraftedRequestsAndClassifyServed(t *testing.T) {
	crafted := []string{"/?page=7", "/?page=-1", "/?page=export", "/?page=99", "/?page=export"}

	t.Run("without", func(t *testing.T) {
		b := cb.MustNew[int]("pages", cb.Config{Clock: cbtest.NewClock()})
		h := cbhttp.Middleware(b)(http.HandlerFunc(pageHandler))
		for _, target := range crafted {
			serveRecovering(t, h, target)
		}
		assert.Equal(t, http.StatusServiceUnavailable, serveRecovering(t, h, "/?page=1"), "a good client is turned away")
	})

	t.Run("with", func(t *testing.T) {
		b := cb.MustNew[int]("pages", cb.Config{Clock: cbtest.NewClock()})
		h := cbhttp.Middleware(b, cbhttp.ClassifyServed(clientCaused))(http.HandlerFunc(pageHandler))
		for range 4 {
			for _, target := range crafted {
				serveRecovering(t, h, target)
			}
		}
		assert.Equal(t, http.StatusOK, serveRecovering(t, h, "/?page=1"))
		m := b.Metrics()
		assert.Equal(t, cb.Closed, m.State)
		assert.EqualValues(t, 20, m.TotalIgnored)
		assert.Zero(t, m.TotalFailures)

		for range 5 {
			assert.Equal(t, http.StatusServiceUnavailable, serveRecovering(t, h, "/?page=down"))
		}
		assert.Equal(t, cb.Open, b.State(), "the handler's own failures still count")
	})
}

// What the breaker sees for each verdict, with and without a panic, and
// that a panic goes on whatever the verdict.
func TestClassifyServedVerdicts(t *testing.T) {
	errBad := errors.New("bad input")
	for _, tc := range []struct {
		name    string
		panicV  any
		status  int
		verdict cb.Outcome
		outcome func(cb.Metrics) uint64 // the total that must be 1
		errIs   error                   // what the breaker's error matches
	}{
		{"success", nil, http.StatusInternalServerError, cb.Success, func(m cb.Metrics) uint64 { return m.Successes }, nil},
		{"ignored", nil, http.StatusInternalServerError, cb.Ignored, func(m cb.Metrics) uint64 { return m.TotalIgnored }, context.Canceled},
		{"failure below 500", nil, http.StatusNotFound, cb.Failure, func(m cb.Metrics) uint64 { return m.TotalFailures }, nil},
		{"rejected is a failure", nil, http.StatusOK, cb.Rejected, func(m cb.Metrics) uint64 { return m.TotalFailures }, nil},
		{"panic success", errBad, 0, cb.Success, func(m cb.Metrics) uint64 { return m.Successes }, nil},
		{"panic ignored", errBad, 0, cb.Ignored, func(m cb.Metrics) uint64 { return m.TotalIgnored }, context.Canceled},
		{"panic failure", errBad, 0, cb.Failure, func(m cb.Metrics) uint64 { return m.TotalFailures }, nil},
		{"abort failure", http.ErrAbortHandler, 0, cb.Failure, func(m cb.Metrics) uint64 { return m.TotalFailures }, http.ErrAbortHandler},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen cbhttp.Served
			var seenErr error
			var seenStatus int
			b := cb.MustNew("api", guardConfig(cbtest.NewClock()), cb.WithClassifier(func(status int, err error) cb.Outcome {
				seenStatus, seenErr = status, err
				switch {
				case err == nil:
					return cb.Success
				case errors.Is(err, context.Canceled):
					return cb.Ignored
				}
				return cb.Failure
			}))
			classify := func(s cbhttp.Served) cb.Outcome {
				seen = s
				return tc.verdict
			}
			h := cbhttp.Middleware(b, cbhttp.ClassifyServed(classify))(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if tc.panicV != nil {
					panic(tc.panicV)
				}
				w.WriteHeader(tc.status)
			}))
			req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/x", http.NoBody)
			serve := func() { h.ServeHTTP(httptest.NewRecorder(), req) }
			if tc.panicV != nil {
				require.PanicsWithValue(t, tc.panicV, serve)
				assert.Zero(t, seen.Status, "nothing was sent before the panic")
				if tc.verdict == cb.Failure && tc.panicV != http.ErrAbortHandler { //nolint:errorlint // the very value panicked with
					// Raised again from where it was: cb counts a panic
					// going through it without asking the classifier.
					assert.Zero(t, seenStatus, "the breaker's classifier was asked")
				} else {
					assert.Equal(t, http.StatusOK, seenStatus, "what net/http reports for a handler that wrote nothing")
				}
			} else {
				serve()
				assert.Equal(t, tc.status, seen.Status)
				assert.Equal(t, tc.status, seenStatus)
			}
			assert.Same(t, req, seen.Request)
			assert.Equal(t, tc.panicV, seen.Panic)
			assert.EqualValues(t, 1, tc.outcome(b.Metrics()))
			if tc.errIs != nil {
				require.ErrorIs(t, seenErr, tc.errIs)
			}
			if tc.verdict != cb.Success && tc.panicV == nil {
				var se *cbhttp.StatusError
				if tc.verdict != cb.Ignored {
					require.ErrorAs(t, seenErr, &se)
					assert.Equal(t, tc.status, se.Code)
					assert.NoError(t, se.Err)
				}
			}
		})
	}
}

// DefaultClassifyServed is Middleware's own judgement: ClassifyServed
// with it counts as Middleware without it does.
func TestDefaultClassifyServed(t *testing.T) {
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	live := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/", http.NoBody)
	gone := httptest.NewRequestWithContext(cancelled, http.MethodGet, "/", http.NoBody)
	for _, tc := range []struct {
		name string
		s    cbhttp.Served
		want cb.Outcome
	}{
		{"200", cbhttp.Served{Request: live, Status: 200}, cb.Success},
		{"404", cbhttp.Served{Request: live, Status: 404}, cb.Success},
		{"429", cbhttp.Served{Request: live, Status: 429}, cb.Success},
		{"500", cbhttp.Served{Request: live, Status: 500}, cb.Failure},
		{"503 client gone", cbhttp.Served{Request: gone, Status: 503}, cb.Ignored},
		{"panic", cbhttp.Served{Request: live, Panic: "bug"}, cb.Failure},
		{"panic client gone", cbhttp.Served{Request: gone, Panic: "bug"}, cb.Failure},
		{"abort", cbhttp.Served{Request: live, Panic: http.ErrAbortHandler}, cb.Failure},
		{"abort client gone", cbhttp.Served{Request: gone, Panic: http.ErrAbortHandler}, cb.Ignored},
		{"no request", cbhttp.Served{Status: 502}, cb.Failure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, cbhttp.DefaultClassifyServed(tc.s))

			// Through Middleware, with and without the option.
			if tc.s.Request == nil {
				return
			}
			for _, opts := range [][]cbhttp.MiddlewareOption{nil, {cbhttp.ClassifyServed(cbhttp.DefaultClassifyServed)}} {
				b := cb.MustNew[int]("api", guardConfig(cbtest.NewClock()))
				h := cbhttp.Middleware(b, opts...)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					if tc.s.Panic != nil {
						panic(tc.s.Panic)
					}
					w.WriteHeader(tc.s.Status)
				}))
				func() {
					defer func() { _ = recover() }()
					h.ServeHTTP(httptest.NewRecorder(), tc.s.Request)
				}()
				m := b.Metrics()
				got := map[cb.Outcome]uint64{cb.Success: m.Successes, cb.Failure: m.TotalFailures, cb.Ignored: m.TotalIgnored}
				assert.EqualValues(t, 1, got[tc.want], "with %d options: %+v", len(opts), m)
			}
		})
	}
}

// crashingHandler panics, to be found by name in a panic's stack.
func crashingHandler(http.ResponseWriter, *http.Request) { panic("crash") }

// stackOfPanic serves a request through h and returns the stack as a
// recovering caller sees it, which is what net/http prints.
func stackOfPanic(h http.Handler) (stack string) {
	defer func() {
		if recover() != nil {
			stack = string(debug.Stack())
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", http.NoBody))
	return ""
}

// A panic judged a failure goes on from where it was raised, so its stack
// shows the handler; one judged otherwise is raised again from Middleware.
func TestClassifyServedPanicStack(t *testing.T) {
	for _, tc := range []struct {
		verdict cb.Outcome
		shows   bool
	}{{cb.Failure, true}, {cb.Ignored, false}, {cb.Success, false}} {
		b := cb.MustNew[int]("api", guardConfig(cbtest.NewClock()))
		h := cbhttp.Middleware(b, cbhttp.ClassifyServed(func(cbhttp.Served) cb.Outcome { return tc.verdict }))(http.HandlerFunc(crashingHandler))
		stack := stackOfPanic(h)
		require.NotEmpty(t, stack, "%v: the panic did not go on", tc.verdict)
		assert.Equal(t, tc.shows, strings.Contains(stack, "crashingHandler"), "%v:\n%s", tc.verdict, stack)
	}
	// Without the option, as with a failure.
	b := cb.MustNew[int]("api", guardConfig(cbtest.NewClock()))
	assert.Contains(t, stackOfPanic(cbhttp.Middleware(b)(http.HandlerFunc(crashingHandler))), "crashingHandler")
}
