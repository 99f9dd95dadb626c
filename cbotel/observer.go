package cbotel

import (
	"context"
	"fmt"
	"math"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/internal/metricspec"
	"github.com/tripswitch/tripswitch/registry"
)

// ScopeName is the name of the Meter the instruments belong to, the
// import path of this package, as OpenTelemetry asks of instrumentation
// libraries. The Prometheus exporter shows it as the otel_scope_name
// label.
const ScopeName = "github.com/tripswitch/tripswitch/cbotel"

// Option configures New.
type Option func(*config)

type config struct {
	provider metric.MeterProvider
}

// WithMeterProvider sets the MeterProvider that makes the Meter; nil, the
// default, means the global one (otel.GetMeterProvider), as is the custom
// of instrumentation libraries.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.provider = mp }
}

// Observer reports the breakers of a registry through OpenTelemetry
// instruments until it is closed.
type Observer struct {
	reg       *registry.Registry
	ints      [metricspec.NumFamilies]metric.Int64Observable
	floats    [metricspec.NumFamilies]metric.Float64Observable
	callback  metric.Registration
	closeOnce sync.Once
	closeErr  error
	// attrs caches, by breaker name, the attribute options of its
	// observations (*breakerAttrs): making attribute sets anew for every
	// observation of every collection was most of the callback's own
	// allocations. Entries of names no longer registered are dropped at
	// the end of each collection.
	attrs sync.Map
}

// sampleKey identifies one observation of a breaker.
type sampleKey struct {
	id     metricspec.ID
	l1, l2 string
}

// breakerAttrs holds the attribute option of every observation of one
// breaker. It is made whole and never changed, so concurrent collections
// share it without a lock.
type breakerAttrs map[sampleKey]metric.MeasurementOption

// attrsFor returns the attribute options of the breaker named name.
func (o *Observer) attrsFor(name string) breakerAttrs {
	if v, ok := o.attrs.Load(name); ok {
		if a, ok := v.(breakerAttrs); ok {
			return a
		}
	}
	a := breakerAttrs{}
	// A snapshot with a window has every observation a breaker can have.
	metricspec.Each(&cb.Metrics{Calls: 1}, func(id metricspec.ID, _ float64, l1, l2 string) {
		a[sampleKey{id, l1, l2}] = attributesOf(name, id, l1, l2)
	})
	o.attrs.Store(name, a)
	return a
}

// attributesOf returns the attribute option of one observation.
func attributesOf(name string, id metricspec.ID, l1, l2 string) metric.MeasurementOption {
	f := &metricspec.Families[id]
	kv := []attribute.KeyValue{attribute.String(metricspec.NameLabel, name)}
	if len(f.Labels) > 0 {
		kv = append(kv, attribute.String(f.Labels[0], l1))
	}
	if len(f.Labels) > 1 {
		kv = append(kv, attribute.String(f.Labels[1], l2))
	}
	return metric.WithAttributeSet(attribute.NewSet(kv...))
}

// New creates the instruments on a Meter named ScopeName and registers one
// callback that observes every breaker of reg, which must not be nil, at
// each collection. It fails only if the MeterProvider does, with its error
// wrapped (errors.Is and errors.As see it). Close unregisters the callback.
func New(reg *registry.Registry, opts ...Option) (*Observer, error) {
	if reg == nil {
		panic("cbotel: New with a nil *registry.Registry")
	}
	var cfg config
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if cfg.provider == nil {
		cfg.provider = otel.GetMeterProvider()
	}
	meter := cfg.provider.Meter(ScopeName)

	o := &Observer{reg: reg}
	instruments := make([]metric.Observable, 0, metricspec.NumFamilies)
	for id := range metricspec.Families {
		f := &metricspec.Families[id]
		inst, err := o.instrument(meter, metricspec.ID(id), f)
		if err != nil {
			return nil, fmt.Errorf("cbotel: instrument %s: %w", f.OTelName, err)
		}
		instruments = append(instruments, inst)
	}
	registration, err := meter.RegisterCallback(o.observe, instruments...)
	if err != nil {
		return nil, fmt.Errorf("cbotel: register callback: %w", err)
	}
	o.callback = registration
	return o, nil
}

// instrument creates the asynchronous instrument of family f.
func (o *Observer) instrument(meter metric.Meter, id metricspec.ID, f *metricspec.Family) (metric.Observable, error) {
	desc, unit := metric.WithDescription(f.Help), metric.WithUnit(f.Unit)
	var err error
	switch {
	case f.Float && f.Kind == metricspec.Gauge:
		o.floats[id], err = meter.Float64ObservableGauge(f.OTelName, desc, unit)
		return o.floats[id], err
	case f.Float && f.Kind == metricspec.UpDownCounter:
		o.floats[id], err = meter.Float64ObservableUpDownCounter(f.OTelName, desc, unit)
		return o.floats[id], err
	case f.Float:
		o.floats[id], err = meter.Float64ObservableCounter(f.OTelName, desc, unit)
		return o.floats[id], err
	case f.Kind == metricspec.Gauge:
		o.ints[id], err = meter.Int64ObservableGauge(f.OTelName, desc, unit)
		return o.ints[id], err
	case f.Kind == metricspec.UpDownCounter:
		o.ints[id], err = meter.Int64ObservableUpDownCounter(f.OTelName, desc, unit)
		return o.ints[id], err
	default:
		o.ints[id], err = meter.Int64ObservableCounter(f.OTelName, desc, unit)
		return o.ints[id], err
	}
}

// observe is the callback: one snapshot of each breaker registered now.
func (o *Observer) observe(ctx context.Context, obs metric.Observer) error {
	for _, name := range o.reg.Names() {
		if err := ctx.Err(); err != nil {
			return err // the collection was given up: its results are not used
		}
		circuit, ok := o.reg.Lookup(name)
		if !ok {
			continue // removed since Names
		}
		m := circuit.Metrics()
		attrs := o.attrsFor(name)
		metricspec.Each(&m, func(id metricspec.ID, v float64, l1, l2 string) {
			opt, ok := attrs[sampleKey{id, l1, l2}]
			if !ok { // not among those Each gives a full snapshot: made here
				opt = attributesOf(name, id, l1, l2)
			}
			if metricspec.Families[id].Float {
				obs.ObserveFloat64(o.floats[id], v, opt)
			} else {
				obs.ObserveInt64(o.ints[id], toInt64(v), opt)
			}
		})
	}
	o.attrs.Range(func(k, _ any) bool {
		if name, _ := k.(string); !o.registered(name) {
			o.attrs.Delete(k)
		}
		return true
	})
	return nil
}

// registered reports whether reg holds a breaker named name.
func (o *Observer) registered(name string) bool {
	_, ok := o.reg.Lookup(name)
	return ok
}

// toInt64 converts a whole count, which metricspec passes as a float64,
// back to an integer; a count past what int64 holds (no breaker lives to
// make one) stops there.
func toInt64(v float64) int64 {
	if v >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

// Close unregisters the callback: later collections report no breaker.
// It returns the meter's error of the first call; later calls do nothing.
func (o *Observer) Close() error {
	o.closeOnce.Do(func() {
		if err := o.callback.Unregister(); err != nil {
			o.closeErr = fmt.Errorf("cbotel: unregister callback: %w", err)
		}
	})
	return o.closeErr
}
