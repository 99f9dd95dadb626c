package cbotel_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/cbotel"
	"github.com/tripswitch/tripswitch/internal/exporttest"
	"github.com/tripswitch/tripswitch/registry"
)

// instrument is what a collection must show of one instrument: its kind
// ("gauge", "counter" or "updown"), unit and whether its values are
// float64, and per attribute set (written key=value, sorted by key,
// comma-separated) its value.
type instrument struct {
	kind   string
	unit   string
	float  bool
	points map[string]float64
}

// expect restates, from each breaker's Metrics, every instrument and
// observation the package documents.
func expect(t *testing.T, all map[string]cb.Metrics) map[string]*instrument {
	t.Helper()
	require.Len(t, exporttest.ReasonLabels, len(cb.Reasons())-2) // the shadow switches are no transition
	insts := map[string]*instrument{
		"tripswitch.circuit.state":              {kind: "gauge"},
		"tripswitch.circuit.forced":             {kind: "gauge"},
		"tripswitch.circuit.state_age":          {kind: "gauge", unit: "s", float: true},
		"tripswitch.calls":                      {kind: "counter", unit: "{call}"},
		"tripswitch.slow_calls":                 {kind: "counter", unit: "{call}"},
		"tripswitch.transitions":                {kind: "counter", unit: "{transition}"},
		"tripswitch.window.calls":               {kind: "updown", unit: "{call}"},
		"tripswitch.window.failure_ratio":       {kind: "gauge", unit: "1", float: true},
		"tripswitch.window.slow_call_ratio":     {kind: "gauge", unit: "1", float: true},
		"tripswitch.half_open.probes_in_flight": {kind: "updown", unit: "{probe}"},
		"tripswitch.retry_after":                {kind: "gauge", unit: "s", float: true},
	}
	put := func(inst, attrs string, v float64) {
		i := insts[inst]
		if i.points == nil {
			i.points = map[string]float64{}
		}
		i.points[attrs] = v
	}
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	for n, m := range all {
		name := "name=" + n
		for s, w := range exporttest.StateLabels {
			put("tripswitch.circuit.state", name+",state="+w, b2f(m.State == s))
		}
		put("tripswitch.circuit.forced", name, b2f(m.Forced))
		put("tripswitch.circuit.state_age", name, m.StateSince.Seconds())
		put("tripswitch.calls", name+",outcome=success", float64(m.TotalCalls-m.TotalFailures))
		put("tripswitch.calls", name+",outcome=failure", float64(m.TotalFailures))
		put("tripswitch.calls", name+",outcome=ignored", float64(m.TotalIgnored))
		put("tripswitch.calls", name+",outcome=rejected", float64(m.TotalRejected))
		put("tripswitch.calls", name+",outcome=stale", float64(m.TotalStale))
		put("tripswitch.slow_calls", name, float64(m.TotalSlowCalls))
		for r, w := range exporttest.ReasonLabels {
			put("tripswitch.transitions", name+",reason="+w+",to="+exporttest.StateLabels[r.To()], float64(m.Transitions.By(r)))
		}
		put("tripswitch.window.calls", name, float64(m.Calls))
		if m.Calls > 0 {
			put("tripswitch.window.failure_ratio", name, m.FailureRate)
			put("tripswitch.window.slow_call_ratio", name, m.SlowCallRate)
		}
		put("tripswitch.half_open.probes_in_flight", name, float64(m.HalfOpenInFlight))
		put("tripswitch.retry_after", name, m.RetryAfter.Seconds())
	}
	return insts
}

// attrKey writes an attribute set as expect does.
func attrKey(s attribute.Set) string {
	var parts []string
	for _, kv := range s.ToSlice() {
		parts = append(parts, string(kv.Key)+"="+kv.Value.String())
	}
	return strings.Join(parts, ",")
}

// observed turns one instrument's data into what expect describes.
func observed(t *testing.T, m metricdata.Metrics) *instrument {
	t.Helper()
	i := &instrument{unit: m.Unit, points: map[string]float64{}}
	switch d := m.Data.(type) {
	case metricdata.Gauge[int64]:
		i.kind = "gauge"
		for _, p := range d.DataPoints {
			i.points[attrKey(p.Attributes)] = float64(p.Value)
		}
	case metricdata.Gauge[float64]:
		i.kind, i.float = "gauge", true
		for _, p := range d.DataPoints {
			i.points[attrKey(p.Attributes)] = p.Value
		}
	case metricdata.Sum[int64]:
		i.kind = "updown"
		if d.IsMonotonic {
			i.kind = "counter"
		}
		assert.Equal(t, metricdata.CumulativeTemporality, d.Temporality, m.Name)
		for _, p := range d.DataPoints {
			i.points[attrKey(p.Attributes)] = float64(p.Value)
		}
	default:
		t.Errorf("%s: unexpected data %T", m.Name, m.Data)
	}
	return i
}

// collect runs one collection and returns the instruments of the
// package's scope by name, checking that scope.
func collect(t *testing.T, r *sdkmetric.ManualReader) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.Collect(context.Background(), &rm))
	got := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		require.Equal(t, cbotel.ScopeName, sm.Scope.Name, "only the package's scope reports")
		for _, m := range sm.Metrics {
			got[m.Name] = m
		}
	}
	return got
}

// check compares a collection with expect's instruments.
func check(t *testing.T, got map[string]metricdata.Metrics, want map[string]*instrument) {
	t.Helper()
	assert.ElementsMatch(t, slices.Collect(maps.Keys(want)), slices.Collect(maps.Keys(got)), "the instruments")
	for name, w := range want {
		m, ok := got[name]
		if !assert.True(t, ok, name) {
			continue
		}
		assert.NotEmpty(t, m.Description, name)
		o := observed(t, m)
		assert.Equal(t, w.kind, o.kind, name)
		assert.Equal(t, w.unit, o.unit, name)
		assert.Equal(t, w.float, o.float, name)
		assert.ElementsMatch(t, slices.Collect(maps.Keys(w.points)), slices.Collect(maps.Keys(o.points)), "%s: the attribute sets", name)
		for k, v := range w.points {
			if gv, ok := o.points[k]; ok {
				assert.InDelta(t, v, gv, 0, "%s{%s}", name, k)
			}
		}
	}
}

func newReader(t *testing.T) (*sdkmetric.ManualReader, *sdkmetric.MeterProvider) {
	t.Helper()
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	t.Cleanup(func() { assert.NoError(t, mp.Shutdown(context.Background())) })
	return r, mp
}

// A collection shows, instrument by instrument, what each breaker's
// Metrics says after the scripted sequence.
func TestCollectionShowsMetrics(t *testing.T) {
	reg := registry.New()
	clock := cbtest.NewClock()
	exporttest.Script(reg, clock)
	r, mp := newReader(t)
	obs, err := cbotel.New(reg, cbotel.WithMeterProvider(mp))
	require.NoError(t, err)
	defer func() { assert.NoError(t, obs.Close()) }()

	got := collect(t, r)
	check(t, got, expect(t, reg.AllMetrics()))

	point := func(inst, attrs string) float64 {
		v, ok := observed(t, got[inst]).points[attrs]
		require.True(t, ok, "%s{%s}", inst, attrs)
		return v
	}
	users := "name=" + exporttest.Users
	assert.InDelta(t, exporttest.UsersSuccesses, point("tripswitch.calls", users+",outcome=success"), 0)
	assert.InDelta(t, exporttest.UsersStale, point("tripswitch.calls", users+",outcome=stale"), 0)
	assert.InDelta(t, exporttest.UsersSlow, point("tripswitch.slow_calls", users), 0)
	assert.InDelta(t, 1, point("tripswitch.transitions", users+",reason=consecutive_failures,to=open"), 0)
	assert.InDelta(t, 0.25, point("tripswitch.window.failure_ratio", users), 0)
	assert.InDelta(t, exporttest.PaymentsRetryAfter.Seconds(), point("tripswitch.retry_after", "name="+exporttest.Payments), 0)
	assert.InDelta(t, 1, point("tripswitch.half_open.probes_in_flight", "name="+exporttest.Inventory), 0)
	assert.NotContains(t, observed(t, got["tripswitch.window.failure_ratio"]).points, "name="+exporttest.Idle)

	// The next collection reads the breakers anew.
	clock.Advance(exporttest.PaymentsRetryAfter)
	got = collect(t, r)
	check(t, got, expect(t, reg.AllMetrics()))
	assert.InDelta(t, 1, observed(t, got["tripswitch.circuit.state"]).points["name="+exporttest.Payments+",state=half_open"], 0)
}

// Breakers added to the registry appear at the next collection; removed
// ones are no longer reported; after Close, none is.
func TestBreakersComeAndGoAndClose(t *testing.T) {
	reg := registry.New()
	r, mp := newReader(t)
	obs, err := cbotel.New(reg, cbotel.WithMeterProvider(mp))
	require.NoError(t, err)
	names := func() []string {
		got := collect(t, r)
		var ns []string
		for k := range observed(t, got["tripswitch.calls"]).points {
			if n, ok := strings.CutSuffix(k, ",outcome=success"); ok {
				ns = append(ns, strings.TrimPrefix(n, "name="))
			}
		}
		slices.Sort(ns)
		return ns
	}
	cfg := cb.Config{Clock: cbtest.NewClock()}
	_, err = registry.Get[int](reg, "a", cfg)
	require.NoError(t, err)
	assert.Equal(t, []string{"a"}, names())
	_, err = registry.Get[string](reg, "b", cfg)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, names())
	require.True(t, reg.Remove("a"))
	assert.Equal(t, []string{"b"}, names())

	require.NoError(t, obs.Close())
	require.NoError(t, obs.Close(), "a second Close does nothing")
	assert.Empty(t, collect(t, r), "no instrument reports once the callback is gone")
}

// The global MeterProvider is the default, as for every instrumentation
// library.
func TestGlobalProviderByDefault(t *testing.T) {
	obs, err := cbotel.New(registry.New(), nil)
	require.NoError(t, err)
	assert.NoError(t, obs.Close())
	assert.Panics(t, func() { _, _ = cbotel.New(nil) })
}

var errMeter = errors.New("meter refused")

// failingMeter refuses one kind of request, as a MeterProvider may.
type failingMeter struct {
	noop.Meter
	instrument, callback bool
}

func (m failingMeter) Float64ObservableGauge(name string, opts ...metric.Float64ObservableGaugeOption) (metric.Float64ObservableGauge, error) {
	if m.instrument {
		return nil, fmt.Errorf("%s: %w", name, errMeter)
	}
	return m.Meter.Float64ObservableGauge(name, opts...)
}

func (m failingMeter) RegisterCallback(f metric.Callback, insts ...metric.Observable) (metric.Registration, error) {
	if m.callback {
		return nil, errMeter
	}
	return m.Meter.RegisterCallback(f, insts...)
}

type failingProvider struct {
	noop.MeterProvider
	meter failingMeter
}

func (p failingProvider) Meter(string, ...metric.MeterOption) metric.Meter { return p.meter }

// New passes on the meter's errors, wrapped.
func TestMeterErrors(t *testing.T) {
	for _, m := range []failingMeter{{instrument: true}, {callback: true}} {
		obs, err := cbotel.New(registry.New(), cbotel.WithMeterProvider(failingProvider{meter: m}))
		require.ErrorIs(t, err, errMeter)
		assert.Nil(t, obs)
		assert.Contains(t, err.Error(), "cbotel: ")
	}
}
