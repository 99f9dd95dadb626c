package cbotel_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/cbotel"
	"github.com/tripswitch/tripswitch/registry"
)

// BenchmarkCollect measures one collection through the SDK (the callback
// and the SDK's aggregation) per breaker, at 10 and 1,000 breakers, with
// the SDK's cardinality cap lifted so that every breaker is aggregated.
//
//	go test -run '^$' -bench Collect -benchmem ./cbotel/
func BenchmarkCollect(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("breakers=%d", n), func(b *testing.B) {
			reg := registry.New()
			clock := cbtest.NewClock()
			errDown := errors.New("down")
			for i := range n {
				br, err := registry.Get[int](reg, fmt.Sprintf("dependency-%05d", i), cb.Config{Clock: clock})
				if err != nil {
					b.Fatal(err)
				}
				br.Execute(func() (int, error) { return 1, nil })
				br.Execute(func() (int, error) { return 0, errDown })
			}
			r := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r), sdkmetric.WithCardinalityLimit(0))
			defer func() { _ = mp.Shutdown(context.Background()) }()
			obs, err := cbotel.New(reg, cbotel.WithMeterProvider(mp))
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = obs.Close() }()
			var rm metricdata.ResourceMetrics
			b.ReportAllocs()
			for b.Loop() {
				if err := r.Collect(context.Background(), &rm); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/breaker")
		})
	}
}
