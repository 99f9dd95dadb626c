package cbprom_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/cbprom"
	"github.com/tripswitch/tripswitch/registry"
)

// The example runs on a fake clock so that its output is exact; in
// production leave Config.Clock nil, and serve the registry with
// promhttp.HandlerFor (or register the Collector with
// prometheus.MustRegister and serve promhttp.Handler()).
func Example() {
	reg := registry.New()
	users, err := registry.Get[string](reg, "users-db", cb.Config{ConsecutiveFailures: 2, Clock: cbtest.NewClock()})
	if err != nil {
		panic(err)
	}

	metrics := prometheus.NewRegistry()
	metrics.MustRegister(cbprom.New(reg))

	users.Execute(func() (string, error) { return "Ada", nil })
	for range 2 {
		users.Execute(func() (string, error) { return "", errors.New("db down") })
	}
	users.Execute(func() (string, error) { return "Grace", nil }) // rejected: open

	families, err := metrics.Gather()
	if err != nil {
		panic(err)
	}
	var text strings.Builder
	for _, mf := range families {
		if _, err := expfmt.MetricFamilyToText(&text, mf); err != nil {
			panic(err)
		}
	}
	for line := range strings.Lines(text.String()) {
		if strings.HasPrefix(line, "tripswitch_calls_total") ||
			strings.HasPrefix(line, "tripswitch_circuit_state{") ||
			strings.HasPrefix(line, "tripswitch_window_failure_ratio") ||
			strings.HasPrefix(line, `tripswitch_transitions_total{name="users-db",reason="consecutive_failures"`) {
			fmt.Print(line)
		}
	}
	// Output:
	// tripswitch_calls_total{name="users-db",outcome="failure"} 2
	// tripswitch_calls_total{name="users-db",outcome="ignored"} 0
	// tripswitch_calls_total{name="users-db",outcome="rejected"} 1
	// tripswitch_calls_total{name="users-db",outcome="stale"} 0
	// tripswitch_calls_total{name="users-db",outcome="success"} 1
	// tripswitch_circuit_state{name="users-db",state="closed"} 0
	// tripswitch_circuit_state{name="users-db",state="half_open"} 0
	// tripswitch_circuit_state{name="users-db",state="open"} 1
	// tripswitch_transitions_total{name="users-db",reason="consecutive_failures",to="open"} 1
	// tripswitch_window_failure_ratio{name="users-db"} 0.6666666666666666
}
