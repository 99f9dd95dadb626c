package cbotel_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/cbotel"
	"github.com/tripswitch/tripswitch/internal/exporttest"
	"github.com/tripswitch/tripswitch/registry"
)

// Collections run concurrently with calls through the breakers, with
// breakers made and removed, under the race detector: each shows exactly
// one state per breaker, and no counter of a breaker that stays goes back.
// Once the traffic stops, a collection agrees with the breakers exactly.
func TestConcurrentCollectionsDuringTraffic(t *testing.T) {
	calls, minCollections, maxCollections := 20000, 40, 400
	if testing.Short() {
		calls, minCollections, maxCollections = 3000, 10, 100
	}
	var collections atomic.Int64
	reg := registry.New()
	clock := cbtest.NewClock()
	r, mp := newReader(t)
	obs, err := cbotel.New(reg, cbotel.WithMeterProvider(mp))
	require.NoError(t, err)
	defer func() { assert.NoError(t, obs.Close()) }()
	done := exporttest.Traffic(reg, clock, calls, func() bool { return collections.Load() >= int64(minCollections) })

	var collectors sync.WaitGroup
	for range 2 {
		collectors.Go(func() {
			last := map[string]int64{}
			for n := 0; n < maxCollections; n++ {
				select {
				case <-done:
					if n > 0 {
						return
					}
				default:
				}
				var rm metricdata.ResourceMetrics
				if !assert.NoError(t, r.Collect(context.Background(), &rm)) {
					return
				}
				collections.Add(1)
				checkLive(t, &rm, last)
			}
		})
	}
	collectors.Wait()
	<-done
	t.Logf("%d collections during the traffic", collections.Load())
	check(t, collect(t, r), expect(t, reg.AllMetrics()))
}

func checkLive(t *testing.T, rm *metricdata.ResourceMetrics, last map[string]int64) {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Gauge[int64]:
				if m.Name != "tripswitch.circuit.state" {
					continue
				}
				perBreaker := map[string]int64{}
				for _, p := range d.DataPoints {
					name, _ := p.Attributes.Value("name")
					perBreaker[name.AsString()] += p.Value
				}
				for name, sum := range perBreaker {
					assert.Equal(t, int64(1), sum, "%s is in exactly one state", name)
				}
			case metricdata.Sum[int64]:
				if !d.IsMonotonic {
					continue
				}
				for _, p := range d.DataPoints {
					name, _ := p.Attributes.Value("name")
					if !exporttest.Stable(name.AsString()) {
						continue // churned breakers start over
					}
					key := m.Name + attrKey(p.Attributes)
					assert.GreaterOrEqual(t, p.Value, last[key], "%s went back", key)
					last[key] = p.Value
				}
			}
		}
	}
}
