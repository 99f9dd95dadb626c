package registry_test

import (
	"encoding/json"
	"expvar"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/atomic"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/registry"
)

// populated returns a registry with one closed, one open and one
// half-open breaker on a fake clock.
func populated(t *testing.T) *registry.Registry {
	t.Helper()
	r := registry.New()
	cfg := tripConfig(cbtest.NewClock())
	closed, err := registry.Get[int](r, "closed-dep", cfg)
	require.NoError(t, err)
	open, err := registry.Get[string](r, "open-dep", cfg)
	require.NoError(t, err)
	half, err := registry.Get[int](r, "half-dep", cfg)
	require.NoError(t, err)

	closed.Execute(ok)
	open.Execute(func() (string, error) { return "", errBoom })
	half.ForceHalfOpen()
	return r
}

// response is what a client of the handler received.
type response struct {
	status int
	header http.Header
	body   []byte
}

// serve makes a request of method to h through a real server.
func serve(t *testing.T, h http.Handler, method string) response {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+"/debug/breakers", http.NoBody)
	require.NoError(t, err)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

func TestHandlerGet(t *testing.T) {
	r := populated(t)
	resp := serve(t, r.Handler(), http.MethodGet)
	require.Equal(t, http.StatusOK, resp.status)
	assert.Equal(t, "application/json", resp.header.Get("Content-Type"))
	assert.Equal(t, "no-store", resp.header.Get("Cache-Control"))
	body := resp.body
	assert.Equal(t, strconv.Itoa(len(body)), resp.header.Get("Content-Length"))

	// The shape, key by key, as a client without this package sees it.
	var raw map[string]map[string]any
	require.NoError(t, json.Unmarshal(body, &raw))
	require.ElementsMatch(t, []string{"health", "circuits"}, keys(raw))
	assert.Equal(t, map[string]any{
		"total": 3.0, "closed": 1.0, "open": 1.0, "half_open": 1.0,
		"healthy_percent": 200.0 / 3, "evicted": 0.0, "refused": 0.0,
	}, raw["health"])
	assert.ElementsMatch(t, []string{"closed-dep", "open-dep", "half-dep"}, keys(raw["circuits"]))
	open, isObject := raw["circuits"]["open-dep"].(map[string]any)
	require.True(t, isObject, "a circuit is a JSON object")
	assert.Equal(t, "open-dep", open["name"])
	assert.Equal(t, "open", open["state"])
	assert.InDelta(t, 1.0, open["total_failures"], 0)
	assert.InDelta(t, 60.0, open["retry_after_seconds"], 0)

	// And as this package's own type.
	var rep registry.Report
	require.NoError(t, json.Unmarshal(body, &rep))
	assert.Equal(t, r.Report(), rep)
	assert.Equal(t, cb.HalfOpen, rep.Circuits["half-dep"].State)
	assert.EqualValues(t, 1, rep.Circuits["closed-dep"].TotalCalls)
}

func TestHandlerGetEmpty(t *testing.T) {
	resp := serve(t, registry.New().Handler(), http.MethodGet)
	require.Equal(t, http.StatusOK, resp.status)
	assert.JSONEq(t,
		`{"health":{"total":0,"closed":0,"open":0,"half_open":0,"healthy_percent":100,"evicted":0,"refused":0},"circuits":{}}`,
		string(resp.body))
}

func TestHandlerHead(t *testing.T) {
	r := populated(t)
	get := httptest.NewRecorder()
	r.Handler().ServeHTTP(get, httptest.NewRequest(http.MethodGet, "/", http.NoBody))

	head := httptest.NewRecorder()
	r.Handler().ServeHTTP(head, httptest.NewRequest(http.MethodHead, "/", http.NoBody))
	assert.Equal(t, http.StatusOK, head.Code)
	assert.Equal(t, "application/json", head.Header().Get("Content-Type"))
	assert.Zero(t, head.Body.Len(), "HEAD wrote a body")
	assert.Equal(t, strconv.Itoa(get.Body.Len()), head.Header().Get("Content-Length"))

	// Through a real server too.
	resp := serve(t, r.Handler(), http.MethodHead)
	assert.Equal(t, http.StatusOK, resp.status)
	assert.Equal(t, "application/json", resp.header.Get("Content-Type"))
	assert.Equal(t, strconv.Itoa(get.Body.Len()), resp.header.Get("Content-Length"))
	assert.Empty(t, resp.body)
}

func TestHandlerRejectsOtherMethods(t *testing.T) {
	r := populated(t)
	for _, method := range []string{
		http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions, "PURGE",
	} {
		t.Run(method, func(t *testing.T) {
			resp := serve(t, r.Handler(), method)
			assert.Equal(t, http.StatusMethodNotAllowed, resp.status)
			assert.Equal(t, "GET, HEAD", resp.header.Get("Allow"))
			assert.NotEqual(t, "application/json", resp.header.Get("Content-Type"))
		})
	}
	// A rejected method changes nothing.
	assert.Equal(t, []string{"open-dep"}, r.OpenCircuits())
}

func TestReportAgreesWithItsParts(t *testing.T) {
	r := populated(t)
	rep := r.Report()
	assert.Equal(t, r.Health(), rep.Health)
	assert.Equal(t, r.AllMetrics(), rep.Circuits)
	assert.Equal(t, registry.Report{Health: registry.Health{HealthyPercent: 100}, Circuits: map[string]cb.Metrics{}},
		registry.New().Report())
}

func TestHealthJSON(t *testing.T) {
	b, err := json.Marshal(registry.Health{Total: 4, Closed: 1, Open: 1, HalfOpen: 2, HealthyPercent: 75, Evicted: 9, Refused: 3})
	require.NoError(t, err)
	assert.JSONEq(t, `{"total":4,"closed":1,"open":1,"half_open":2,"healthy_percent":75,"evicted":9,"refused":3}`, string(b))
}

func TestVar(t *testing.T) {
	r := populated(t)
	v := r.Var()
	require.NotNil(t, v)

	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", http.NoBody))
	assert.JSONEq(t, rec.Body.String(), v.String())

	// Read anew each time.
	c, found := r.Lookup("closed-dep")
	require.True(t, found)
	c.ForceOpen()
	var rep registry.Report
	require.NoError(t, json.Unmarshal([]byte(v.String()), &rep))
	assert.Equal(t, 2, rep.Health.Open)
	assert.True(t, rep.Circuits["closed-dep"].Forced)

	// Published, it shows in expvar's own listing. expvar's names are
	// process-wide and cannot be unpublished, so each run (-count) takes a
	// name of its own.
	name := "registry_test.TestVar." + strconv.FormatInt(varRuns.Inc(), 10)
	expvar.Publish(name, v)
	got := expvar.Get(name)
	require.NotNil(t, got)
	assert.JSONEq(t, v.String(), got.String())
}

var varRuns atomic.Int64

func keys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
