package cbhttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
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

// tripConfig trips after three failures in a row and probes after 30s on
// clk; two probe successes close it.
func tripConfig(clk *cbtest.Clock) cb.Config {
	return cb.Config{
		Clock:               clk,
		ConsecutiveFailures: 3,
		OpenTimeout:         30 * time.Second,
		SuccessThreshold:    2,
	}
}

// metrics returns the metrics of the breaker named key in reg.
func metrics(t *testing.T, reg *registry.Registry, key string) cb.Metrics {
	t.Helper()
	c, ok := reg.Lookup(key)
	require.True(t, ok, "no breaker %q; have %v", key, reg.Names())
	return c.Metrics()
}

// requireRejected requires r to be a rejection by the breaker named name
// in state.
func requireRejected(t *testing.T, r result, name string, state cb.State) {
	t.Helper()
	require.ErrorIs(t, r.err, cb.ErrOpen)
	var oe *cb.OpenError
	require.ErrorAs(t, r.err, &oe)
	assert.Equal(t, name, oe.Name)
	assert.Equal(t, state, oe.State)
}

func TestTransportTripsOn5xxAndRejectsWithoutReachingServer(t *testing.T) {
	srv := newServer(t, http.StatusInternalServerError)
	tr := &cbhttp.Transport{Base: newBase(t), Config: tripConfig(cbtest.NewClock())}

	for i := range 3 {
		r := get(t, tr, srv.URL)
		require.NoError(t, r.err, "request %d", i)
		// A failure's response reaches the caller intact.
		assert.Equal(t, http.StatusInternalServerError, r.status)
		assert.Equal(t, "status 500", r.body)
	}
	require.EqualValues(t, 3, srv.hits.Load())
	m := metrics(t, tr.Breakers(), srv.host())
	require.Equal(t, cb.Open, m.State)
	assert.EqualValues(t, 3, m.TotalFailures)

	// Through an http.Client too: the error is wrapped in a *url.Error,
	// and still matches.
	client := &http.Client{Transport: tr}
	for range 5 {
		resp, err := client.Do(newRequest(t, http.MethodGet, srv.URL, nil))
		if resp != nil {
			_ = resp.Body.Close()
		}
		require.ErrorIs(t, err, cb.ErrOpen)
		require.Nil(t, resp)
		requireRejected(t, result{err: err}, srv.host(), cb.Open)
		var oe *cb.OpenError
		require.ErrorAs(t, err, &oe)
		assert.Equal(t, 30*time.Second, oe.RetryAfter(), "when to retry, through the client's error")
	}
	assert.EqualValues(t, 3, srv.hits.Load(), "a rejected request reached the server")
	m = metrics(t, tr.Breakers(), srv.host())
	assert.EqualValues(t, 5, m.TotalRejected)
	assert.Equal(t, 30*time.Second, m.RetryAfter)
}

func TestTransportHalfOpenProbeAndRecovery(t *testing.T) {
	clk := cbtest.NewClock()
	srv := newServer(t, http.StatusBadGateway)
	tr := &cbhttp.Transport{Base: newBase(t), Config: tripConfig(clk)}
	for range 3 {
		get(t, tr, srv.URL)
	}
	require.Equal(t, cb.Open, metrics(t, tr.Breakers(), srv.host()).State)

	clk.Advance(30*time.Second - time.Nanosecond)
	requireRejected(t, get(t, tr, srv.URL), srv.host(), cb.Open)
	require.EqualValues(t, 3, srv.hits.Load())

	// A failed probe opens it again.
	clk.Advance(time.Nanosecond)
	r := get(t, tr, srv.URL)
	require.NoError(t, r.err)
	assert.Equal(t, http.StatusBadGateway, r.status)
	require.Equal(t, cb.Open, metrics(t, tr.Breakers(), srv.host()).State)
	requireRejected(t, get(t, tr, srv.URL), srv.host(), cb.Open)
	require.EqualValues(t, 4, srv.hits.Load())

	// The host recovers: two probes close the breaker.
	srv.status.Store(http.StatusOK)
	clk.Advance(30 * time.Second)
	assert.Equal(t, http.StatusOK, get(t, tr, srv.URL).status)
	assert.Equal(t, cb.HalfOpen, metrics(t, tr.Breakers(), srv.host()).State)
	assert.Equal(t, http.StatusOK, get(t, tr, srv.URL).status)
	m := metrics(t, tr.Breakers(), srv.host())
	assert.Equal(t, cb.Closed, m.State)
	assert.EqualValues(t, 6, srv.hits.Load())
	assert.EqualValues(t, 2, m.TotalRejected)
}

// While a probe is in flight, the other requests are rejected without
// reaching the host.
func TestTransportHalfOpenAdmitsOnlyItsProbes(t *testing.T) {
	clk := cbtest.NewClock()
	entered, release := make(chan struct{}), make(chan struct{})
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if hits.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		close(entered)
		<-release
	}))
	defer srv.Close()
	cfg := cb.Config{Clock: clk, ConsecutiveFailures: 1, OpenTimeout: time.Second, SuccessThreshold: 1}
	tr := &cbhttp.Transport{Base: newBase(t), Config: cfg}
	host := strings.TrimPrefix(srv.URL, "http://")

	require.Equal(t, http.StatusServiceUnavailable, get(t, tr, srv.URL).status)
	clk.Advance(time.Second)

	type answer struct {
		r     result
		fault error
	}
	probe := make(chan answer)
	req := newRequest(t, http.MethodGet, srv.URL, nil)
	go func() {
		r, err := exchange(tr, req)
		probe <- answer{r, err}
	}()
	<-entered
	for range 3 {
		requireRejected(t, get(t, tr, srv.URL), host, cb.HalfOpen)
	}
	assert.EqualValues(t, 2, hits.Load())
	close(release)
	p := <-probe
	require.NoError(t, p.fault)
	require.Equal(t, http.StatusOK, p.r.status)

	m := metrics(t, tr.Breakers(), host)
	assert.Equal(t, cb.Closed, m.State)
	assert.EqualValues(t, 3, m.TotalRejected)
}

func TestTransportPerHostIsolation(t *testing.T) {
	down, up := newServer(t, http.StatusServiceUnavailable), newServer(t, http.StatusOK)
	reg := registry.New()
	tr := &cbhttp.Transport{Base: newBase(t), Registry: reg, Config: tripConfig(cbtest.NewClock())}

	for range 3 {
		get(t, tr, down.URL)
		assert.Equal(t, http.StatusOK, get(t, tr, up.URL).status)
	}
	requireRejected(t, get(t, tr, down.URL), down.host(), cb.Open)
	for range 3 {
		assert.Equal(t, http.StatusOK, get(t, tr, up.URL).status)
	}

	assert.Same(t, reg, tr.Breakers())
	assert.ElementsMatch(t, []string{down.host(), up.host()}, reg.Names())
	assert.Equal(t, []string{down.host()}, reg.OpenCircuits())
	assert.EqualValues(t, 6, metrics(t, reg, up.host()).TotalCalls)
	assert.EqualValues(t, 3, down.hits.Load())
	assert.EqualValues(t, 6, up.hits.Load())
}

func TestTransportClassifiesStatuses(t *testing.T) {
	srv := newServer(t, http.StatusOK)
	for _, tc := range []struct {
		status  int
		failure bool
	}{
		{http.StatusOK, false},
		{http.StatusNoContent, false},
		{http.StatusMovedPermanently, false},
		{http.StatusNotModified, false},
		{http.StatusBadRequest, false},
		{http.StatusNotFound, false},
		{http.StatusConflict, false},
		{499, false},
		{http.StatusTooManyRequests, true},
		{http.StatusInternalServerError, true},
		{http.StatusNotImplemented, true},
		{http.StatusServiceUnavailable, true},
		{599, true},
	} {
		srv.status.Store(int64(tc.status))
		tr := &cbhttp.Transport{Base: newBase(t), Config: tripConfig(cbtest.NewClock())}
		r := get(t, tr, srv.URL)
		require.NoError(t, r.err)
		require.Equal(t, tc.status, r.status)
		m := metrics(t, tr.Breakers(), srv.host())
		if tc.failure {
			assert.EqualValues(t, 1, m.TotalFailures, "status %d", tc.status)
		} else {
			assert.EqualValues(t, 1, m.Successes, "status %d", tc.status)
			assert.Zero(t, m.TotalFailures, "status %d", tc.status)
		}
	}
}

// 429 trips the breaker like a 5xx, and the caller still gets the
// server's answer, Retry-After included.
func TestTransportTooManyRequests(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "120")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	}))
	defer srv.Close()
	tr := &cbhttp.Transport{Base: newBase(t), Config: tripConfig(cbtest.NewClock())}
	host := strings.TrimPrefix(srv.URL, "http://")

	for range 3 {
		resp, err := tr.RoundTrip(newRequest(t, http.MethodGet, srv.URL, nil))
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
		assert.Equal(t, "120", resp.Header.Get("Retry-After"))
		assert.Equal(t, "slow down\n", string(body))
	}
	requireRejected(t, get(t, tr, srv.URL), host, cb.Open)
}

// Every body opened is closed exactly once: request bodies by the base
// transport, or by the Transport when the request never reaches it;
// response bodies by the caller, who gets those of failures intact.
func TestTransportBodies(t *testing.T) {
	var reqBodies, respBodies ledger
	srv := newServer(t, http.StatusInternalServerError)
	reg := registry.New()
	cfg := tripConfig(cbtest.NewClock())
	cfg.ConsecutiveFailures = 1
	tr := &cbhttp.Transport{Base: countingTransport(newBase(t), &respBodies), Registry: reg, Config: cfg}
	post := func(ctx context.Context, name string) (*http.Request, *countedBody) {
		body := reqBodies.wrap(name, io.NopCloser(strings.NewReader("payload")))
		return newRequest(t, http.MethodPost, srv.URL, body).WithContext(ctx), body
	}

	req, _ := post(t.Context(), "admitted")
	r := send(t, tr, req)
	require.NoError(t, r.err)
	assert.Equal(t, "status 500", r.body)
	assert.Equal(t, 1, respBodies.count())

	// Rejected: the Transport closes the request body itself, at once.
	for range 3 {
		req, body := post(t.Context(), "rejected")
		requireRejected(t, send(t, tr, req), srv.host(), cb.Open)
		assert.EqualValues(t, 1, body.closes.Load())
	}

	// A context already done: refused before admission.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	req, body := post(ctx, "cancelled")
	r = send(t, tr, req)
	require.ErrorIs(t, r.err, context.Canceled)
	assert.EqualValues(t, 1, body.closes.Load())

	// No breaker to be had: a breaker of another type holds the name.
	other := newServer(t, http.StatusOK)
	_, err := registry.Get[int](reg, other.host(), cb.Config{})
	require.NoError(t, err)
	body = reqBodies.wrap("mismatch", io.NopCloser(strings.NewReader("payload")))
	r = send(t, tr, newRequest(t, http.MethodPost, other.URL, body))
	require.ErrorIs(t, r.err, registry.ErrTypeMismatch)
	assert.EqualValues(t, 1, body.closes.Load())

	assert.EqualValues(t, 1, srv.hits.Load())
	assert.Zero(t, other.hits.Load())
	assert.Equal(t, 1, respBodies.count(), "a response body was opened for a request that was not sent")
	assert.Equal(t, 6, reqBodies.count())
	reqBodies.requireClosedOnce(t)
	respBodies.requireClosedOnce(t)
}

// A Classify that panics counts as a failure, and the response it was
// looking at is closed, since the caller never gets it.
func TestTransportClassifyPanicClosesResponse(t *testing.T) {
	var respBodies ledger
	srv := newServer(t, http.StatusOK)
	tr := &cbhttp.Transport{
		Base:     countingTransport(newBase(t), &respBodies),
		Config:   tripConfig(cbtest.NewClock()),
		Classify: func(*http.Response, error) cb.Outcome { panic("classify bug") },
	}
	require.PanicsWithValue(t, "classify bug", func() {
		resp, err := tr.RoundTrip(newRequest(t, http.MethodGet, srv.URL, nil))
		if err == nil {
			_ = resp.Body.Close()
		}
	})
	assert.Equal(t, 1, respBodies.count())
	respBodies.requireClosedOnce(t)
	assert.EqualValues(t, 1, metrics(t, tr.Breakers(), srv.host()).TotalFailures)
}

func TestTransportCustomClassifier(t *testing.T) {
	srv := newServer(t, http.StatusOK)
	var seen atomic.Int64
	tr := &cbhttp.Transport{
		Base:   newBase(t),
		Config: tripConfig(cbtest.NewClock()),
		// This API always has the resource: a 404 means it is broken. A
		// 503 is planned maintenance, held against no one.
		Classify: func(resp *http.Response, err error) cb.Outcome {
			seen.Add(1)
			if err == nil {
				switch resp.StatusCode {
				case http.StatusNotFound:
					return cb.Failure
				case http.StatusServiceUnavailable:
					return cb.Ignored
				case http.StatusTeapot:
					return cb.Rejected // counts as a failure
				}
			}
			return cbhttp.DefaultClassify(resp, err)
		},
	}
	for _, status := range []int{http.StatusNotFound, http.StatusServiceUnavailable, http.StatusServiceUnavailable, http.StatusOK, http.StatusTeapot} {
		srv.status.Store(int64(status))
		r := get(t, tr, srv.URL)
		require.NoError(t, r.err)
		// Classify did not consume the body.
		assert.Equal(t, "status "+strconv.Itoa(status), r.body)
	}
	m := metrics(t, tr.Breakers(), srv.host())
	assert.EqualValues(t, 5, seen.Load())
	assert.EqualValues(t, 2, m.TotalFailures)
	assert.EqualValues(t, 2, m.TotalIgnored)
	assert.EqualValues(t, 3, m.TotalCalls)
}

func TestTransportContext(t *testing.T) {
	t.Run("already cancelled", func(t *testing.T) {
		srv := newServer(t, http.StatusOK)
		tr := &cbhttp.Transport{Base: newBase(t), Config: tripConfig(cbtest.NewClock())}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		r := send(t, tr, newRequest(t, http.MethodGet, srv.URL, nil).WithContext(ctx))
		require.ErrorIs(t, r.err, context.Canceled)
		assert.Zero(t, srv.hits.Load())
		m := metrics(t, tr.Breakers(), srv.host())
		assert.EqualValues(t, 1, m.TotalIgnored)
		assert.Zero(t, m.TotalCalls)
	})

	t.Run("cancelled in flight", func(t *testing.T) {
		entered := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			close(entered)
			<-r.Context().Done() // the client hangs up
		}))
		defer srv.Close()
		clk := cbtest.NewClock()
		cfg := tripConfig(clk)
		cfg.ConsecutiveFailures = 1
		tr := &cbhttp.Transport{Base: newBase(t), Config: cfg}
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			<-entered
			cancel()
		}()
		r := send(t, tr, newRequest(t, http.MethodGet, srv.URL, nil).WithContext(ctx))
		require.ErrorIs(t, r.err, context.Canceled)
		m := metrics(t, tr.Breakers(), strings.TrimPrefix(srv.URL, "http://"))
		assert.Equal(t, cb.Closed, m.State)
		assert.EqualValues(t, 1, m.TotalIgnored)
		assert.Zero(t, m.TotalFailures)
	})

	t.Run("deadline exceeded is a failure", func(t *testing.T) {
		tr := &cbhttp.Transport{
			Base:   roundTripperFunc(func(*http.Request) (*http.Response, error) { return nil, context.DeadlineExceeded }),
			Config: tripConfig(cbtest.NewClock()),
		}
		r := get(t, tr, "http://slow.example/")
		require.ErrorIs(t, r.err, context.DeadlineExceeded)
		assert.EqualValues(t, 1, metrics(t, tr.Breakers(), "slow.example").TotalFailures)
	})
}

// With Classify nil, Config's IsIgnored and IsFailure classify the errors
// of the base transport, as cb would.
func TestTransportConfigClassifiesErrors(t *testing.T) {
	errMaintenance := errors.New("host in maintenance")
	errBadInput := errors.New("bad input")
	var next error
	cfg := tripConfig(cbtest.NewClock())
	cfg.IsIgnored = func(err error) bool { return errors.Is(err, errMaintenance) }
	cfg.IsFailure = func(err error) bool { return !errors.Is(err, errBadInput) }
	tr := &cbhttp.Transport{
		Base:   roundTripperFunc(func(*http.Request) (*http.Response, error) { return nil, next }),
		Config: cfg,
	}
	for _, err := range []error{errMaintenance, errBadInput, context.Canceled, errors.New("reset")} {
		next = err
		require.ErrorIs(t, get(t, tr, "http://db.example/").err, err)
	}
	m := metrics(t, tr.Breakers(), "db.example")
	assert.EqualValues(t, 1, m.TotalIgnored, "maintenance")
	assert.EqualValues(t, 1, m.Successes, "bad input")
	// context.Canceled is not ignored by this IsIgnored: a failure, with
	// the reset.
	assert.EqualValues(t, 2, m.TotalFailures)
}

func TestTransportPanicInBase(t *testing.T) {
	tr := &cbhttp.Transport{
		Base:   roundTripperFunc(func(*http.Request) (*http.Response, error) { panic("transport bug") }),
		Config: tripConfig(cbtest.NewClock()),
	}
	for range 3 {
		require.PanicsWithValue(t, "transport bug", func() { get(t, tr, "http://buggy.example/") })
	}
	m := metrics(t, tr.Breakers(), "buggy.example")
	assert.EqualValues(t, 3, m.TotalFailures)
	assert.Equal(t, cb.Open, m.State)
	requireRejected(t, get(t, tr, "http://buggy.example/"), "buggy.example", cb.Open)
}

func TestTransportKey(t *testing.T) {
	srv := newServer(t, http.StatusInternalServerError)
	tr := &cbhttp.Transport{
		Base:   newBase(t),
		Config: tripConfig(cbtest.NewClock()),
		Key: func(r *http.Request) string {
			if r.URL.Path == "/healthz" {
				return "" // exempt
			}
			return "inventory"
		},
	}
	for range 3 {
		get(t, tr, srv.URL+"/items")
	}
	requireRejected(t, get(t, tr, srv.URL+"/items"), "inventory", cb.Open)
	// Exempt requests go through whatever the breaker's state.
	assert.Equal(t, http.StatusInternalServerError, get(t, tr, srv.URL+"/healthz").status)
	assert.Equal(t, []string{"inventory"}, tr.Breakers().Names())
	assert.EqualValues(t, 4, srv.hits.Load())
}

// A zero Transport uses http.DefaultTransport and a registry of its own.
func TestTransportZero(t *testing.T) {
	srv := newServer(t, http.StatusOK)
	var tr, other cbhttp.Transport
	t.Cleanup(tr.CloseIdleConnections)
	assert.Equal(t, http.StatusOK, get(t, &tr, srv.URL).status)
	require.NotNil(t, tr.Breakers())
	first := tr.Breakers()
	assert.Same(t, first, tr.Breakers(), "the registry is made once")
	assert.NotSame(t, tr.Breakers(), other.Breakers())
	assert.Equal(t, []string{srv.host()}, tr.Breakers().Names())
	assert.Empty(t, other.Breakers().Names())
	assert.Empty(t, registry.Default().Names(), "a Transport put a breaker in the default registry")
}

func TestTransportRegistryErrors(t *testing.T) {
	srv := newServer(t, http.StatusOK)

	t.Run("invalid config", func(t *testing.T) {
		tr := &cbhttp.Transport{Base: newBase(t), Config: cb.Config{FailureRateThreshold: 2}}
		r := get(t, tr, srv.URL)
		require.ErrorIs(t, r.err, cb.ErrInvalidConfig)
		assert.Empty(t, tr.Breakers().Names())
	})

	t.Run("config conflict in a shared registry", func(t *testing.T) {
		reg := registry.New()
		clk := cbtest.NewClock()
		a := &cbhttp.Transport{Base: newBase(t), Registry: reg, Config: tripConfig(clk)}
		b := &cbhttp.Transport{Base: newBase(t), Registry: reg, Config: cb.Config{Clock: clk}}
		same := &cbhttp.Transport{Base: newBase(t), Registry: reg, Config: tripConfig(clk)}
		require.NoError(t, get(t, a, srv.URL).err)
		require.ErrorIs(t, get(t, b, srv.URL).err, registry.ErrConfigConflict)
		require.NoError(t, get(t, same, srv.URL).err)
		assert.EqualValues(t, 2, metrics(t, reg, srv.host()).TotalCalls)
	})
	assert.EqualValues(t, 2, srv.hits.Load())
}

// Transports sharing a registry share the breaker of a host, each with
// its own Classify.
func TestTransportSharedRegistry(t *testing.T) {
	srv := newServer(t, http.StatusNotFound)
	reg := registry.New()
	cfg := tripConfig(cbtest.NewClock())
	lenient := &cbhttp.Transport{Base: newBase(t), Registry: reg, Config: cfg}
	strict := &cbhttp.Transport{
		Base: newBase(t), Registry: reg, Config: cfg,
		Classify: func(resp *http.Response, err error) cb.Outcome {
			if err == nil && resp.StatusCode == http.StatusNotFound {
				return cb.Failure
			}
			return cbhttp.DefaultClassify(resp, err)
		},
	}
	get(t, lenient, srv.URL) // makes the breaker
	get(t, strict, srv.URL)
	get(t, lenient, srv.URL)
	m := metrics(t, reg, srv.host())
	assert.EqualValues(t, 2, m.Successes)
	assert.EqualValues(t, 1, m.Failures)
}

// The registry's Handler shows the Transport's breakers, by host.
func TestTransportRegistryHandler(t *testing.T) {
	down, up := newServer(t, http.StatusServiceUnavailable), newServer(t, http.StatusOK)
	reg := registry.New()
	tr := &cbhttp.Transport{Base: newBase(t), Registry: reg, Config: tripConfig(cbtest.NewClock())}
	for range 3 {
		get(t, tr, down.URL)
		get(t, tr, up.URL)
	}
	rep := report(t, reg)
	assert.Equal(t, registry.Health{Total: 2, Closed: 1, Open: 1, HealthyPercent: 50}, rep.Health)
	require.Contains(t, rep.Circuits, down.host())
	require.Contains(t, rep.Circuits, up.host())
	assert.Equal(t, cb.Open, rep.Circuits[down.host()].State)
	assert.EqualValues(t, 3, rep.Circuits[down.host()].TotalFailures)
	assert.Equal(t, cb.Closed, rep.Circuits[up.host()].State)
}

// report fetches reg's Handler and decodes its JSON.
func report(t *testing.T, reg *registry.Registry) registry.Report {
	t.Helper()
	rec := httptest.NewRecorder()
	reg.Handler().ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/debug/breakers", http.NoBody))
	require.Equal(t, http.StatusOK, rec.Code)
	var rep registry.Report
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rep))
	return rep
}
