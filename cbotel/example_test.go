package cbotel_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/cbotel"
	"github.com/tripswitch/tripswitch/registry"
)

// The example collects with a ManualReader and runs on a fake clock so
// that its output is exact; in production the MeterProvider has the
// reader of your exporter (OTLP, Prometheus, ...), and Config.Clock is
// left nil.
func Example() {
	reg := registry.New()
	users, err := registry.Get[string](reg, "users-db", cb.Config{ConsecutiveFailures: 2, Clock: cbtest.NewClock()})
	if err != nil {
		panic(err)
	}

	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = provider.Shutdown(context.Background()) }()
	obs, err := cbotel.New(reg, cbotel.WithMeterProvider(provider))
	if err != nil {
		panic(err)
	}
	defer func() { _ = obs.Close() }()

	users.Execute(func() (string, error) { return "Ada", nil })
	for range 2 {
		users.Execute(func() (string, error) { return "", errors.New("db down") })
	}
	users.Execute(func() (string, error) { return "Grace", nil }) // rejected: open

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		panic(err)
	}
	var lines []string
	for _, m := range rm.ScopeMetrics[0].Metrics {
		switch d := m.Data.(type) {
		case metricdata.Sum[int64]:
			if m.Name != "tripswitch.calls" {
				continue
			}
			for _, p := range d.DataPoints {
				outcome, _ := p.Attributes.Value("outcome")
				lines = append(lines, fmt.Sprintf("%s %s{outcome=%s} %d", m.Name, m.Unit, outcome.AsString(), p.Value))
			}
		case metricdata.Gauge[int64]:
			if m.Name != "tripswitch.circuit.state" {
				continue
			}
			for _, p := range d.DataPoints {
				state, _ := p.Attributes.Value("state")
				lines = append(lines, fmt.Sprintf("%s{state=%s} %d", m.Name, state.AsString(), p.Value))
			}
		case metricdata.Gauge[float64]:
			if m.Name == "tripswitch.window.failure_ratio" {
				lines = append(lines, fmt.Sprintf("%s %s %.3f", m.Name, m.Unit, d.DataPoints[0].Value))
			}
		}
	}
	slices.Sort(lines)
	fmt.Println(strings.Join(lines, "\n"))
	// Output:
	// tripswitch.calls {call}{outcome=failure} 2
	// tripswitch.calls {call}{outcome=ignored} 0
	// tripswitch.calls {call}{outcome=rejected} 1
	// tripswitch.calls {call}{outcome=stale} 0
	// tripswitch.calls {call}{outcome=success} 1
	// tripswitch.circuit.state{state=closed} 0
	// tripswitch.circuit.state{state=half_open} 0
	// tripswitch.circuit.state{state=open} 1
	// tripswitch.window.failure_ratio 1 0.667
}
