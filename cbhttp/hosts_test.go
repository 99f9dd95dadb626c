package cbhttp_test

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/cbhttp"
	"github.com/tripswitch/tripswitch/registry"
)

func TestHostKey(t *testing.T) {
	for _, tc := range []struct{ url, key string }{
		{"https://example.com/", "example.com"},
		{"https://Example.COM/", "example.com"},
		{"https://example.com:443/", "example.com"},
		{"https://example.com./", "example.com"},
		{"https://EXAMPLE.com.:443/x?y", "example.com"},
		{"https://example.com:/", "example.com"},
		{"HTTPS://example.com:443/", "example.com"},
		{"http://example.com:80/", "example.com"},
		// Another port is another server.
		{"http://example.com:443/", "example.com:443"},
		{"https://example.com:80/", "example.com:80"},
		{"https://Example.com.:8443/", "example.com:8443"},
		{"http://127.0.0.1:8080/", "127.0.0.1:8080"},
		{"http://127.0.0.1:80/", "127.0.0.1"},
		{"http://[::1]:80/", "[::1]"},
		{"http://[::1]/", "[::1]"},
		{"https://[2001:DB8::1]:8443/", "[2001:db8::1]:8443"},
		{"http://[::1]:8080/", "[::1]:8080"},
		{"http://ÉCOLE.example/", "école.example"},
		// Not a scheme with a known default: only case and dot change.
		{"ftp://Files.example.:21/", "files.example:21"},
		{"http://./", "."},
		{"http:///path", ""},
	} {
		u, err := url.Parse(tc.url)
		require.NoError(t, err, tc.url)
		assert.Equal(t, tc.key, cbhttp.HostKey(&http.Request{URL: u}), tc.url)
	}
	assert.Empty(t, cbhttp.HostKey(&http.Request{}), "a request without a URL")
}

// The Transport's request path allocates nothing for a host already
// normalised, which is how most are written.
func TestHostKeyDoesNotAllocateForANormalHost(t *testing.T) {
	req := &http.Request{URL: &url.URL{Scheme: "https", Host: "api.example.com:8443"}}
	var key string
	allocs := testing.AllocsPerRun(100, func() { key = cbhttp.HostKey(req) })
	assert.Zero(t, allocs)
	assert.Equal(t, "api.example.com:8443", key)
}

// okBase answers every request 200 without a network, counting them.
func okBase(n *int) http.RoundTripper {
	return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		*n++
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: r}, nil
	})
}

// One host written five ways is one breaker, and its failures add up.
func TestTransportNormalisesHosts(t *testing.T) {
	var hits int
	tr := &cbhttp.Transport{
		Base: roundTripperFunc(func(r *http.Request) (*http.Response, error) {
			hits++
			return &http.Response{StatusCode: http.StatusServiceUnavailable, Body: http.NoBody, Request: r}, nil
		}),
		Config: cb.Config{Clock: cbtest.NewClock(), ConsecutiveFailures: 5, OpenTimeout: time.Minute},
	}
	for _, u := range []string{
		"https://api.example.com/a",
		"https://API.Example.COM/b",
		"https://api.example.com:443/c",
		"https://api.example.com./d",
		"https://Api.Example.Com.:443/e",
	} {
		r := get(t, tr, u)
		require.NoError(t, r.err, u)
		assert.Equal(t, http.StatusServiceUnavailable, r.status)
	}
	assert.Equal(t, []string{"api.example.com"}, tr.Breakers().Names())
	requireRejected(t, get(t, tr, "https://API.example.com/"), "api.example.com", cb.Open)
	assert.Equal(t, 5, hits)
}

// A Transport with no Registry keeps at most DefaultMaxHosts breakers,
// however many hosts its callers name, evicts idle healthy ones to make
// room, and sends the requests it has no room for without a breaker
// rather than failing them.
func TestTransportDefaultRegistryIsBounded(t *testing.T) {
	// Eviction starts after 7,000 hosts: a full registry waits for its
	// breakers to have been idle ten minutes (6,000 hosts at this rate)
	// after it last saw them in use, when it filled.
	const hosts = 20_000
	clk := cbtest.NewClock()
	var hits int
	tr := &cbhttp.Transport{Base: okBase(&hits), Config: cb.Config{Clock: clk}}
	reg := tr.Breakers()
	for i := range hosts {
		// Every request for a new host, one every 100ms of the clock.
		req := &http.Request{
			Method: http.MethodGet,
			URL:    &url.URL{Scheme: "https", Host: "h" + strconv.Itoa(i) + ".example", Path: "/"},
			Header: http.Header{},
		}
		resp, err := tr.RoundTrip(req.WithContext(t.Context()))
		require.NoError(t, err, "request %d", i)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusOK, resp.StatusCode)
		clk.Advance(100 * time.Millisecond)
		if i%10_000 == 0 {
			require.LessOrEqual(t, reg.Health().Total, cbhttp.DefaultMaxHosts, "after %d hosts", i)
		}
	}
	h := reg.Health()
	t.Logf("%d hosts: %d breakers, %d evicted, %d sent without one", hosts, h.Total, h.Evicted, h.Refused)
	assert.Equal(t, hosts, hits, "every request reached the base transport")
	assert.LessOrEqual(t, h.Total, cbhttp.DefaultMaxHosts)
	assert.Positive(t, h.Evicted)
	assert.Positive(t, h.Refused)
	assert.EqualValues(t, hosts, uint64(h.Total)+h.Evicted+h.Refused)
}

// In a registry full of breakers that cannot go, a request for a new host
// goes through without a breaker; the hosts that have one keep it.
func TestTransportFullRegistrySendsUnguarded(t *testing.T) {
	var reqBodies ledger
	srv := newServer(t, http.StatusInternalServerError)
	clk := cbtest.NewClock()
	reg := registry.New(registry.WithMaxBreakers(1), registry.WithIdleTimeout(time.Minute), registry.WithClock(clk))
	tr := &cbhttp.Transport{Base: newBase(t), Registry: reg, Config: tripConfig(clk)}
	for range 3 {
		get(t, tr, "http://"+srv.host()+"/")
	}
	requireRejected(t, get(t, tr, srv.URL), srv.host(), cb.Open)

	// The same server by another name: a new key, and no room for it.
	other := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	clk.Advance(time.Hour) // the open breaker goes half-open, not away
	for i := range 5 {
		body := reqBodies.wrap("unguarded", io.NopCloser(strings.NewReader("payload")))
		r := send(t, tr, newRequest(t, http.MethodPost, other, body))
		require.NoError(t, r.err, "request %d", i)
		assert.Equal(t, http.StatusInternalServerError, r.status)
	}
	reqBodies.requireClosedOnce(t)
	assert.EqualValues(t, 3+5, srv.hits.Load())
	assert.Equal(t, []string{srv.host()}, reg.Names())
	h := reg.Health()
	assert.EqualValues(t, 5, h.Refused)
	assert.Zero(t, h.Evicted)
	assert.Equal(t, 1, h.HalfOpen)
}

// structClock is a Clock that == cannot compare.
type structClock struct{ now func() time.Duration }

func (c structClock) Now() time.Duration { return c.now() }

// A Transport passes its Config to the registry on every request; a Clock
// Go cannot compare, or funcs, must not make the second request to a host
// conflict with the first.
func TestTransportConfigWithUncomparableClock(t *testing.T) {
	srv := newServer(t, http.StatusOK)
	clk := cbtest.NewClock()
	tr := &cbhttp.Transport{
		Base: newBase(t),
		Config: cb.Config{
			Clock:         structClock{now: clk.Now},
			IsFailure:     func(err error) bool { return err != nil },
			OnStateChange: func(cb.Transition) {},
		},
	}
	for i := range 3 {
		r := get(t, tr, srv.URL)
		require.NoError(t, r.err, "request %d", i)
		assert.Equal(t, http.StatusOK, r.status)
	}
	assert.EqualValues(t, 3, metrics(t, tr.Breakers(), srv.host()).TotalCalls)

	// Two Transports with such Configs share a registry's breaker too.
	reg := registry.New()
	for i := range 2 {
		other := &cbhttp.Transport{Base: newBase(t), Registry: reg, Config: cb.Config{
			Clock:     structClock{now: clk.Now},
			IsIgnored: func(error) bool { return i > 0 },
		}}
		require.NoError(t, get(t, other, srv.URL).err)
	}
	assert.EqualValues(t, 2, metrics(t, reg, srv.host()).TotalCalls)
}
