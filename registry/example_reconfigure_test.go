package registry_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/presets"
	"github.com/tripswitch/tripswitch/registry"
)

// A service that watches a file of breaker configs applies each change
// with Reconfigure. Here the file puts the payments breaker in shadow
// mode with a stricter rule, to see what it would do before it may
// reject a call, and shortens the users database's open time.
func ExampleRegistry_Reconfigure() {
	clk := cbtest.NewClock() // production code leaves Clock nil
	r := registry.New()
	// A file holds values; the funcs come from code.
	withCode := func(cfg cb.Config) cb.Config {
		cfg.Clock = clk
		cfg.OnStateChange = func(tr cb.Transition) {
			fmt.Printf("  event: %s %s -> %s (%s)\n", tr.Name, tr.From, tr.To, tr.Reason)
		}
		return cfg
	}
	payments, err := registry.Get[string](r, "payments", withCode(presets.API()))
	if err != nil {
		panic(err)
	}
	users, err := registry.Get[int](r, "users-db", withCode(presets.Database()))
	if err != nil {
		panic(err)
	}

	file := []byte(`{
		"payments": {"preset": "api", "consecutive_failures": 2, "shadow": true},
		"users-db": {"preset": "database", "open_timeout": "5s"}
	}`)
	var configs map[string]json.RawMessage
	if err := json.Unmarshal(file, &configs); err != nil {
		panic(err)
	}
	for _, name := range slices.Sorted(maps.Keys(configs)) {
		cfg, err := presets.FromJSON(configs[name])
		if err != nil {
			panic(err)
		}
		if err := r.Reconfigure(name, withCode(cfg)); err != nil {
			panic(err)
		}
	}

	// In shadow, payments trips as it would enforcing, and runs every
	// call all the same.
	for range 3 {
		_, res := payments.Execute(func() (string, error) { return "", errors.New("502 bad gateway") })
		fmt.Println("payments:", res.Outcome, res.Err, "would reject:", res.WouldReject)
	}
	m := payments.Metrics()
	fmt.Println("payments:", m.State, "shadow:", m.Shadow, "would have rejected:", m.TotalRejected)

	for range 2 {
		users.Execute(func() (int, error) { return 0, errors.New("connection refused") })
	}
	fmt.Println("users-db: retry after", users.Metrics().RetryAfter)
	// Output:
	//   event: payments closed -> closed (shadow on)
	// payments: failure 502 bad gateway would reject: false
	//   event: payments closed -> open (consecutive failures)
	// payments: failure 502 bad gateway would reject: false
	// payments: failure 502 bad gateway would reject: true
	// payments: open shadow: true would have rejected: 1
	//   event: users-db closed -> open (consecutive failures)
	// users-db: retry after 5s
}
