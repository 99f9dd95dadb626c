package cbhttp_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/cbhttp"
	"github.com/tripswitch/tripswitch/registry"
)

// The examples run on a fake clock so that their output is exact; in
// production leave Config.Clock nil, and start from a preset such as
// presets.API().

// A client whose requests go through one breaker per host: once the host
// has failed twice, requests fail fast without reaching it.
func ExampleTransport() {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		http.Error(w, "database unavailable", http.StatusServiceUnavailable)
	}))
	defer srv.Close()

	reg := registry.New()
	client := &http.Client{Transport: &cbhttp.Transport{
		Registry: reg,
		Config:   cb.Config{ConsecutiveFailures: 2, OpenTimeout: 30 * time.Second, Clock: cbtest.NewClock()},
	}}
	for range 3 {
		resp, err := client.Get(srv.URL)
		if err != nil {
			fmt.Println("rejected:", errors.Is(err, cb.ErrOpen))
			continue
		}
		// A failure's response is the caller's, to read and close.
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		fmt.Printf("%d %s", resp.StatusCode, body)
	}
	fmt.Println("requests that reached the server:", hits.Load())

	// The breaker is named after the host, in reg: reg.Handler() shows it.
	u, _ := url.Parse(srv.URL)
	c, _ := reg.Lookup(u.Host)
	m := c.Metrics()
	fmt.Println(m.State, m.TotalFailures, m.TotalRejected, m.RetryAfter)
	// Output:
	// 503 database unavailable
	// 503 database unavailable
	// rejected: true
	// requests that reached the server: 2
	// open 2 1 30s
}

// Classify decides what counts against a host. Here a 404 from an API
// that always has the resource is a failure, and 503s during announced
// maintenance are ignored.
func ExampleTransport_classify() {
	status := http.StatusNotFound
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
	}))
	defer srv.Close()

	tr := &cbhttp.Transport{
		Config: cb.Config{Clock: cbtest.NewClock()},
		Key:    func(*http.Request) string { return "catalog" }, // one breaker, named for the service
		Classify: func(resp *http.Response, err error) cb.Outcome {
			switch {
			case err != nil:
			case resp.StatusCode == http.StatusNotFound:
				return cb.Failure
			case resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("X-Maintenance") != "":
				return cb.Ignored
			}
			return cbhttp.DefaultClassify(resp, err)
		},
	}
	client := &http.Client{Transport: tr}
	resp, err := client.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = resp.Body.Close()

	c, _ := tr.Breakers().Lookup("catalog")
	m := c.Metrics()
	fmt.Println(resp.StatusCode, m.Failures, m.Successes)
	// Output:
	// 404 1 0
}

// A handler guarded by a breaker: while it keeps failing, clients get 503
// with Retry-After at once, and the handler is not called; when the open
// time is over, a probe request finds it healthy again.
func ExampleMiddleware() {
	clk := cbtest.NewClock()
	reg := registry.New()
	b, err := registry.Get[int](reg, "reports", cb.Config{
		ConsecutiveFailures: 2, OpenTimeout: 30 * time.Second, SuccessThreshold: 1, Clock: clk,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	var healthy atomic.Bool
	reports := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !healthy.Load() {
			http.Error(w, "report store down", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "3 reports\n")
	})
	srv := httptest.NewServer(cbhttp.Middleware(b)(reports))
	defer srv.Close()

	show := func() {
		resp, err := http.Get(srv.URL)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Printf("%d retry-after=%q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	show()
	show()
	clk.Advance(10 * time.Second)
	show()

	healthy.Store(true)
	clk.Advance(20 * time.Second)
	show()
	fmt.Println(b.State())
	// Output:
	// 500 retry-after="" report store down
	// 500 retry-after="" report store down
	// 503 retry-after="20" Service Unavailable
	// 200 retry-after="" 3 reports
	// closed
}

// Anyone who can make a guarded handler fail can open its breaker. Here a
// page number out of range crashes the handler (a bug, but one any client
// can trigger), so five such requests open a breaker with cb's defaults,
// and every client after them gets 503 for a minute. ClassifyServed
// leaves out what only a client's input brings about: the breaker then
// opens only when the handler's store fails.
func ExampleClassifyServed() {
	pages := []string{"intro", "pricing", "faq"}
	var storeDown atomic.Bool
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if storeDown.Load() {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		n, err := strconv.Atoi(r.URL.Query().Get("page"))
		if err != nil {
			http.Error(w, "bad page", http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, pages[n]) // panics when n is out of range
	})
	validPage := func(r *http.Request) bool {
		n, err := strconv.Atoi(r.URL.Query().Get("page"))
		return err == nil && n >= 0 && n < len(pages)
	}
	classify := func(s cbhttp.Served) cb.Outcome {
		if s.Panic != nil && !validPage(s.Request) {
			return cb.Ignored // the client's input, not the store
		}
		return cbhttp.DefaultClassifyServed(s)
	}
	// A server's usual outermost middleware, turning panics into 500.
	recoverer := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if recover() == nil {
					return
				}
				http.Error(w, "internal error", http.StatusInternalServerError)
			}()
			next.ServeHTTP(w, r)
		})
	}
	get := func(h http.Handler, target string) string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, http.NoBody))
		return strconv.Itoa(rec.Code)
	}
	run := func(opts ...cbhttp.MiddlewareOption) {
		b := cb.MustNew[int]("pages", cb.Config{Clock: cbtest.NewClock()})
		h := recoverer(cbhttp.Middleware(b, opts...)(handler))
		var crafted []string
		for range 5 {
			crafted = append(crafted, get(h, "/?page=9"))
		}
		fmt.Println("crafted:", strings.Join(crafted, " "), "then a good client:", get(h, "/?page=1"))
	}

	run()
	run(cbhttp.ClassifyServed(classify))

	// The store's own failures still open the breaker.
	storeDown.Store(true)
	b := cb.MustNew[int]("pages", cb.Config{Clock: cbtest.NewClock()})
	h := recoverer(cbhttp.Middleware(b, cbhttp.ClassifyServed(classify))(handler))
	for range 5 {
		get(h, "/?page=1")
	}
	fmt.Println(b.State())
	// Output:
	// crafted: 500 500 500 500 500 then a good client: 503
	// crafted: 500 500 500 500 500 then a good client: 200
	// open
}
