package registry_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/registry"
)

// The examples run on a fake clock so that their output is exact; in
// production leave Config.Clock nil.

// Get hands every caller of a name the same breaker, and refuses to hand
// it out as another type or with another config.
func ExampleGet() {
	r := registry.New()
	cfg := cb.Config{ConsecutiveFailures: 2, Clock: cbtest.NewClock()}

	users, err := registry.Get[string](r, "users-db", cfg)
	if err != nil {
		panic(err)
	}
	// Elsewhere, code that only uses the breaker passes a zero Config.
	same, _ := registry.Get[string](r, "users-db", cb.Config{})
	fmt.Println(users == same)

	_, err = registry.Get[int](r, "users-db", cfg)
	fmt.Println(errors.Is(err, registry.ErrTypeMismatch))
	fmt.Println(err)

	_, err = registry.Get[string](r, "users-db", cb.Config{ConsecutiveFailures: 3})
	fmt.Println(errors.Is(err, registry.ErrConfigConflict))
	fmt.Println(err)
	// Output:
	// true
	// true
	// tripswitch: registry: breaker has another result type: "users-db" is a *cb.Breaker[string], not a *cb.Breaker[int]
	// true
	// tripswitch: registry: breaker exists with another config: "users-db" was made with other values of ConsecutiveFailures
}

var errUnavailable = errors.New("503 service unavailable")

// exchangeRate stands for a call to a remote service that is down.
func exchangeRate() (float64, error) { return 0, errUnavailable }

// Wrap guards a function with the breaker named after it, and turns a
// rejection into an error matching cb.ErrOpen.
func ExampleWrap() {
	r := registry.New()
	rate, err := registry.Wrap(r, "", cb.Config{ConsecutiveFailures: 2, Clock: cbtest.NewClock()}, exchangeRate)
	if err != nil {
		panic(err)
	}
	for range 3 {
		_, err := rate()
		fmt.Println(err, errors.Is(err, cb.ErrOpen))
	}
	fmt.Println(r.OpenCircuits())
	// Output:
	// 503 service unavailable false
	// 503 service unavailable false
	// tripswitch: circuit "github.com/tripswitch/tripswitch/registry_test.exchangeRate" is open true
	// [github.com/tripswitch/tripswitch/registry_test.exchangeRate]
}

// Health sums up the registry for a readiness check or a dashboard.
func ExampleRegistry_Health() {
	r := registry.New()
	clk := cbtest.NewClock()
	cfg := cb.Config{ConsecutiveFailures: 1, OpenTimeout: 30 * time.Second, Clock: clk}
	for _, name := range []string{"search", "payments", "inventory", "mail"} {
		if _, err := registry.Get[int](r, name, cfg); err != nil {
			panic(err)
		}
	}
	payments, _ := registry.Get[int](r, "payments", cb.Config{})
	payments.Execute(func() (int, error) { return 0, errors.New("timeout") })

	h := r.Health()
	fmt.Printf("%d breakers, %d open: %.0f%% healthy\n", h.Total, h.Open, h.HealthyPercent)
	fmt.Println("open:", r.OpenCircuits())

	clk.Advance(30 * time.Second) // payments may probe now
	h = r.Health()
	fmt.Printf("%d open, %d half-open: %.0f%% healthy\n", h.Open, h.HalfOpen, h.HealthyPercent)
	// Output:
	// 4 breakers, 1 open: 75% healthy
	// open: [payments]
	// 0 open, 1 half-open: 100% healthy
}

// Handler serves the registry as JSON; mount it on an operators' mux, such
// as http.Handle("/debug/breakers", r.Handler()).
func ExampleRegistry_Handler() {
	r := registry.New()
	search, err := registry.Get[[]string](r, "search", cb.Config{ConsecutiveFailures: 1, Clock: cbtest.NewClock()})
	if err != nil {
		panic(err)
	}
	search.Execute(func() ([]string, error) { return nil, errors.New("timeout") })

	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL, http.NoBody)
	if err != nil {
		panic(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.Status, resp.Header.Get("Content-Type"))

	var rep registry.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		panic(err)
	}
	h, _ := json.Marshal(rep.Health)
	fmt.Println(string(h))
	m := rep.Circuits["search"]
	fmt.Println(m.Name, m.State, m.TotalFailures, m.RetryAfter)
	// Output:
	// 200 OK application/json
	// {"total":1,"closed":0,"open":1,"half_open":0,"healthy_percent":0,"evicted":0,"refused":0}
	// search open 1 1m0s
}

// Var serves the same JSON through expvar. Publish it once, from main:
//
//	expvar.Publish("breakers", registry.Default().Var())
//
// and it appears under "breakers" at /debug/vars.
func ExampleRegistry_Var() {
	r := registry.New()
	if _, err := registry.Get[int](r, "cache", cb.Config{Clock: cbtest.NewClock()}); err != nil {
		panic(err)
	}
	v := r.Var()

	var rep registry.Report
	if err := json.Unmarshal([]byte(v.String()), &rep); err != nil {
		panic(err)
	}
	fmt.Println(rep.Health.Total, rep.Circuits["cache"].State)
	// Output:
	// 1 closed
}

// A registry keyed by names that clients choose (hosts, tenants) is
// bounded, so that made-up names cannot grow it without end. Breakers that
// are idle and healthy make room for new names; failing ones are kept.
func ExampleWithMaxBreakers() {
	clk := cbtest.NewClock()
	r := registry.New(
		registry.WithMaxBreakers(2),
		registry.WithIdleTimeout(10*time.Minute),
		registry.WithClock(clk), // production code leaves the real clock
	)
	cfg := cb.Config{ConsecutiveFailures: 1, Clock: clk}
	a, _ := registry.Get[int](r, "a.example", cfg)
	b, _ := registry.Get[int](r, "b.example", cfg)
	a.Execute(func() (int, error) { return 1, nil })
	b.Execute(func() (int, error) { return 0, errors.New("connection refused") })

	_, err := registry.Get[int](r, "c.example", cfg)
	fmt.Println(errors.Is(err, registry.ErrFull))

	clk.Advance(10 * time.Minute) // a.example is idle and healthy; b.example is open
	_, err = registry.Get[int](r, "c.example", cfg)
	fmt.Println(err, r.Names())
	h := r.Health()
	fmt.Println("evicted:", h.Evicted, "refused:", h.Refused)
	// Output:
	// true
	// <nil> [b.example c.example]
	// evicted: 1 refused: 1
}
