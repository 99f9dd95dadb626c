package registry_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/atomic"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/registry"
)

// dashGet makes a request of the dashboard through a real server.
func dashGet(t *testing.T, h http.Handler, method, target string) response {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+target, http.NoBody)
	require.NoError(t, err)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// dashData is the part of a ?part=data answer the tests read.
type dashData struct {
	Instance string          `json:"instance"`
	Reset    bool            `json:"reset"`
	Since    int64           `json:"since"`
	Event    uint64          `json:"event"`
	Health   registry.Health `json:"health"`
	Breakers []struct {
		Name              string   `json:"name"`
		State             cb.State `json:"state"`
		Forced            bool     `json:"forced"`
		Rank              int      `json:"rank"`
		FailureRate       float64  `json:"failure_rate"`
		CallsPerSecond    *float64 `json:"calls_per_second"`
		RetryAfterSeconds float64  `json:"retry_after_seconds"`
		Trips             uint64   `json:"trips"`
		Thresholds        struct {
			FailureRate         *float64 `json:"failure_rate"`
			SlowCallRate        *float64 `json:"slow_call_rate"`
			MinimumCalls        int      `json:"minimum_calls"`
			ConsecutiveFailures int      `json:"consecutive_failures"`
		} `json:"thresholds"`
		History     []json.RawMessage `json:"history"`
		Transitions []struct {
			ID     uint64   `json:"id"`
			From   cb.State `json:"from"`
			To     cb.State `json:"to"`
			Reason string   `json:"reason"`
		} `json:"transitions"`
	} `json:"breakers"`
}

func poll(t *testing.T, h http.Handler, query string) dashData {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/?part=data&"+query, http.NoBody))
	require.Equal(t, http.StatusOK, rec.Code)
	var d dashData
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &d), rec.Body.String())
	return d
}

func names(d dashData) []string {
	var ns []string
	for _, b := range d.Breakers {
		ns = append(ns, b.Name)
	}
	return ns
}

const wantCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'; trusted-types 'none'"

func TestDashboardParts(t *testing.T) {
	r := populated(t)
	d := r.Dashboard()
	t.Cleanup(d.Close)
	for _, tc := range []struct{ query, contentType, cache string }{
		{"", "text/html; charset=utf-8", "no-store"},
		{"?part=data", "application/json", "no-store"},
		{"?part=script", "text/javascript; charset=utf-8", "no-cache"},
		{"?part=style", "text/css; charset=utf-8", "no-cache"},
		{"?part=icon", "image/svg+xml", "no-cache"},
	} {
		t.Run("GET "+tc.query, func(t *testing.T) {
			get := dashGet(t, d, http.MethodGet, "/debug/breakers/ui/"+tc.query)
			require.Equal(t, http.StatusOK, get.status)
			assert.Equal(t, tc.contentType, get.header.Get("Content-Type"))
			assert.Equal(t, tc.cache, get.header.Get("Cache-Control"))
			assert.Equal(t, wantCSP, get.header.Get("Content-Security-Policy"))
			assert.Equal(t, "nosniff", get.header.Get("X-Content-Type-Options"))
			assert.Equal(t, "DENY", get.header.Get("X-Frame-Options"))
			assert.Equal(t, "no-referrer", get.header.Get("Referrer-Policy"))
			assert.Equal(t, strconv.Itoa(len(get.body)), get.header.Get("Content-Length"))
			assert.NotEmpty(t, get.body)

			head := dashGet(t, d, http.MethodHead, "/debug/breakers/ui/"+tc.query)
			require.Equal(t, http.StatusOK, head.status)
			assert.Empty(t, head.body)
			assert.Equal(t, tc.contentType, head.header.Get("Content-Type"))
			assert.Equal(t, wantCSP, head.header.Get("Content-Security-Policy"))
			if strings.HasPrefix(tc.query, "?part=s") || tc.query == "?part=icon" {
				assert.Equal(t, strconv.Itoa(len(get.body)), head.header.Get("Content-Length"))
			} else {
				assert.NotEmpty(t, head.header.Get("Content-Length"))
			}
		})
	}
	t.Run("unknown part", func(t *testing.T) {
		resp := dashGet(t, d, http.MethodGet, "/?part=admin")
		assert.Equal(t, http.StatusNotFound, resp.status)
		assert.Equal(t, wantCSP, resp.header.Get("Content-Security-Policy"))
	})
}

func TestDashboardRejectsOtherMethods(t *testing.T) {
	r := populated(t)
	d := r.Dashboard()
	t.Cleanup(d.Close)
	before := r.AllMetrics()
	for _, method := range []string{
		http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions, "PURGE",
	} {
		for _, target := range []string{"/", "/?part=data", "/?part=script"} {
			t.Run(method+" "+target, func(t *testing.T) {
				resp := dashGet(t, d, method, target)
				assert.Equal(t, http.StatusMethodNotAllowed, resp.status)
				assert.Equal(t, "GET, HEAD", resp.header.Get("Allow"))
				assert.Equal(t, wantCSP, resp.header.Get("Content-Security-Policy"))
				assert.Equal(t, "nosniff", resp.header.Get("X-Content-Type-Options"))
			})
		}
	}
	after := r.AllMetrics()
	for name, m := range before {
		assert.Equal(t, m.State, after[name].State, "%s changed state", name)
		assert.Equal(t, m.Generation, after[name].Generation, "%s changed generation", name)
	}
}

// The page as the server renders it: names and the title are text, and
// nothing in it needs 'unsafe-inline' (no inline script, style or event
// handler attribute), which the Content-Security-Policy would block.
func TestDashboardPageEscapesAndHasNothingInline(t *testing.T) {
	r := registry.New()
	clk := cbtest.NewClock()
	for _, n := range []string{hostileName, `"><script>alert(1)</script>`, "a & b", "plain"} {
		_, err := registry.Get[int](r, n, tripConfig(clk))
		require.NoError(t, err)
	}
	d := r.Dashboard(registry.WithDashboardTitle(`<b onmouseover="x()">ops</b>`))
	t.Cleanup(d.Close)
	page := string(dashGet(t, d, http.MethodGet, "/").body)

	assert.Contains(t, page, "&lt;img src=x onerror=alert(1)&gt;")
	assert.Contains(t, page, "&lt;b onmouseover=&#34;x()&#34;&gt;ops&lt;/b&gt;")
	assert.Contains(t, page, "a &amp; b")
	assert.NotContains(t, page, "<img")
	assert.NotContains(t, page, "<b ")
	assert.NotContains(t, page, "<script>alert")
	assert.Regexp(t, `data-name="&#34;&gt;&lt;script&gt;alert\(1\)&lt;/script&gt;"`, page)

	scripts := regexp.MustCompile(`<script\b[^>]*>`).FindAllString(page, -1)
	assert.Equal(t, []string{`<script src="?part=script" defer>`}, scripts, "only the embedded script, by URL")
	// Attribute names, with the values (which hold names) left out.
	bare := regexp.MustCompile(`"[^"]*"`).ReplaceAllString(page, `""`)
	assert.NotRegexp(t, `<[^>]*\sstyle=`, bare, "an inline style attribute")
	assert.NotContains(t, bare, "<style")
	assert.NotRegexp(t, `<[^>]*\son[a-z]+=`, bare, "an event handler attribute")
	for _, part := range []string{"script", "style", "icon"} {
		assert.Contains(t, page, `"?part=`+part+`"`)
	}
}

// The page's script never writes HTML from data: no innerHTML,
// outerHTML, insertAdjacentHTML, document.write or eval-like sink.
func TestDashboardScriptUsesNoHTMLSink(t *testing.T) {
	d := registry.New().Dashboard()
	t.Cleanup(d.Close)
	js := string(dashGet(t, d, http.MethodGet, "/?part=script").body)
	require.Contains(t, js, "textContent")
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute(\"on"} {
		assert.NotContains(t, js, sink)
	}
}

func TestDashboardData(t *testing.T) {
	r := populated(t) // closed-dep, open-dep (one failure), half-dep (forced half-open)
	plain, err := registry.Get[int](r, "plain-dep", cb.Config{Clock: cbtest.NewClock()})
	require.NoError(t, err)
	plain.Execute(ok)
	d := r.Dashboard()
	t.Cleanup(d.Close)

	first := poll(t, d, "")
	assert.True(t, first.Reset, "a page's first poll starts afresh")
	assert.NotEmpty(t, first.Instance)
	assert.Equal(t, r.Health(), first.Health)
	// Unhealthy first, then by name.
	assert.Equal(t, []string{"open-dep", "half-dep", "closed-dep", "plain-dep"}, names(first))
	open := first.Breakers[0]
	assert.Equal(t, cb.Open, open.State)
	assert.Equal(t, 0, open.Rank)
	assert.InDelta(t, 60.0, open.RetryAfterSeconds, 0)
	assert.EqualValues(t, 1, open.Trips)
	assert.Nil(t, open.CallsPerSecond, "no rate from a single reading")
	assert.Len(t, open.History, 1)
	// Thresholds as the registry made each breaker: tripConfig trips on one
	// failure in a row, plain-dep has every default.
	assert.Equal(t, 1, open.Thresholds.ConsecutiveFailures)
	def := first.Breakers[3].Thresholds
	require.NotNil(t, def.FailureRate)
	require.NotNil(t, def.SlowCallRate)
	assert.InDelta(t, cb.DefaultFailureRateThreshold, *def.FailureRate, 0)
	assert.InDelta(t, cb.DefaultSlowCallRateThreshold, *def.SlowCallRate, 0)
	assert.Equal(t, cb.DefaultMinimumCalls, def.MinimumCalls)
	assert.Equal(t, cb.DefaultConsecutiveFailures, def.ConsecutiveFailures)

	// The dashboard was made after the breakers' first transitions: it
	// has none yet. It hears the next ones, and tells each once.
	assert.Zero(t, first.Event)
	c, found := r.Lookup("closed-dep")
	require.True(t, found)
	c.ForceOpen()
	q := fmt.Sprintf("instance=%s&since=%d&event=%d", first.Instance, first.Since, first.Event)
	second := poll(t, d, q)
	assert.False(t, second.Reset)
	assert.EqualValues(t, 1, second.Event)
	assert.Equal(t, []string{"closed-dep", "open-dep", "half-dep", "plain-dep"}, names(second), "a transition shows at the next poll")
	require.Len(t, second.Breakers[0].Transitions, 1)
	tr := second.Breakers[0].Transitions[0]
	assert.Equal(t, cb.Closed, tr.From)
	assert.Equal(t, cb.Open, tr.To)
	assert.Equal(t, "forced open", tr.Reason)
	assert.True(t, second.Breakers[0].Forced)
	for _, b := range second.Breakers {
		assert.Empty(t, b.History, "%s: a point the page has is sent again", b.Name)
	}

	third := poll(t, d, fmt.Sprintf("instance=%s&since=%d&event=%d", second.Instance, second.Since, second.Event))
	for _, b := range third.Breakers {
		assert.Empty(t, b.Transitions, "%s: a transition the page has is sent again", b.Name)
	}

	// A page of another dashboard (a restarted server) starts afresh.
	other := poll(t, d, "instance=elsewhere&since=99999999999999&event=7")
	assert.True(t, other.Reset)
	assert.Len(t, other.Breakers[0].Transitions, 1)
	assert.NotEmpty(t, other.Breakers[0].History)
}

// Polls within half a refresh share one reading of the breakers, so that
// the cost of the dashboard does not grow with the pages open; a
// transition makes the next poll read again.
func TestDashboardPollsShareReadings(t *testing.T) {
	clk := &readCountingClock{Clock: cbtest.NewClock()}
	r := registry.New()
	b, err := registry.Get[int](r, "counted", cb.Config{Clock: clk})
	require.NoError(t, err)
	// A refresh long enough that the polls below fall within half of it
	// on any machine.
	d := r.Dashboard(registry.WithDashboardRefresh(time.Hour), registry.WithDashboardHistory(24*time.Hour))
	t.Cleanup(d.Close)

	pollMany := func() {
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() { poll(t, d, "") })
		}
		wg.Wait()
		dashGet(t, d, http.MethodGet, "/")
	}
	before := clk.reads.Load()
	pollMany()
	assert.EqualValues(t, 1, clk.reads.Load()-before, "each breaker is read once for eleven requests")

	b.ForceOpen()
	before = clk.reads.Load()
	pollMany()
	assert.EqualValues(t, 1, clk.reads.Load()-before, "a transition makes one new reading")
}

type readCountingClock struct {
	*cbtest.Clock
	reads atomic.Int64
}

func (c *readCountingClock) Now() time.Duration {
	c.reads.Inc()
	return c.Clock.Now()
}

// The handler works wherever it is mounted: its page asks for its parts
// by query on its own URL.
func TestDashboardMountsAnywhere(t *testing.T) {
	r := populated(t)
	d := r.Dashboard()
	t.Cleanup(d.Close)
	mux := http.NewServeMux()
	mux.Handle("/exact", d)
	mux.Handle("/sub/tree/", d)
	mux.Handle("/stripped/", http.StripPrefix("/stripped", d))
	for _, path := range []string{"/exact", "/sub/tree/", "/sub/tree/anything", "/stripped/", "/stripped/ui"} {
		page := dashGet(t, mux, http.MethodGet, path)
		assert.Equal(t, http.StatusOK, page.status, path)
		assert.Contains(t, string(page.body), "open-dep", path)
		script := dashGet(t, mux, http.MethodGet, path+"?part=script")
		assert.Equal(t, http.StatusOK, script.status, path)
		assert.Equal(t, "text/javascript; charset=utf-8", script.header.Get("Content-Type"), path)
	}
}

func TestDashboardRendersFiveHundredBreakers(t *testing.T) {
	r := registry.New()
	clk := cbtest.NewClock()
	const n = 500
	for i := range n {
		b, err := registry.Get[int](r, fmt.Sprintf("dep-%03d", i), tripConfig(clk))
		require.NoError(t, err)
		b.Execute(ok)
		if i%100 == 42 {
			b.Execute(fail)
		}
	}
	d := r.Dashboard()
	t.Cleanup(d.Close)

	start := time.Now()
	page := dashGet(t, d, http.MethodGet, "/")
	pageTime := time.Since(start)
	require.Equal(t, http.StatusOK, page.status)
	html := string(page.body)
	assert.Equal(t, n, strings.Count(html, "<tr class="))
	assert.Less(t, strings.Index(html, `data-name="dep-142"`), strings.Index(html, `data-name="dep-000"`), "open breakers first")

	start = time.Now()
	data := poll(t, d, "")
	dataTime := time.Since(start)
	assert.Len(t, data.Breakers, n)
	assert.Equal(t, "dep-042", data.Breakers[0].Name)
	t.Logf("500 breakers: page %v (%d bytes), first poll %v", pageTime, len(page.body), dataTime)
	assert.Less(t, pageTime, 5*time.Second)
	assert.Less(t, dataTime, 5*time.Second)
}

// Clients that come and go, some leaving mid-request, leave no goroutine
// behind: a poll is an ordinary request, and nothing runs between polls.
func TestDashboardClientsLeaveNoGoroutines(t *testing.T) {
	r := populated(t)
	d := r.Dashboard(registry.WithDashboardRefresh(registry.MinDashboardRefresh))
	t.Cleanup(d.Close)
	baseline := runtime.NumGoroutine()

	srv := httptest.NewServer(d)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			client := &http.Client{Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			for j := range 5 {
				ctx, cancel := context.WithCancel(t.Context())
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/?part=data", http.NoBody)
				if !assert.NoError(t, err) {
					cancel()
					return
				}
				if (i+j)%3 == 0 {
					cancel() // gone before the answer
				}
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				cancel()
			}
		})
	}
	wg.Wait()
	srv.Close()

	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > baseline && time.Now().Before(deadline) {
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond) // a bounded wait for readiness, not a timing assertion
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), baseline, "goroutines left after the clients went")
}

func TestDashboardInvalidOptions(t *testing.T) {
	r := registry.New()
	for name, opts := range map[string][]registry.DashboardOption{
		"refresh too short": {registry.WithDashboardRefresh(time.Millisecond)},
		"no history":        {registry.WithDashboardHistory(0)},
		"too many points":   {registry.WithDashboardRefresh(registry.MinDashboardRefresh), registry.WithDashboardHistory(time.Hour)},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				err, isErr := recover().(error)
				require.True(t, isErr, "Dashboard did not panic with an error")
				assert.ErrorIs(t, err, registry.ErrInvalidOption)
			}()
			r.Dashboard(opts...)
		})
	}
	d := r.Dashboard(nil, registry.WithDashboardTitle(""))
	d.Close()
	d.Close()
}

// After Close the dashboard hears no more transitions, and still serves.
func TestDashboardClose(t *testing.T) {
	r := populated(t)
	d := r.Dashboard()
	c, found := r.Lookup("closed-dep")
	require.True(t, found)
	c.ForceOpen()
	d.Close()
	c.Reset()
	data := poll(t, d, "")
	assert.EqualValues(t, 1, data.Event, "a transition after Close was recorded")
	assert.Equal(t, cb.Closed, data.Breakers[len(data.Breakers)-1].State)
}
