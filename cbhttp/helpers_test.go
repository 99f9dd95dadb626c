package cbhttp_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// server is an httptest server answering every request with the status
// the test sets, and counting the requests that reach it.
type server struct {
	*httptest.Server
	hits   atomic.Int64
	status atomic.Int64
}

func newServer(t *testing.T, status int) *server {
	t.Helper()
	s := &server{}
	s.status.Store(int64(status))
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		code := int(s.status.Load())
		w.WriteHeader(code)
		_, _ = fmt.Fprintf(w, "status %d", code)
	}))
	t.Cleanup(s.Close)
	return s
}

// host is the key a Transport gives the server's requests by default.
func (s *server) host() string { return strings.TrimPrefix(s.URL, "http://") }

// newBase returns a fresh base transport, so that tests share no
// connections, closed when the test ends.
func newBase(t *testing.T) *http.Transport {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// roundTripperFunc makes a function a base transport.
type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// result is what a caller got from a request.
type result struct {
	status int
	body   string
	err    error
}

// get sends a GET to url through rt and reads and closes the response.
func get(t *testing.T, rt http.RoundTripper, url string) result {
	t.Helper()
	return send(t, rt, newRequest(t, http.MethodGet, url, nil))
}

// send sends req through rt, reading and closing whatever response comes
// back.
func send(t *testing.T, rt http.RoundTripper, req *http.Request) result {
	t.Helper()
	r, err := exchange(rt, req)
	require.NoError(t, err)
	return r
}

// exchange is send for a goroutine other than the test's, which must not
// call t.FailNow: what would fail the test comes back as the error, for
// the test's goroutine to check. A RoundTrip error is part of the result.
func exchange(rt http.RoundTripper, req *http.Request) (result, error) {
	resp, err := rt.RoundTrip(req)
	if err != nil {
		if resp != nil {
			return result{}, fmt.Errorf("a RoundTrip that fails returns no response, got %d with %w", resp.StatusCode, err)
		}
		return result{err: err}, nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{}, err
	}
	return result{status: resp.StatusCode, body: string(body)}, nil
}

// newRequest makes a request in the test's context; req.WithContext
// changes it.
func newRequest(t *testing.T, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, body)
	require.NoError(t, err)
	return req
}

// ledger hands out counted bodies and checks that each is closed exactly
// once.
type ledger struct {
	mu     sync.Mutex
	bodies []*countedBody
}

// countedBody counts the Close calls of the body it wraps; closed is
// closed by the first.
type countedBody struct {
	io.ReadCloser
	name   string
	closes atomic.Int64
	closed chan struct{}
}

func (b *countedBody) Close() error {
	if b.closes.Add(1) == 1 {
		close(b.closed)
	}
	return b.ReadCloser.Close()
}

func (l *ledger) wrap(name string, rc io.ReadCloser) *countedBody {
	b := &countedBody{ReadCloser: rc, name: name, closed: make(chan struct{})}
	l.mu.Lock()
	l.bodies = append(l.bodies, b)
	l.mu.Unlock()
	return b
}

func (l *ledger) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.bodies)
}

// requireClosedOnce waits for every body to be closed (net/http may close
// a request body from another goroutine after RoundTrip returns), then
// requires that none was closed twice.
func (l *ledger) requireClosedOnce(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	bodies := append([]*countedBody(nil), l.bodies...)
	l.mu.Unlock()
	for _, b := range bodies {
		select {
		case <-b.closed:
		case <-time.After(10 * time.Second):
			require.Failf(t, "body never closed", "%s", b.name)
		}
		require.EqualValues(t, 1, b.closes.Load(), "%s closed more than once", b.name)
	}
}

// countingTransport wraps the body of every response of base in a
// counted body.
func countingTransport(base http.RoundTripper, l *ledger) http.RoundTripper {
	return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := base.RoundTrip(r)
		if resp != nil {
			resp.Body = l.wrap("response to "+r.Method+" "+r.URL.String(), resp.Body)
		}
		return resp, err
	})
}
