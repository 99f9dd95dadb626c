package cbhttp_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/cbhttp"
	"github.com/tripswitch/tripswitch/registry"
)

// handler answers with the status the test sets and counts its calls.
type handler struct {
	calls  atomic.Int64
	status atomic.Int64
}

func newHandler(status int) *handler {
	h := &handler{}
	h.status.Store(int64(status))
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	h.calls.Add(1)
	code := int(h.status.Load())
	http.Error(w, http.StatusText(code), code)
}

// serveDirect runs h on a recorded request.
func serveDirect(t *testing.T, h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	if r == nil {
		r = httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/", http.NoBody)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// guardConfig trips after two failures in a row and probes after 90s.
func guardConfig(clk *cbtest.Clock) cb.Config {
	return cb.Config{Clock: clk, ConsecutiveFailures: 2, OpenTimeout: 90 * time.Second, SuccessThreshold: 1}
}

func TestMiddlewareTripsAndAnswers503(t *testing.T) {
	clk := cbtest.NewClock()
	reg := registry.New()
	b, err := registry.Get[int](reg, "search", guardConfig(clk))
	require.NoError(t, err)
	h := newHandler(http.StatusInternalServerError)
	srv := httptest.NewServer(cbhttp.Middleware(b)(h))
	defer srv.Close()
	base := newBase(t)

	for range 2 {
		r := get(t, base, srv.URL)
		require.NoError(t, r.err)
		assert.Equal(t, http.StatusInternalServerError, r.status)
		assert.Equal(t, "Internal Server Error\n", r.body)
	}
	require.Equal(t, cb.Open, b.State())

	for range 3 {
		resp, err := base.RoundTrip(newRequest(t, http.MethodGet, srv.URL, nil))
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		assert.Equal(t, "90", resp.Header.Get("Retry-After"))
		assert.Equal(t, "Service Unavailable\n", string(body))
	}
	assert.EqualValues(t, 2, h.calls.Load(), "a rejected request reached the handler")
	m := b.Metrics()
	assert.EqualValues(t, 2, m.TotalFailures)
	assert.EqualValues(t, 3, m.TotalRejected)
}

func TestMiddlewareRetryAfter(t *testing.T) {
	clk := cbtest.NewClock()
	cfg := guardConfig(clk)
	cfg.ConsecutiveFailures = 1
	b := cb.MustNew[int]("api", cfg)
	h := newHandler(http.StatusBadGateway)
	mw := cbhttp.Middleware(b)(h)
	serveDirect(t, mw, nil)
	require.Equal(t, cb.Open, b.State())

	// The time left, in whole seconds, rounded up.
	for _, tc := range []struct {
		at   time.Duration // since the breaker opened
		want string
	}{
		{0, "90"},
		{time.Nanosecond, "90"},                      // 89.999999999s left
		{500 * time.Millisecond, "90"},               // 89.5s left
		{time.Second, "89"},                          // 89s left
		{88*time.Second + 999*time.Millisecond, "2"}, // 1.001s left
		{89 * time.Second, "1"},                      // 1s left
		{89*time.Second + 999*time.Millisecond, "1"}, // 1ms left
		{90*time.Second - time.Nanosecond, "1"},      // 1ns left
	} {
		clk.Set(tc.at)
		rec := serveDirect(t, mw, nil)
		require.Equal(t, http.StatusServiceUnavailable, rec.Code)
		assert.Equal(t, tc.want, rec.Header().Get("Retry-After"), "at %v", tc.at)
	}
	assert.EqualValues(t, 1, h.calls.Load())

	// Forced open: no time left to give, so the minimum.
	b.ForceOpen()
	clk.Advance(time.Hour)
	rec := serveDirect(t, mw, nil)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, "1", rec.Header().Get("Retry-After"))
	assert.EqualValues(t, 1, h.calls.Load())
}

// Half-open with its probe taken, the breaker rejects with no time to
// give: Retry-After is the minimum. The probe then closes it.
func TestMiddlewareHalfOpen(t *testing.T) {
	clk := cbtest.NewClock()
	b := cb.MustNew[int]("api", guardConfig(clk))
	var calls atomic.Int64
	entered, release := make(chan struct{}), make(chan struct{})
	fail := true
	mw := cbhttp.Middleware(b)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		if fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		close(entered)
		<-release
		_, _ = io.WriteString(w, "ok")
	}))
	serveDirect(t, mw, nil)
	serveDirect(t, mw, nil)
	require.Equal(t, cb.Open, b.State())
	fail = false
	clk.Advance(90 * time.Second)

	probe := make(chan *httptest.ResponseRecorder)
	go func() { probe <- serveDirect(t, mw, nil) }()
	<-entered
	rec := serveDirect(t, mw, nil)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, "1", rec.Header().Get("Retry-After"))
	close(release)
	rec = <-probe
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "ok", rec.Body.String())
	assert.Equal(t, cb.Closed, b.State())
	assert.EqualValues(t, 3, calls.Load())
}

func TestMiddlewareRecoveryAndFailedProbe(t *testing.T) {
	clk := cbtest.NewClock()
	cfg := guardConfig(clk)
	cfg.MaxOpenTimeout = 10 * time.Minute
	b := cb.MustNew[int]("api", cfg)
	h := newHandler(http.StatusInternalServerError)
	mw := cbhttp.Middleware(b)(h)
	serveDirect(t, mw, nil)
	serveDirect(t, mw, nil)

	// A failed probe reopens it, for twice as long.
	clk.Advance(90 * time.Second)
	assert.Equal(t, http.StatusInternalServerError, serveDirect(t, mw, nil).Code)
	rec := serveDirect(t, mw, nil)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, "180", rec.Header().Get("Retry-After"))

	h.status.Store(http.StatusNotFound) // a success: the handler judged the request
	clk.Advance(180 * time.Second)
	assert.Equal(t, http.StatusNotFound, serveDirect(t, mw, nil).Code)
	assert.Equal(t, cb.Closed, b.State())
	assert.EqualValues(t, 4, h.calls.Load())
}

func TestMiddlewarePanics(t *testing.T) {
	t.Run("a panic is a failure and goes on", func(t *testing.T) {
		b := cb.MustNew[int]("api", guardConfig(cbtest.NewClock()))
		mw := cbhttp.Middleware(b)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("handler bug") }))
		for range 2 {
			require.PanicsWithValue(t, "handler bug", func() { serveDirect(t, mw, nil) })
		}
		m := b.Metrics()
		assert.EqualValues(t, 2, m.TotalFailures)
		assert.Equal(t, cb.Open, m.State)
		assert.Equal(t, http.StatusServiceUnavailable, serveDirect(t, mw, nil).Code)
	})

	t.Run("an error value goes on unchanged", func(t *testing.T) {
		errBug := errors.New("bug")
		b := cb.MustNew[int]("api", guardConfig(cbtest.NewClock()))
		mw := cbhttp.Middleware(b)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(errBug) }))
		require.PanicsWithError(t, "bug", func() { serveDirect(t, mw, nil) })
		assert.EqualValues(t, 1, b.Metrics().TotalFailures)
	})

	t.Run("abort is a failure", func(t *testing.T) {
		b := cb.MustNew[int]("api", guardConfig(cbtest.NewClock()))
		mw := cbhttp.Middleware(b)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusOK)
			panic(http.ErrAbortHandler) // e.g. the backend broke mid-body
		}))
		require.PanicsWithValue(t, http.ErrAbortHandler, func() { serveDirect(t, mw, nil) })
		m := b.Metrics()
		assert.EqualValues(t, 1, m.TotalFailures)
		assert.Zero(t, m.TotalIgnored)
	})

	t.Run("abort after the client left is ignored", func(t *testing.T) {
		var seen error
		b := cb.MustNew("api", guardConfig(cbtest.NewClock()), cb.WithClassifier(func(_ int, err error) cb.Outcome {
			seen = err
			if errors.Is(err, context.Canceled) {
				return cb.Ignored
			}
			return cb.Failure
		}))
		mw := cbhttp.Middleware(b)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			panic(http.ErrAbortHandler)
		}))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/", http.NoBody)
		require.PanicsWithValue(t, http.ErrAbortHandler, func() { serveDirect(t, mw, r) })
		require.ErrorIs(t, seen, http.ErrAbortHandler)
		require.ErrorIs(t, seen, context.Canceled)

		// And with cb's default classification.
		b = cb.MustNew[int]("api", guardConfig(cbtest.NewClock()))
		mw = cbhttp.Middleware(b)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			panic(http.ErrAbortHandler)
		}))
		require.PanicsWithValue(t, http.ErrAbortHandler, func() { serveDirect(t, mw, r) })
		m := b.Metrics()
		assert.EqualValues(t, 1, m.TotalIgnored)
		assert.Zero(t, m.TotalFailures)
	})

	t.Run("through a server", func(t *testing.T) {
		b := cb.MustNew[int]("api", guardConfig(cbtest.NewClock()))
		srv := httptest.NewUnstartedServer(cbhttp.Middleware(b)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			panic("handler bug")
		})))
		srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the expected panic stack
		srv.Start()
		defer srv.Close()
		base := newBase(t)
		for range 2 {
			require.Error(t, get(t, base, srv.URL).err) // net/http drops the connection
		}
		r := get(t, base, srv.URL)
		require.NoError(t, r.err)
		assert.Equal(t, http.StatusServiceUnavailable, r.status)
		assert.EqualValues(t, 2, b.Metrics().TotalFailures)
	})
}

// What the breaker sees: the status and an error for 5xx, whatever way
// the handler wrote them.
func TestMiddlewareStatus(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		status  int
		failure bool
		check   func(*testing.T, *httptest.ResponseRecorder)
	}{
		{
			name:    "nothing written",
			handler: func(http.ResponseWriter, *http.Request) {},
			status:  http.StatusOK,
		},
		{
			name:    "body only",
			handler: func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hi") },
			status:  http.StatusOK,
		},
		{
			name: "informational first",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusEarlyHints)
				w.WriteHeader(http.StatusBadGateway)
			},
			status:  http.StatusBadGateway,
			failure: true,
		},
		{
			name: "superfluous WriteHeader",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusInternalServerError)
				w.WriteHeader(http.StatusOK)
			},
			status:  http.StatusInternalServerError,
			failure: true,
		},
		{
			name: "written then a 500",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				_, _ = io.WriteString(w, "partial")
				w.WriteHeader(http.StatusInternalServerError)
			},
			status: http.StatusOK, // what the client got
		},
		{
			name:    "429 is the handler working",
			handler: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTooManyRequests) },
			status:  http.StatusTooManyRequests,
		},
		{
			name: "http.Flusher",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				f, ok := w.(http.Flusher)
				if !ok {
					panic("no Flusher")
				}
				f.Flush()
				w.WriteHeader(http.StatusServiceUnavailable) // too late
			},
			status: http.StatusOK,
			check: func(t *testing.T, rec *httptest.ResponseRecorder) {
				assert.True(t, rec.Flushed)
			},
		},
		{
			name: "ResponseController",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusServiceUnavailable)
				if err := http.NewResponseController(w).Flush(); err != nil {
					panic(err)
				}
			},
			status:  http.StatusServiceUnavailable,
			failure: true,
			check: func(t *testing.T, rec *httptest.ResponseRecorder) {
				assert.True(t, rec.Flushed)
			},
		},
		{
			name: "io.Copy",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				_, _ = io.Copy(w, strings.NewReader("copied"))
			},
			status: http.StatusOK,
			check: func(t *testing.T, rec *httptest.ResponseRecorder) {
				assert.Equal(t, "copied", rec.Body.String())
			},
		},
		{
			name: "Hijack unsupported",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				h, ok := w.(http.Hijacker)
				if !ok {
					panic("no Hijacker")
				}
				if _, _, err := h.Hijack(); !errors.Is(err, http.ErrNotSupported) {
					panic("Hijack of a recorder: " + errString(err))
				}
				if _, _, err := http.NewResponseController(w).Hijack(); !errors.Is(err, http.ErrNotSupported) {
					panic("ResponseController.Hijack of a recorder: " + errString(err))
				}
			},
			status: http.StatusOK,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				calls  int
				status int
				seen   error
			)
			b := cb.MustNew("api", cb.Config{Clock: cbtest.NewClock()}, cb.WithClassifier(func(code int, err error) cb.Outcome {
				calls++
				status, seen = code, err
				if err != nil {
					return cb.Failure
				}
				return cb.Success
			}))
			rec := serveDirect(t, cbhttp.Middleware(b)(tc.handler), nil)
			require.Equal(t, 1, calls)
			assert.Equal(t, tc.status, status)
			if tc.failure {
				var se *cbhttp.StatusError
				require.ErrorAs(t, seen, &se)
				assert.Equal(t, tc.status, se.Code)
				assert.NoError(t, se.Err)
				assert.Equal(t, "cbhttp: handler answered "+strconv.Itoa(tc.status)+" "+http.StatusText(tc.status), se.Error())
			} else {
				assert.NoError(t, seen)
			}
			if tc.check != nil {
				tc.check(t, rec)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

// A 5xx answered after the client went away is not held against the
// handler, with cb's default classification.
func TestMiddlewareClientGone(t *testing.T) {
	b := cb.MustNew[int]("api", guardConfig(cbtest.NewClock()))
	h := newHandler(http.StatusInternalServerError)
	mw := cbhttp.Middleware(b)(h)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for range 3 {
		rec := serveDirect(t, mw, httptest.NewRequestWithContext(ctx, http.MethodGet, "/", http.NoBody))
		assert.Equal(t, http.StatusInternalServerError, rec.Code, "the handler runs all the same")
	}
	m := b.Metrics()
	assert.Equal(t, cb.Closed, m.State)
	assert.EqualValues(t, 3, m.TotalIgnored)
	assert.Zero(t, m.TotalFailures)
	assert.EqualValues(t, 3, h.calls.Load())

	// A deadline is another matter: the handler was too slow.
	ctx, cancel = context.WithDeadline(t.Context(), time.Unix(0, 0))
	defer cancel()
	var seen error
	b2 := cb.MustNew("api", guardConfig(cbtest.NewClock()), cb.WithClassifier(func(_ int, err error) cb.Outcome {
		seen = err
		return cb.Failure
	}))
	serveDirect(t, cbhttp.Middleware(b2)(h), httptest.NewRequestWithContext(ctx, http.MethodGet, "/", http.NoBody))
	var se *cbhttp.StatusError
	require.ErrorAs(t, seen, &se)
	assert.ErrorIs(t, se, context.DeadlineExceeded)
	assert.Equal(t, "cbhttp: handler answered 500 Internal Server Error (request context: context deadline exceeded)", se.Error())
	b = cb.MustNew[int]("api", guardConfig(cbtest.NewClock()))
	serveDirect(t, cbhttp.Middleware(b)(h), httptest.NewRequestWithContext(ctx, http.MethodGet, "/", http.NoBody))
	assert.EqualValues(t, 1, b.Metrics().TotalFailures)
}

// The breaker's own classifier decides: here a 429 is a failure too.
func TestMiddlewareCustomClassifier(t *testing.T) {
	b := cb.MustNew("api", guardConfig(cbtest.NewClock()), cb.WithClassifier(func(status int, err error) cb.Outcome {
		if status == http.StatusTooManyRequests || err != nil {
			return cb.Failure
		}
		return cb.Success
	}))
	h := newHandler(http.StatusTooManyRequests)
	mw := cbhttp.Middleware(b)(h)
	serveDirect(t, mw, nil)
	serveDirect(t, mw, nil)
	assert.Equal(t, http.StatusServiceUnavailable, serveDirect(t, mw, nil).Code)
	assert.EqualValues(t, 2, h.calls.Load())
}

// Through a real server, the wrapper keeps what the connection offers:
// flushing, deadlines (through Unwrap) and hijacking.
func TestMiddlewareResponseWriterPassThrough(t *testing.T) {
	b := cb.MustNew[int]("api", guardConfig(cbtest.NewClock()))
	mux := http.NewServeMux()
	mux.HandleFunc("/stream", func(w http.ResponseWriter, _ *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "chunk")
		if err := rc.Flush(); err != nil {
			panic(err)
		}
	})
	mux.HandleFunc("/hijack", func(w http.ResponseWriter, _ *http.Request) {
		h, ok := w.(http.Hijacker)
		if !ok {
			http.Error(w, "no Hijacker", http.StatusInternalServerError)
			return
		}
		conn, rw, err := h.Hijack()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
		_ = rw.Flush()
	})
	// A hijacking handler's client can have its answer before the handler
	// returns: served says when the breaker has counted the request.
	guarded := cbhttp.Middleware(b)(mux)
	served := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		guarded.ServeHTTP(w, r)
		served <- struct{}{}
	}))
	defer srv.Close()
	base := newBase(t)

	r := get(t, base, srv.URL+"/stream")
	<-served
	require.NoError(t, r.err)
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "chunk", r.body)

	r = get(t, base, srv.URL+"/hijack")
	<-served
	require.NoError(t, r.err)
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "hijacked", r.body)

	m := b.Metrics()
	assert.EqualValues(t, 2, m.Successes)
	assert.Zero(t, m.TotalFailures)
}

func TestMiddlewareNilBreaker(t *testing.T) {
	assert.PanicsWithValue(t, "cbhttp: Middleware with a nil breaker", func() { cbhttp.Middleware(nil) })
}

// A client Transport and a server Middleware in one registry: its Handler
// shows both.
func TestRegistryHandlerShowsBoth(t *testing.T) {
	clk := cbtest.NewClock()
	reg := registry.New()
	b, err := registry.Get[int](reg, "orders-handler", guardConfig(clk))
	require.NoError(t, err)
	srv := httptest.NewServer(cbhttp.Middleware(b)(newHandler(http.StatusInternalServerError)))
	defer srv.Close()
	tr := &cbhttp.Transport{Base: newBase(t), Registry: reg, Config: tripConfig(clk)}
	host := strings.TrimPrefix(srv.URL, "http://")

	for range 3 {
		get(t, tr, srv.URL) // two 500s, then the server's 503s
	}
	rep := report(t, reg)
	require.Len(t, rep.Circuits, 2)
	assert.Equal(t, cb.Open, rep.Circuits["orders-handler"].State)
	assert.EqualValues(t, 2, rep.Circuits["orders-handler"].TotalFailures)
	assert.EqualValues(t, 1, rep.Circuits["orders-handler"].TotalRejected)
	assert.Equal(t, cb.Open, rep.Circuits[host].State)
	assert.EqualValues(t, 3, rep.Circuits[host].TotalFailures)
	assert.Equal(t, registry.Health{Total: 2, Open: 2, HealthyPercent: 0}, rep.Health)
}
